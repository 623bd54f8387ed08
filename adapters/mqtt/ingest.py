"""From MQTT messages to the alarm engine and the vitals store, with every bad input handled.

Bad input never stops ingest. Each kind (codec.py's kinds, plus `duplicate`, `out_of_order`,
`unknown_room`, `store_overflow`) is counted per room, device and kind (shown in the room
state and the service status), logged once per device and kind, and, where the nurse must
know that readings are being thrown away, raised as a technical alarm on the room
("SpO2 values implausible on monitor mon-3"), cleared after `fault_clear_s` without it.

Order: with `seq`, a repeated seq is a duplicate and a lower one out of order, unless the
device time moved on (the device restarted its counter); without `seq`, the device time
decides. Duplicates are normal after a QoS 1 redelivery: dropped and counted, not alarmed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters.mqtt import codec
from suite.alarm_service import AlarmService
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.domain.bounds import DEVICE_TIME_WINDOW, OutOfRange, time_near
from suite.store.vitals import sample_row
from suite.vitals_service import VitalsRecorder

log = logging.getLogger(__name__)

DUPLICATE = "duplicate"
OUT_OF_ORDER = "out_of_order"
UNKNOWN_ROOM = "unknown_room"
STORE_OVERFLOW = "store_overflow"
FLOODING = "flooding"
BURST_FACTOR = 10  # messages a real second beyond which they are dropped unread, x the rate

# Faults a nurse must hear about, because readings of that monitor are being discarded.
# (Implausible values go to the engine, which raises and ends "implausible_<param>" itself.)
# The technical alarm's kind puts the parameter first ("etco2_wrong_unit"), so only this
# adapter ends it, after `fault_clear_s` without the fault, not the next valid reading.
ALARMED = {
    FLOODING: "Monitor {device} sends far more messages than a monitor does; the excess is"
    " discarded",
    codec.OVERSIZE: "Monitor {device} sends oversized messages; they are discarded",
    codec.MALFORMED: "Monitor {device} sends unreadable data; it is discarded",
    codec.BAD_VALUE: "{label} readings unreadable on monitor {device}",
    codec.WRONG_UNIT: "{label} in a wrong unit on monitor {device}; values discarded",
    codec.OUT_OF_RANGE: "Monitor {device} sends impossible times or sequence numbers; they are"
    " discarded",
    STORE_OVERFLOW: "Vitals of this room are not being stored (store falling behind)",
}
_TECH_KIND = {codec.OVERSIZE: "oversize_payload", codec.MALFORMED: "malformed_payload"}


@dataclass(slots=True)
class Device:
    online: bool | None = None
    last_at: datetime | None = None  # device time of the last accepted sample
    last_received: datetime | None = None
    last_seq: int | None = None
    samples: int = 0
    window: int = -1  # the second (monotonic) whose messages `in_window` counts
    in_window: int = 0
    device_window: int = -1  # the second of device time whose samples `in_device_window` counts
    in_device_window: int = 0


class Ingest:
    def __init__(
        self,
        *,
        rooms: Sequence[str],
        alarms: AlarmService,
        recorder: VitalsRecorder,
        clock: Callable[[], datetime],
        max_payload_bytes: int = 65_536,
        fault_clear_s: float = 30.0,
        on_change: Callable[[str], None] | None = None,
        elsewhere: Callable[[str], bool] = lambda room: False,
        max_device_rate: int = 100,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_device_rate = max_device_rate
        self.monotonic = monotonic
        self.rooms = frozenset(rooms)
        self.elsewhere = elsewhere  # is the room served by another instance?
        self.other_instances: Counter[str] = Counter()
        self.alarms = alarms
        self.recorder = recorder
        self.clock = clock
        self.max_payload_bytes = max_payload_bytes
        self.fault_clear_s = fault_clear_s
        self.on_change = on_change or (lambda room: None)
        self.devices: dict[tuple[str, str], Device] = {}
        self.latest: dict[str, dict[Param, tuple[float | None, datetime, str]]] = {}
        self.faults: dict[tuple[str, str], Counter[str]] = {}
        self.totals: Counter[str] = Counter()
        self.unknown_rooms: Counter[str] = Counter()
        self.received = 0
        self.accepted = 0
        self._logged: set[tuple[str, str, str]] = set()
        self._alarmed: dict[tuple[str, str, str], datetime] = {}  # tech kind -> last seen
        recorder.on_overflow = self._store_overflow

    # ---- vitals ---------------------------------------------------------------------------

    def vitals(self, room: str, device: str, payload: bytes) -> None:
        self.received += 1
        if room not in self.rooms:
            self._unknown_room(room)
            return
        dev = self.devices.get((room, device))
        if dev is None:
            dev = self.devices[(room, device)] = Device()
        if self._bursting(dev):
            limit = self.max_device_rate * BURST_FACTOR
            self._fault(room, device, FLOODING, f"over {limit} messages a second", None)
            return
        try:
            decoded = codec.decode_vitals(room, device, payload, max_bytes=self.max_payload_bytes)
        except codec.PayloadError as exc:
            self._fault(room, device, exc.kind, exc.message, None)
            return
        sample = decoded.sample
        try:  # days off the service clock is not a skewed clock but garbage (bounds.py)
            time_near(sample.at, now=self.clock(), window=DEVICE_TIME_WINDOW, where="ts")
        except OutOfRange as exc:
            self._fault(room, device, codec.OUT_OF_RANGE, exc.message, None)
            return
        if self._too_dense(dev, sample.at):
            detail = f"over {self.max_device_rate} samples per second of device time"
            self._fault(room, device, FLOODING, detail, None)
            return
        order = self._order(dev, sample.seq, sample.at)
        if order is not None:  # counted as a repeat only, whatever else is wrong with it
            self._fault(room, device, order, f"seq {sample.seq} at {codec.iso(sample.at)}", None)
            return
        for problem in decoded.problems:
            self._fault(room, device, problem.kind, problem.detail, problem.param)
        now = self.clock()
        dev.last_at, dev.last_seq, dev.last_received = sample.at, sample.seq, now
        dev.samples += 1
        self.accepted += 1
        if not sample.values:
            return
        self.alarms.observe(sample)
        values = sample.values
        if decoded.problems:  # implausible numbers went to the engine, not to the store
            bad = {p.param for p in decoded.problems if p.kind == codec.IMPLAUSIBLE}
            values = {p: v for p, v in values.items() if p not in bad}
        self.recorder.offer(
            sample_row(
                room=room,
                device=device,
                case_id=self.alarms.case_for_room(room),
                at=sample.at,
                received_at=now,
                seq=sample.seq,
                values={p.value: v for p, v in values.items()},
            )
        )
        latest = self.latest.get(room)
        if latest is None:
            latest = self.latest[room] = {}
        for param, value in values.items():
            latest[param] = (value, sample.at, device)
        self.on_change(room)

    def _bursting(self, dev: Device) -> bool:
        """More than `BURST_FACTOR` x `max_device_rate` messages this second (this process's
        monotonic clock): dropped before they are decoded, so a flood costs little. A
        monitor replaying its backlog after a broker outage stays well below it."""
        second = int(self.monotonic())
        if second != dev.window:
            dev.window, dev.in_window = second, 0
        dev.in_window += 1
        return dev.in_window > self.max_device_rate * BURST_FACTOR

    def _too_dense(self, dev: Device, at: datetime) -> bool:
        """More than `max_device_rate` samples stamped within one second of device time: no
        monitor measures that often (a backlog keeps its original spacing)."""
        second = int(at.timestamp())
        if second != dev.device_window:
            dev.device_window, dev.in_device_window = second, 0
        dev.in_device_window += 1
        return dev.in_device_window > self.max_device_rate

    @staticmethod
    def _order(dev: Device, seq: int | None, at: datetime) -> str | None:
        last_at = dev.last_at
        if last_at is None:
            return None
        if seq is not None and dev.last_seq is not None:
            if seq == dev.last_seq and at == last_at:
                return DUPLICATE
            if seq <= dev.last_seq and at <= last_at:
                return DUPLICATE if seq == dev.last_seq else OUT_OF_ORDER
            return None  # a higher seq, or a restarted counter with a later time
        if at == last_at:
            return DUPLICATE
        if at < last_at:
            return OUT_OF_ORDER
        return None

    # ---- device status --------------------------------------------------------------------

    def status(self, room: str, device: str, payload: bytes) -> None:
        if room not in self.rooms:
            self._unknown_room(room)
            return
        try:
            online = codec.decode_status(payload)
        except codec.PayloadError as exc:
            self._fault(room, device, exc.kind, exc.message, None)
            return
        if online is None:  # the retained status was deleted: the device is gone
            self.devices.pop((room, device), None)
            log.info("mqtt: device %s of room %s removed (status deleted)", device, room)
            self.alarms.forget_device(room, device)
            self.on_change(room)
            return
        dev = self.devices.get((room, device))
        if dev is None:
            dev = self.devices[(room, device)] = Device()
        if dev.online is not online:
            log.info(
                "mqtt: device %s of room %s is %s", device, room, "online" if online else "offline"
            )
        dev.online = online
        self.alarms.device_status(room, device, online=online)
        self.on_change(room)

    # ---- faults ---------------------------------------------------------------------------

    def _unknown_room(self, room: str) -> None:
        if self.elsewhere(room):
            self.other_instances[room] += 1  # another instance's room: not ours to read
            return
        self.unknown_rooms[room] += 1
        self.totals[UNKNOWN_ROOM] += 1
        if self.unknown_rooms[room] == 1:
            log.warning("mqtt: messages for room %r, which this service does not serve", room)

    def _fault(self, room: str, device: str, kind: str, detail: str, param: Param | None) -> None:
        counter = self.faults.get((room, device))
        if counter is None:
            counter = self.faults[(room, device)] = Counter()
        counter[kind] += 1
        self.totals[kind] += 1
        key = (room, device, kind)
        if key not in self._logged:
            self._logged.add(key)
            log.warning("mqtt: %s from device %s in room %s: %s", kind, device, room, detail)
        template = ALARMED.get(kind)
        if template is not None:
            tech = f"{param.value}_{kind}" if param is not None else _TECH_KIND.get(kind, kind)
            label = PARAMETERS[param].label if param is not None else ""
            first = (room, device, tech) not in self._alarmed
            self._alarmed[(room, device, tech)] = self.clock()
            if first:
                message = template.format(device=device, label=label)
                self.alarms.technical(
                    room, device, kind=tech, message=f"{message} ({detail})", fault=kind
                )
        self.on_change(room)

    def _store_overflow(self, room: str) -> None:
        self._fault(room, "-", STORE_OVERFLOW, "the vitals store queue is full", None)

    def sweep(self) -> None:
        """Clear the technical alarm of every fault not seen for `fault_clear_s`."""
        now = self.clock()
        for key, seen in list(self._alarmed.items()):
            if (now - seen).total_seconds() >= self.fault_clear_s:
                del self._alarmed[key]
                room, device, tech = key
                self.alarms.clear_technical(room, device, kind=tech)
                self.on_change(room)

    def room_counters(self, room: str) -> dict[str, dict[str, int]]:
        return {dev: dict(c) for (r, dev), c in self.faults.items() if r == room}
