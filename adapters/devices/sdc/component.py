"""The SDC consumer's runner: one ProviderLink thread per configured provider, their events
turned into samples for the validated sample path, device alarms, and online/offline status.

A provider is shown offline (the `device_offline` technical alarm, through the sample path's
device status) when its connection breaks after it was up, or when nothing was heard from it
(no report, no answered probe) for `offline_after_s`; it is online again with its next MDIB.
Device alert conditions become device alarms with the monitor's priority (kind
`device_alert[<handle>]`), beside procsuite's own alarms, which they never silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from adapters.devices.sdc import codec
from adapters.devices.sdc.link import (
    Alerts,
    Alive,
    Connected,
    LinkEvent,
    Lost,
    Metrics,
    ProviderLink,
)
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.domain.samples import DecodedVitals
from suite.settings_sdc import SdcProviderSettings, SdcSettings

log = logging.getLogger(__name__)

SOURCE = "sdc"
QUEUE_FULL = "flooding"  # the sample path's kind for "more than can be taken; discarded"


class SampleSink(Protocol):
    """The part of the validated sample path (suite/app/sample_intake.py) SDC uses."""

    def serves(self, room: str) -> bool: ...

    def unknown_room(self, room: str) -> None: ...

    def accept(self, decoded: DecodedVitals, *, source: str = ...) -> None: ...

    def fault(
        self, room: str, device: str, kind: str, detail: str, param: Param | None = None
    ) -> None: ...

    def device_status(self, room: str, device: str, *, online: bool | None) -> None: ...


class DeviceAlarms(Protocol):
    """The part of the alarm service device alarms use (suite/app/alarm_service.py)."""

    def device_alarm(
        self, room: str, device: str, *, kind: str, message: str, priority: Priority
    ) -> None: ...

    def clear_technical(self, room: str, device: str, *, kind: str) -> None: ...


@dataclass(slots=True)
class ProviderState:
    """What the runner knows of one provider (shown in the service status)."""

    spec: SdcProviderSettings
    started: float
    room: str | None = None
    online: bool | None = None
    last_heard: float | None = None
    address: str | None = None
    sequence_id: str | None = None
    last_error: str | None = None
    metrics: dict[str, codec.MetricDescriptor] = field(default_factory=dict)
    used: frozenset[str] = frozenset()
    alerts: dict[str, codec.AlertDescriptor] = field(default_factory=dict)
    alarms_on: set[str] = field(default_factory=set)
    unknown_codes: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    reloads: int = 0
    updates: int = 0
    dropped: int = 0


class SdcConsumer:
    """Component `sdc`: reads the configured SDC providers until cancelled."""

    name = "sdc"

    def __init__(
        self,
        *,
        settings: SdcSettings,
        rooms: Sequence[str],
        samples: SampleSink,
        alarms: DeviceAlarms,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        queue_size: int = 10_000,
    ) -> None:
        self.settings = settings
        self.rooms = list(rooms)
        self.samples = samples
        self.alarms = alarms
        self.clock = clock
        self.monotonic = monotonic
        self.queue_size = queue_size
        self.providers: dict[str, ProviderState] = {}
        self._queue: asyncio.Queue[tuple[str, LinkEvent]] | None = None

    # ---- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(self.queue_size)
        ssl_context = await asyncio.to_thread(self._ssl_context)
        links: list[ProviderLink] = []
        now = self.monotonic()
        for spec in self.settings.providers:
            if spec.room is not None and spec.room not in self.rooms:
                log.info("sdc: %s is in room %s, not served here", spec.device, spec.room)
                continue
            self.providers[spec.device] = ProviderState(spec, started=now)
            links.append(
                ProviderLink(
                    spec,
                    settings=self.settings,
                    post=self._poster(loop, spec.device),
                    ssl_context=ssl_context,
                )  # fmt: skip
            )
        for link in links:
            link.start()
        check_s = min(self.settings.offline_after_s / 4, 1.0)
        try:
            while True:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for loses a cancellation
                # that arrives as the get completes, and this loop then never ends (a stop hung).
                try:
                    async with asyncio.timeout(check_s):
                        device, event = await self._queue.get()
                except TimeoutError:
                    pass
                else:
                    self.handle(device, event)
                self.check_offline()
        finally:
            await asyncio.gather(*(asyncio.to_thread(link.stop) for link in links))

    def _ssl_context(self) -> Any:
        folder = self.settings.tls_folder
        if folder is None:
            return None
        from sdc11073.certloader import mk_ssl_contexts_from_folder

        return mk_ssl_contexts_from_folder(folder)

    def _poster(self, loop: asyncio.AbstractEventLoop, device: str) -> Callable[[LinkEvent], None]:
        def post(event: LinkEvent) -> None:
            # RuntimeError: the loop closed while the thread was ending; nobody is left to tell.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._offer, device, event)

        return post

    def _offer(self, device: str, event: LinkEvent) -> None:
        assert self._queue is not None
        try:
            self._queue.put_nowait((device, event))
        except asyncio.QueueFull:
            state = self.providers[device]
            state.dropped += 1
            if state.room is not None:
                detail = f"SDC event queue full ({self.queue_size}); report discarded"
                self.samples.fault(state.room, device, QUEUE_FULL, detail)

    # ---- events (on the loop) ---------------------------------------------------------------

    def handle(self, device: str, event: LinkEvent) -> None:
        """Apply one event of provider `device`'s thread."""
        state = self.providers[device]
        if isinstance(event, Lost):
            state.last_error = event.reason
            if state.online:
                self._set_online(state, False)
            return
        state.last_heard = self.monotonic()
        if isinstance(event, Connected):
            self._connected(state, event)
        elif isinstance(event, Metrics):
            self._metrics(state, event.readings, event.seq)
        elif isinstance(event, Alerts):
            self._alerts(state, event.states, reconcile=False)
        elif isinstance(event, Alive) and state.online is False and state.room is not None:
            self._set_online(state, True)

    def check_offline(self) -> None:
        """Show offline every provider not heard from for `offline_after_s`."""
        now = self.monotonic()
        for state in self.providers.values():
            heard = state.last_heard if state.last_heard is not None else state.started
            if state.online is not False and now - heard >= self.settings.offline_after_s:
                self._set_online(state, False)

    def _connected(self, state: ProviderState, event: Connected) -> None:
        spec = state.spec
        room = spec.room or codec.room_of(event.location, self.rooms)
        if room is None:
            where = ",".join(f"{k}={v}" for k, v in event.location.items()) or "no location"
            state.last_error = f"no room for location {where}"
            self.samples.unknown_room(where)  # counted and noted
            return
        if state.room is not None and state.room != room:
            self.samples.device_status(state.room, spec.device, online=False)
        state.room = room
        if not self.samples.serves(room):
            state.last_error = f"room {room} is not served by this instance"
            return
        state.address, state.sequence_id = event.address, event.sequence_id
        state.metrics, state.alerts = event.metrics, event.alerts
        state.used = codec.primary_handles(event.metrics)
        state.last_error = None
        if event.reloaded:
            state.reloads += 1
        else:
            state.connects += 1
        log.info(
            "sdc: %s connected at %s (room %s, %d metrics, %d alert conditions)",
            spec.device, event.address, room, len(event.metrics), len(event.alerts),
        )  # fmt: skip
        self._set_online(state, True)
        self._metrics(state, event.readings, event.seq)
        self._alerts(state, event.alert_states, reconcile=True)

    def _set_online(self, state: ProviderState, online: bool) -> None:
        state.online = online
        if state.room is None:
            if not online:
                state.online = False  # remembered; shown once a room is known
            return
        if not online:
            log.warning(
                "sdc: %s offline (%s)", state.spec.device, state.last_error or "not heard from"
            )
        self.samples.device_status(state.room, state.spec.device, online=online)

    def _metrics(
        self, state: ProviderState, readings: tuple[codec.MetricReading, ...], seq: int | None
    ) -> None:
        room = state.room
        if room is None or not state.online:
            return
        decoded = codec.decode_metrics(
            room, state.spec.device, readings, state.metrics, used=state.used,
            received_at=self.clock(), seq=seq,
        )  # fmt: skip
        for code in decoded.unknown_codes:
            state.unknown_codes[code] += 1
            if state.unknown_codes[code] == 1:
                log.info("sdc: %s: MDC code %s is not read by procsuite", state.spec.device, code)
        for sample in decoded.samples:
            state.updates += 1
            self.samples.accept(sample, source=SOURCE)

    def _alerts(
        self, state: ProviderState, readings: tuple[codec.AlertReading, ...], *, reconcile: bool
    ) -> None:
        room = state.room
        if room is None or not state.online:
            return
        device = state.spec.device
        seen = set()
        for reading in readings:
            desc = state.alerts.get(reading.handle)
            if desc is None:
                continue
            seen.add(reading.handle)
            kind = codec.alert_kind(reading.handle)
            if codec.alert_is_on(reading):
                if reading.handle not in state.alarms_on:
                    state.alarms_on.add(reading.handle)
                    self.alarms.device_alarm(
                        room, device, kind=kind, message=codec.alert_message(device, desc),
                        priority=codec.alert_priority(desc, reading),
                    )  # fmt: skip
            elif reading.handle in state.alarms_on:
                state.alarms_on.discard(reading.handle)
                self.alarms.clear_technical(room, device, kind=kind)
        if reconcile:  # a fresh MDIB: conditions it no longer has are over
            for handle in list(state.alarms_on - seen):
                state.alarms_on.discard(handle)
                self.alarms.clear_technical(room, device, kind=codec.alert_kind(handle))

    # ---- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Per provider: room, online, address, sequence id, counters, last error."""
        return {
            device: {
                "room": s.room,
                "online": s.online,
                "address": s.address,
                "sequence_id": s.sequence_id,
                "connects": s.connects,
                "reloads": s.reloads,
                "updates": s.updates,
                "dropped": s.dropped,
                "unknown_codes": dict(s.unknown_codes),
                "device_alarms": sorted(s.alarms_on),
                "last_error": s.last_error,
            }
            for device, s in self.providers.items()
        }
