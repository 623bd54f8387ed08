"""The one validated sample path: every device source (MQTT JSON, PCD-01, SDC) hands its
decoded samples here, and they reach the alarm engine, the vitals store and the room state
the same way.

Bad input never stops it. Each kind (suite/domain/samples.py, plus `duplicate`,
`out_of_order`, `unknown_room`, `store_overflow`, `flooding`) is counted per room, device and
kind (shown in the room state and the service status), logged once per device and kind, and,
where the nurse must know that readings are being thrown away, raised as a technical alarm on
the room ("SpO2 values implausible on monitor mon-3"), cleared after `fault_clear_s` without it.

Nothing arrives silently: samples for a room no instance of the site serves raise one site
technical notice per room (`unknown_room`, room "*", in the service status), and an MQTT
monitor not registered for the room in `mqtt.devices` one technical notice on the room
(`unregistered_device`, in the room's state and its IT view); its samples are still used.
Both end after `fault_clear_s` without such samples.

Order: with `seq`, a repeated seq is a duplicate and a lower one out of order, unless the
device time moved on (the device restarted its counter); without `seq`, the device time
decides. Duplicates are normal after a QoS 1 redelivery: dropped and counted, not alarmed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from suite.app.alarm_service import AlarmService
from suite.app.site_alarm import SiteAlarm
from suite.app.vitals_service import VitalsRecorder
from suite.bus import Bus
from suite.clock import iso
from suite.domain import samples as k
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.domain.bounds import DEVICE_TIME_WINDOW, OutOfRange, time_near
from suite.domain.samples import DecodedVitals
from suite.store.vitals import sample_tuple

log = logging.getLogger(__name__)

DUPLICATE = "duplicate"
OUT_OF_ORDER = "out_of_order"
UNKNOWN_ROOM = "unknown_room"
STORE_OVERFLOW = "store_overflow"
FLOODING = "flooding"
UNREGISTERED = "unregistered_device"

# Faults a nurse must hear about, because readings of that monitor are being discarded.
# (Implausible values go to the engine, which raises and ends "implausible_<param>" itself.)
# The technical alarm's kind puts the parameter first ("etco2_wrong_unit"), so only this
# path ends it, after `fault_clear_s` without the fault, not the next valid reading.
ALARMED = {
    FLOODING: "Monitor {device} sends far more messages than a monitor does; the excess is"
    " discarded",
    k.OVERSIZE: "Monitor {device} sends oversized messages; they are discarded",
    k.MALFORMED: "Monitor {device} sends unreadable data; it is discarded",
    k.BAD_VALUE: "{label} readings unreadable on monitor {device}",
    k.WRONG_UNIT: "{label} in a wrong unit on monitor {device}; values discarded",
    k.OUT_OF_RANGE: "Monitor {device} sends impossible times or sequence numbers; they are"
    " discarded",
    STORE_OVERFLOW: "Vitals of this room are not being stored (store falling behind)",
    UNREGISTERED: "Monitor {device} is not registered for this room (mqtt.devices); its"
    " samples are used",
}
_TECH_KIND = {k.OVERSIZE: "oversize_payload", k.MALFORMED: "malformed_payload"}


@dataclass(slots=True)
class Device:
    kind: str = ""  # how it reaches procsuite: "mqtt", "pcd01", "sdc" (from its first sample)
    online: bool | None = None
    last_at: datetime | None = None  # device time of the last accepted sample
    last_received: datetime | None = None
    last_seq: int | None = None
    samples: int = 0
    device_window: int = -1  # the second of device time whose samples `in_device_window` counts
    in_device_window: int = 0


class SampleIntake:
    """Accepts decoded samples and device status for the rooms this instance serves."""

    def __init__(
        self,
        *,
        rooms: Sequence[str],
        alarms: AlarmService,
        recorder: VitalsRecorder,
        clock: Callable[[], datetime],
        fault_clear_s: float = 30.0,
        on_change: Callable[[str], None] | None = None,
        elsewhere: Callable[[str], bool] = lambda room: False,
        max_device_rate: int = 100,
        bus: Bus | None = None,
        registered: Mapping[str, str] | None = None,
    ) -> None:
        self.bus = bus  # for the site notice of an unknown room (none: counted only)
        self.registered = dict(registered or {})  # MQTT monitor -> its room (mqtt.devices)
        self._room_notices: dict[str, tuple[SiteAlarm, datetime]] = {}
        self.max_device_rate = max_device_rate
        self.rooms = frozenset(rooms)
        self.elsewhere = elsewhere  # is the room served by another instance?
        self.other_instances: Counter[str] = Counter()
        self.alarms = alarms
        self.recorder = recorder
        self.clock = clock
        self.fault_clear_s = fault_clear_s
        self.listeners: list[Callable[[str], None]] = [on_change] if on_change else []
        self.devices: dict[tuple[str, str], Device] = {}
        self.latest: dict[str, dict[Param, tuple[float | None, datetime, str]]] = {}
        self.faults: dict[tuple[str, str], Counter[str]] = {}
        self.totals: Counter[str] = Counter()
        self.unknown_rooms: Counter[str] = Counter()
        self.accepted = 0
        self._logged: set[tuple[str, str, str]] = set()
        self._alarmed: dict[tuple[str, str, str], datetime] = {}  # tech kind -> last seen
        recorder.on_overflow = self._store_overflow

    def _changed(self, room: str) -> None:
        for listener in self.listeners:
            listener(room)

    # ---- samples --------------------------------------------------------------------------

    def serves(self, room: str) -> bool:
        """Whether samples for `room` are taken here; counts (and notes) them when not."""
        if room in self.rooms:
            return True
        self.unknown_room(room)
        return False

    def device(self, room: str, device: str) -> Device:
        dev = self.devices.get((room, device))
        if dev is None:
            dev = self.devices[(room, device)] = Device()
        return dev

    def accept(self, decoded: DecodedVitals, *, source: str = "mqtt") -> None:
        """Take one decoded sample of a served room: order and flood checks, the alarm
        engine, the store, the room's latest values. Never raises for bad input."""
        sample = decoded.sample
        room, device = sample.room, sample.device
        dev = self.device(room, device)
        dev.kind = dev.kind or source
        now = self.clock()
        try:  # days off the service clock is not a skewed clock but garbage (bounds.py)
            time_near(sample.at, now=now, window=DEVICE_TIME_WINDOW, where="ts")
        except OutOfRange as exc:
            self.fault(room, device, k.OUT_OF_RANGE, exc.message)
            return
        if self._too_dense(dev, sample.at):
            detail = f"over {self.max_device_rate} samples per second of device time"
            self.fault(room, device, FLOODING, detail)
            return
        order = self._order(dev, sample.seq, sample.at)
        if order is not None:  # counted as a repeat only, whatever else is wrong with it
            self.fault(room, device, order, f"seq {sample.seq} at {iso(sample.at)}")
            return
        for problem in decoded.problems:
            self.fault(room, device, problem.kind, problem.detail, problem.param)
        dev.last_at, dev.last_seq, dev.last_received = sample.at, sample.seq, now
        dev.samples += 1
        self.accepted += 1
        if not sample.values:
            return
        self.alarms.observe(sample, now=now)
        values = sample.values
        if decoded.problems:  # implausible numbers went to the engine, not to the store
            bad = {p.param for p in decoded.problems if p.kind == k.IMPLAUSIBLE}
            values = {p: v for p, v in values.items() if p not in bad}
        self.recorder.offer(
            sample_tuple(
                room=room,
                device=device,
                case_id=self.alarms.case_for_room(room),
                at=sample.at,
                received_at=now,
                seq=sample.seq,
                values=values,
            )
        )
        latest = self.latest.get(room)
        if latest is None:
            latest = self.latest[room] = {}
        for param, value in values.items():
            latest[param] = (value, sample.at, device)
        self._changed(room)

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

    def device_status(self, room: str, device: str, *, online: bool | None) -> None:
        """A device said it is online / offline; None: it was removed on purpose."""
        if online is None:
            self.devices.pop((room, device), None)
            log.info("samples: device %s of room %s removed (status deleted)", device, room)
            self.alarms.forget_device(room, device)
            self._changed(room)
            return
        dev = self.device(room, device)
        if dev.online is not online:
            log.info(
                "samples: device %s of room %s is %s",
                device,
                room,
                "online" if online else "offline",
            )
        dev.online = online
        self.alarms.device_status(room, device, online=online)
        self._changed(room)

    # ---- faults ---------------------------------------------------------------------------

    def unknown_room(self, room: str) -> None:
        if self.elsewhere(room):
            self.other_instances[room] += 1  # another instance's room: not ours to read
            return
        self.unknown_rooms[room] += 1
        self.totals[UNKNOWN_ROOM] += 1
        if self.unknown_rooms[room] == 1:
            log.warning("samples: data for room %r, which this service does not serve", room)
        if self.bus is None:
            return
        notice = self._room_notices.get(room)
        alarm = notice[0] if notice is not None else None
        if alarm is None:
            alarm = SiteAlarm(
                self.bus, clock=self.clock, kind=UNKNOWN_ROOM, device=room, priority=Priority.LOW
            )
            alarm.raise_(
                f"samples arrive for room {room}, which no instance of this site serves: they"
                " are discarded (check the monitor's room, or the site's rooms)"
            )
        self._room_notices[room] = (alarm, self.clock())

    def check_registered(self, room: str, device: str) -> None:
        """An MQTT monitor not registered for `room` (when `mqtt.devices` lists any)."""
        if not self.registered:
            return
        home = self.registered.get(device)
        if home != room:
            where = f"registered for room {home}" if home else "not registered"
            self.fault(room, device, UNREGISTERED, where)

    def fault(
        self, room: str, device: str, kind: str, detail: str, param: Param | None = None
    ) -> None:
        """Count (and, for the kinds in `ALARMED`, alarm) bad input from a device."""
        counter = self.faults.get((room, device))
        if counter is None:
            counter = self.faults[(room, device)] = Counter()
        counter[kind] += 1
        self.totals[kind] += 1
        key = (room, device, kind)
        if key not in self._logged:
            self._logged.add(key)
            log.warning("samples: %s from device %s in room %s: %s", kind, device, room, detail)
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
        self._changed(room)

    def _store_overflow(self, room: str) -> None:
        self.fault(room, "-", STORE_OVERFLOW, "the vitals store queue is full")

    def sweep(self) -> None:
        """Clear the technical alarm of every fault not seen for `fault_clear_s`."""
        now = self.clock()
        for key, seen in list(self._alarmed.items()):
            if (now - seen).total_seconds() >= self.fault_clear_s:
                del self._alarmed[key]
                room, device, tech = key
                self.alarms.clear_technical(room, device, kind=tech)
                self._changed(room)
        for room, (alarm, seen) in list(self._room_notices.items()):
            if (now - seen).total_seconds() >= self.fault_clear_s:
                del self._room_notices[room]
                alarm.clear(f"no samples for room {room} for {self.fault_clear_s:g} s")

    # ---- what the room state shows --------------------------------------------------------

    def latest_in(self, room: str) -> dict[Param, tuple[float | None, datetime, str]]:
        """The latest value of each parameter in `room`: (value, device time, device)."""
        return dict(self.latest.get(room, {}))

    def devices_in(self, room: str) -> dict[str, Device]:
        return {name: dev for (r, name), dev in self.devices.items() if r == room}

    def room_counters(self, room: str) -> dict[str, dict[str, int]]:
        return {dev: dict(c) for (r, dev), c in self.faults.items() if r == room}

    def not_stored(self, room: str) -> int:
        """Samples of `room` the store queue had to drop."""
        return self.recorder.dropped.get(room, 0)
