"""A simulated IEEE 11073 SDC patient monitor: an sdc11073 provider whose metrics follow the
physiology scenarios (simulators/physiology.py through MonitorModel).

Its MDIB (simulators/data/sdc_monitor_mdib.xml, shipped as package data) holds HR, SpO2 and
pulse rate, NIBP sys/dia/mean, EtCO2, RR and body temperature with their MDC codes, and the
monitor's own "SpO2 low" alert condition (present while SpO2 is below `spo2_low`). It is
found by WS-Discovery (its EPR and location scopes) or reached at its address; with `port`
it listens on a fixed port, so it comes back at the same address after a restart.

sdc11073 is thread-based: `start()`, `publish()` and `stop()` block briefly; from asyncio
code call them through `asyncio.to_thread` (as `run()` does).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from simulators.clock import SimClock
from simulators.monitor_model import MonitorModel

log = logging.getLogger(__name__)

MDIB_FILE = "sdc_monitor_mdib.xml"
SPO2_LOW_HANDLE = "ac.spo2.low"

# The monitor's numerics (MonitorModel's names) -> the metric handles in the MDIB.
HANDLES: dict[str, tuple[str, ...]] = {
    "hr": ("hr", "pr"),
    "spo2": ("spo2",),
    "nibp_sys": ("nibp.sys",),
    "nibp_dia": ("nibp.dia",),
    "nibp_map": ("nibp.mean",),
    "rr": ("rr",),
    "etco2": ("etco2",),
    "temp": ("temp",),
}


def mdib_path() -> Path:
    """The simulator's MDIB file (package data)."""
    return Path(str(resources.files("simulators").joinpath("data", MDIB_FILE)))


def _http_server(address: str, port: int, ssl_context: Any) -> Any:
    """sdc11073's provider HTTP server, on a fixed port (the library always asks the OS for
    one, so a restarted provider would move)."""
    from sdc11073.httpserver import compression
    from sdc11073.httpserver.httpserverimpl import HttpServerThreadBase, _ThreadingHTTPServer

    class Reusable(_ThreadingHTTPServer):
        allow_reuse_address = True  # come back on the same port at once after a restart

    class FixedPortServer(HttpServerThreadBase):
        def run(self) -> None:
            self._stop_requested = False
            httpd: Any = Reusable(
                self.logger, (self._my_ipaddress, port), self.chunk_size, self.supported_encodings
            )
            context: Any = self._ssl_context  # an ssl.SSLContext (the server side's)
            if context is not None:
                httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
            self.httpd = httpd
            self.started_evt.set()
            httpd.serve_forever()

    server = FixedPortServer(
        address,
        ssl_context.server_context if ssl_context is not None else None,
        compression.CompressionHandler.available_encodings[:],
        logging.getLogger("sdc.device.httpsrv"),
    )
    server.start()
    if not server.started_evt.wait(10):
        raise RuntimeError(f"SDC monitor: could not listen on {address}:{port}")
    return server


class SdcMonitor:
    """One simulated SDC monitor (provider)."""

    def __init__(
        self,
        *,
        address: str = "127.0.0.1",
        port: int = 0,
        epr: str | None = None,
        location: Mapping[str, str] | None = None,
        tls_folder: Path | None = None,
        spo2_low: float = 90.0,
        name: str = "procsuite SDC monitor",
    ) -> None:
        self.bind_address = address
        self.port = port
        self.epr = epr or uuid.uuid4().urn
        self.location = dict(location or {})
        self.tls_folder = tls_folder
        self.spo2_low = spo2_low
        self.name = name
        self.published = 0
        self._provider: Any = None
        self._discovery: Any = None
        self._http: Any = None
        self._alert_on = False

    @property
    def serving(self) -> bool:
        """Started and not stopped."""
        return self._provider is not None

    @property
    def xaddr(self) -> str:
        """The provider's transport address (what a consumer configured by address uses)."""
        return str(self._provider.get_xaddrs()[0])

    def start(self) -> None:
        """Publish the provider (discovery + HTTP); blocks until it serves."""
        from sdc11073.certloader import mk_ssl_contexts_from_folder
        from sdc11073.location import SdcLocation
        from sdc11073.mdib import ProviderMdib
        from sdc11073.provider import SdcProvider
        from sdc11073.wsdiscovery import WSDiscovery
        from sdc11073.xml_types.dpws_types import ThisDeviceType, ThisModelType

        ssl_context = mk_ssl_contexts_from_folder(self.tls_folder) if self.tls_folder else None
        self._discovery = WSDiscovery(self.bind_address)
        self._discovery.start()
        mdib = ProviderMdib.from_mdib_file(str(mdib_path()))
        model = ThisModelType(
            manufacturer="procsuite", manufacturer_url="https://example.invalid/procsuite",
            model_name="SimMonitor", model_number="1", model_url="https://example.invalid/sim",
            presentation_url="https://example.invalid/sim",
        )  # fmt: skip
        device = ThisDeviceType(friendly_name=self.name, firmware_version="1", serial_number="1")
        self._provider = SdcProvider(
            self._discovery, model, device, mdib,
            epr=self.epr, ssl_context_container=ssl_context,
        )  # fmt: skip
        shared = None
        if self.port:
            self._http = shared = _http_server(self.bind_address, self.port, ssl_context)
        self._provider.start_all(start_rtsample_loop=False, shared_http_server=shared)
        if self.location:
            self._provider.set_location(SdcLocation(**self.location))
        log.info("SDC monitor %s serving at %s", self.epr, self.xaddr)

    def stop(self) -> None:
        """Stop serving (subscriptions are ended) and leave discovery."""
        if self._provider is not None:
            self._provider.stop_all()
            # sdc11073 stops its notification loop's thread but never closes the loop.
            pool = getattr(self._provider, "_soap_client_pool", None)
            thread = getattr(pool, "async_loop_subscr_mgr", None)
            if thread is not None and not thread.is_alive():
                thread.loop.close()
            self._provider = None
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._discovery is not None:
            self._discovery.stop()
            self._discovery = None

    def publish(self, values: Mapping[str, float | None], *, at: datetime) -> None:
        """Write one set of numerics (MonitorModel's names; None: no valid reading) measured
        at `at`, and the SpO2-low alert condition, in one MDIB transaction each."""
        from sdc11073.xml_types import pm_types

        mdib = self._provider.mdib
        stamp = at.timestamp()
        # Our own determination time: the simulated clock may run faster than the real one.
        with mdib.metric_state_transaction(set_determination_time=False) as tr:
            for name, value in values.items():
                for handle in HANDLES.get(name, ()):
                    state = tr.get_state(handle)
                    if state.MetricValue is None:
                        state.mk_metric_value()
                    mv = state.MetricValue
                    mv.DeterminationTime = stamp
                    if value is None:
                        mv.Value = None
                        mv.MetricQuality.Validity = pm_types.MeasurementValidity.INVALID
                    else:
                        mv.Value = Decimal(str(value))
                        mv.MetricQuality.Validity = pm_types.MeasurementValidity.VALID
        self.published += 1
        spo2 = values.get("spo2")
        if "spo2" in values:
            self.set_alert(spo2 is not None and spo2 < self.spo2_low)

    def new_sequence(self) -> None:
        """Start a new MDIB sequence (as a monitor does after rebuilding its MDIB): consumers
        must read the MDIB again."""
        self._provider.mdib.sequence_id = uuid.uuid4().urn

    def set_alert(self, present: bool) -> None:
        """The monitor's own SpO2-low alert condition on or off."""
        if present == self._alert_on:
            return
        self._alert_on = present
        with self._provider.mdib.alert_state_transaction() as tr:
            state = tr.get_state(SPO2_LOW_HANDLE)
            state.Presence = present

    async def run(
        self, model: MonitorModel, *, clock: SimClock, duration_s: float | None, stop: asyncio.Event
    ) -> int:
        """Publish the model's ticks on the simulated clock until `stop` (or `duration_s`);
        returns the number published."""
        await asyncio.to_thread(self.start)
        try:
            n = 0
            while not stop.is_set():
                tick = model.tick(n)
                if duration_s is not None and tick.t_s > duration_s:
                    break
                await clock.sleep_until_elapsed(tick.t_s)
                if tick.message is not None:
                    values = {
                        k: (float(v) if v is not None else None)
                        for k, v in tick.message.values.items()
                    }
                    await asyncio.to_thread(self.publish, values, at=tick.message.ts)
                n += 1
        finally:
            await asyncio.to_thread(self.stop)
        return self.published
