"""One SDC provider's connection, on its own thread: find it, connect, subscribe, report.

sdc11073 is thread-based: its reports arrive on library threads. Everything this module
learns is copied into the plain values of codec.py and handed to the event loop through
`post` (which the runner binds to `loop.call_soon_threadsafe`); no sdc11073 object leaves
this module. The thread keeps the connection alive: it asks the provider for a state every
`probe_interval_s`, reloads the MDIB when the provider's sequence id changes (it restarted
or rebuilt its MDIB), and after any failure connects again with a doubling back-off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.devices.sdc import codec
from suite.settings_sdc import SdcProviderSettings, SdcSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Connected:
    """The MDIB was read (first connection, reconnection, or reload after a sequence-id
    change): its metrics and alert conditions and their current states."""

    address: str
    sequence_id: str
    location: dict[str, str]
    metrics: dict[str, codec.MetricDescriptor]
    alerts: dict[str, codec.AlertDescriptor]
    readings: tuple[codec.MetricReading, ...]
    alert_states: tuple[codec.AlertReading, ...]
    seq: int | None
    reloaded: bool = False


@dataclass(frozen=True, slots=True)
class Metrics:
    readings: tuple[codec.MetricReading, ...]
    seq: int | None


@dataclass(frozen=True, slots=True)
class Alerts:
    states: tuple[codec.AlertReading, ...]


@dataclass(frozen=True, slots=True)
class Alive:
    """The provider answered a probe."""


@dataclass(frozen=True, slots=True)
class Lost:
    """No connection (never made, or broken); the thread will try again."""

    reason: str


LinkEvent = Connected | Metrics | Alerts | Alive | Lost


class LinkLost(Exception):
    """The provider stopped answering or ended our subscription."""


def _text(value: Any) -> str:
    """A code or text from the MDIB without invisible characters (one published example MDIB
    carries a U+202C inside a code)."""
    raw = "" if value is None else str(getattr(value, "value", value))
    return "".join(ch for ch in raw if ch.isprintable()).strip()


class ProviderLink:
    """The connection to one provider, run by `start()` on a thread until `stop()`."""

    def __init__(
        self,
        spec: SdcProviderSettings,
        *,
        settings: SdcSettings,
        post: Callable[[LinkEvent], None],
        ssl_context: Any = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.post = post
        self.ssl_context = ssl_context
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._discovery: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"sdc-{self.spec.device}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Ask the thread to end and wait for it (blocking: call it via asyncio.to_thread)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # ---- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        s = self.settings
        delay = s.reconnect_min_s
        try:
            while not self._stop.is_set():
                try:
                    address, location = self._resolve()
                    self._session(address, location)
                    delay = s.reconnect_min_s  # it was up: start the back-off again
                except Exception as exc:  # any failure of one attempt: report, wait, retry
                    if self._stop.is_set():
                        break
                    self.post(Lost(f"{type(exc).__name__}: {exc}"))
                    log.info(
                        "sdc: %s: %s; next attempt in %.1f s", self.spec.device, exc, delay,
                        exc_info=not isinstance(exc, LinkLost | OSError),
                    )  # fmt: skip
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, s.reconnect_max_s)
        finally:
            if self._discovery is not None:
                self._discovery.stop()

    def _resolve(self) -> tuple[str, dict[str, str]]:
        """The provider's address (configured, or found by discovery) and its location."""
        if self.spec.address:
            return self.spec.address, {}
        from sdc11073.definitions_sdc import SdcV1Definitions
        from sdc11073.wsdiscovery import WSDiscovery

        if self._discovery is None:
            self._discovery = WSDiscovery(self.settings.discovery_address)
            self._discovery.start()
        found = self._discovery.search_services(
            types=SdcV1Definitions.MedicalDeviceTypesFilter,
            timeout=self.settings.discovery_timeout_s,
        )
        for service in found:
            if self.spec.epr and service.epr != self.spec.epr:
                continue
            location = codec.location_of(service.scopes.text if service.scopes else [])
            if not codec.location_matches(self.spec.location, location):
                continue
            if service.x_addrs:
                return service.x_addrs[0], location
        wanted = self.spec.epr or self.spec.location
        raise LinkLost(f"no SDC provider {wanted} found by discovery")

    def _session(self, address: str, location: dict[str, str]) -> None:
        from sdc11073 import observableproperties
        from sdc11073.consumer.consumerimpl import SdcConsumer
        from sdc11073.definitions_sdc import SdcV1Definitions
        from sdc11073.mdib import ConsumerMdib
        from sdc11073.xml_types.actions import periodic_actions

        s = self.settings
        consumer = SdcConsumer(
            address,
            sdc_definitions=SdcV1Definitions,
            ssl_context_container=self.ssl_context,
            socket_timeout=s.socket_timeout_s,
            force_ssl_connect=self.ssl_context is not None,
        )
        healthy = False
        try:
            consumer.start_all(
                not_subscribed_actions=periodic_actions, fixed_renew_interval=s.renew_s
            )
            mdib: Any = ConsumerMdib(consumer)
            mdib.init_mdib()
            sequence_changed = threading.Event()

            # The library sets these to None when it clears the MDIB (reload_all).
            def on_metrics(states: dict[str, Any] | None) -> None:
                if not states:
                    return
                readings = tuple(r for r in map(_metric_reading, states.values()) if r)
                if readings:
                    self.post(Metrics(readings, mdib.mdib_version))

            def on_alerts(states: dict[str, Any] | None) -> None:
                if not states:
                    return
                found = tuple(r for r in map(_alert_reading, states.values()) if r)
                if found:
                    self.post(Alerts(found))

            def on_sequence(_: object) -> None:
                sequence_changed.set()

            bind: Any = observableproperties.strongbind
            bind(
                mdib,
                metrics_by_handle=on_metrics,
                alert_by_handle=on_alerts,
                sequence_or_instance_id_changed_event=on_sequence,
            )
            self.post(self._snapshot(mdib, address, location or _mdib_location(mdib)))
            healthy = True
            probe = _probe_handle(mdib)
            get: Any = consumer.client("Get")
            while not self._stop.wait(s.probe_interval_s):
                if sequence_changed.is_set():
                    sequence_changed.clear()
                    log.info("sdc: %s changed its MDIB sequence id; reloading", self.spec.device)
                    mdib.reload_all()
                    self.post(self._snapshot(mdib, address, location, reloaded=True))
                    probe = _probe_handle(mdib)
                get.get_md_state([probe] if probe else None)
                if not consumer.is_connected:
                    raise LinkLost("the provider ended the subscription")
                self.post(Alive())
        except Exception:
            healthy = False
            raise
        finally:
            # Unsubscribing asks the provider: only when it still answers.
            try:
                consumer.stop_all(unsubscribe=healthy and self._stop.is_set())
            except Exception as exc:  # closing a dead connection; nothing left to do
                log.debug("sdc: %s: stop: %s", self.spec.device, exc)

    def _snapshot(
        self, mdib: Any, address: str, location: dict[str, str], *, reloaded: bool = False
    ) -> Connected:
        from sdc11073.xml_types import pm_qnames as pm

        metrics: dict[str, codec.MetricDescriptor] = {}
        for d in mdib.descriptions.NODETYPE.get(pm.NumericMetricDescriptor, []):
            code = _text(d.Type.Code) if d.Type is not None else ""
            unit = _text(d.Unit.Code) if d.Unit is not None else None
            metrics[d.Handle] = codec.MetricDescriptor(d.Handle, code, unit)
        alerts: dict[str, codec.AlertDescriptor] = {}
        for node in (pm.AlertConditionDescriptor, pm.LimitAlertConditionDescriptor):
            for d in mdib.descriptions.NODETYPE.get(node, []):
                text = ""
                if d.Type is not None and d.Type.ConceptDescription:
                    text = _text(d.Type.ConceptDescription[0].text)
                code = _text(d.Type.Code) if d.Type is not None else ""
                alerts[d.Handle] = codec.AlertDescriptor(
                    d.Handle, code, text, _text(d.Kind), _text(d.Priority)
                )
        readings = []
        for handle in metrics:
            state = mdib.states.descriptor_handle.get_one(handle, allow_none=True)
            reading = _metric_reading(state) if state is not None else None
            if reading is not None:
                readings.append(reading)
        alert_states = []
        for handle in alerts:
            state = mdib.states.descriptor_handle.get_one(handle, allow_none=True)
            found = _alert_reading(state) if state is not None else None
            if found is not None:
                alert_states.append(found)
        return Connected(
            address=address,
            sequence_id=str(mdib.sequence_id),
            location=location,
            metrics=metrics,
            alerts=alerts,
            readings=tuple(readings),
            alert_states=tuple(alert_states),
            seq=mdib.mdib_version,
            reloaded=reloaded,
        )


def _metric_reading(state: Any) -> codec.MetricReading | None:
    node = getattr(state, "NODETYPE", None)
    if getattr(node, "localname", None) != "NumericMetricState":
        return None  # strings, enumerations, waveforms: not read
    metric_value = state.MetricValue
    if metric_value is None:
        return None  # never measured: nothing to report (not a probe off)
    value = metric_value.Value
    quality = metric_value.MetricQuality
    return codec.MetricReading(
        state.DescriptorHandle,
        float(value) if value is not None else None,
        _text(quality.Validity) if quality is not None else None,
        codec.timestamp(metric_value.DeterminationTime),
    )


def _alert_reading(state: Any) -> codec.AlertReading | None:
    if not getattr(state, "is_alert_condition", False):
        return None
    return codec.AlertReading(
        state.DescriptorHandle,
        present=bool(state.Presence),
        active=_text(state.ActivationState) == "On",
        priority=_text(state.ActualPriority) or None,
    )


def _mdib_location(mdib: Any) -> dict[str, str]:
    """The associated location context of the provider, as discovery scope components."""
    from sdc11073.xml_types import pm_qnames as pm

    for state in mdib.context_states.NODETYPE.get(pm.LocationContextState, []):
        if _text(state.ContextAssociation) != "Assoc" or state.LocationDetail is None:
            continue
        d = state.LocationDetail
        pairs = {
            "fac": d.Facility, "bldng": d.Building, "flr": d.Floor,
            "poc": d.PoC, "rm": d.Room, "bed": d.Bed,
        }  # fmt: skip
        return {k: v for k, v in pairs.items() if v}
    return {}


def _probe_handle(mdib: Any) -> str | None:
    """A small state to ask for as the liveness probe: the first MDS."""
    from sdc11073.xml_types import pm_qnames as pm

    for d in mdib.descriptions.NODETYPE.get(pm.MdsDescriptor, []):
        return str(d.Handle)
    return None
