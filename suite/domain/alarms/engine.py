"""The vital-sign alarm engine: samples, context and time in; alarm events out.

Pure and single-threaded: the service owns one engine, feeds it every sample (`observe`),
every device status (`device_status`), the context of each room's case (`set_context`),
calls `tick(now=...)` about once a second, and stores / publishes what comes back. Nothing
here reads a clock: `now` is the service's time, `VitalSample.at` the monitor's.

Rules (each in its own module): physiological limits (physiological.py), technical alarms
(technical.py), the suspected cement embolism pattern (embolism.py), hypoventilation and
apnea by capnography (capnography.py); lifecycle, latching
and escalation in lifecycle.py; the numbers in config.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from suite.domain.alarms import capnography as capno
from suite.domain.alarms import embolism as emb
from suite.domain.alarms.capnography import ApneaRule
from suite.domain.alarms.config import AlarmConfig, Limit
from suite.domain.alarms.debounce import Debounce
from suite.domain.alarms.embolism import EmbolismRule
from suite.domain.alarms.lifecycle import AlarmBook, Key
from suite.domain.alarms.limits import check_adjustment
from suite.domain.alarms.model import Alarm, AlarmEvent, Category, LimitAdjusted, Priority
from suite.domain.alarms.parameters import Param
from suite.domain.alarms.physiological import PhysiologicalRules, effective_limit, parse_kind
from suite.domain.alarms.quiet import settle
from suite.domain.alarms.state import (
    DeviceState,
    Reading,
    RoomState,
    micros_of,
    micros_since_epoch,
)
from suite.domain.alarms.technical import Quality, TechnicalRules, param_named_by, quality_of
from suite.domain.errors import InvalidValue
from suite.domain.values import Phase

_ETCO2 = Param.ETCO2  # looked up once: an enum member's lookup is slow in a hot loop
_HISTORY = frozenset(emb.BASELINE_PARAMS)  # parameters whose recent history a room keeps


@dataclass(frozen=True, slots=True)
class VitalSample:
    """One message from a monitor: some parameters at one device time.

    `values` holds any subset of the parameters; None means the monitor sent "no reading".
    """

    room: str
    device: str
    at: datetime  # the device's time, tz-aware
    values: Mapping[Param, float | None]
    seq: int | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidValue(f"sample from {self.device}: time {self.at} has no time zone")


@dataclass(slots=True)
class EngineCounts:
    """What the engine saw, for the service's metrics."""

    samples: int = 0
    out_of_order: int = 0  # older than the device's latest sample: not evaluated
    implausible_values: int = 0
    clock_jumps: int = 0  # device time went back with a newer seq: accepted


class AlarmEngine:
    """See the module docstring; every method returns the events it produced, in order."""

    def __init__(
        self,
        config: AlarmConfig,
        *,
        id_factory: Callable[[], str] | None = None,
        quiet_fast_path: bool = True,
    ) -> None:
        """`quiet_fast_path=False` sends every value through the full path (quiet.py); the
        tests compare both."""
        self.config = config
        self._fast = quiet_fast_path
        self.counts = EngineCounts()
        self._book = AlarmBook(config, id_factory=id_factory)
        self._physio = PhysiologicalRules(config, self._book)
        self._technical = TechnicalRules(config, self._book)
        self._embolism = EmbolismRule(config, self._book)
        self._apnea = ApneaRule(config, self._book)
        self._rooms: dict[str, RoomState] = {}
        self._devices: dict[str, dict[str, DeviceState]] = {}  # room -> device -> state
        self._keep_s = emb.history_keep_s(config.embolism)
        self._keep_us = micros_of(self._keep_s)

    # ---- input -----------------------------------------------------------------------------

    def observe(self, sample: VitalSample, *, now: datetime) -> list[AlarmEvent]:
        """Evaluate one sample from a monitor."""
        room = self._rooms.get(sample.room) or self._room(sample.room)
        dev = self._devices[sample.room].get(sample.device) or self._device(
            sample.room, sample.device
        )
        self.counts.samples += 1
        at = sample.at
        events = self._technical.sample_arrived(dev, now=now)
        events += self._technical.clock(room, dev, at=at, now=now)
        if not self._in_order(dev, sample):
            self.counts.out_of_order += 1
            return events
        dev.last_at, dev.offset_s = at, (at - now).total_seconds()
        if sample.seq is not None:
            dev.last_seq = sample.seq
        devices = self._devices[sample.room]
        config = self.config
        at_us, keep_us, device = micros_since_epoch(at), self._keep_us, dev.device
        usable_values: dict[Param, float | None] = {}
        for param, value in sample.values.items():
            usable: float | None
            if self._fast and value is not None and settle(config, room, dev, param, value, at):
                usable = value  # valid and quiet: no rule has anything to say (quiet.py)
                if param is _ETCO2:
                    capno.take_baseline(config.capnography, room, dev, value, at)
            else:
                quality = quality_of(config, param, value)
                if quality is Quality.IMPLAUSIBLE:
                    self.counts.implausible_values += 1
                events += self._technical.reading(room, dev, param, quality, value, at=at, now=now)
                usable = value if quality is Quality.VALID else None
                if param is _ETCO2 and usable is not None:
                    capno.take_baseline(config.capnography, room, dev, usable, at)
                events += self._physio.feed(
                    room, dev, param, usable, at=at, devices=devices, now=now
                )
            usable_values[param] = usable
            if usable is not None:
                room.remember_at(
                    param, Reading(at, usable, device), at_us=at_us, keep_us=keep_us,
                    history=param in _HISTORY,
                )  # fmt: skip
        events += self._apnea.sample(room, dev, usable_values, at=at, devices=devices, now=now)
        events += self._embolism.evaluate(room, now_device=at, now=now)
        return events

    def device_status(
        self, room: str, device: str, *, online: bool, now: datetime
    ) -> list[AlarmEvent]:
        """A monitor's status message: online, or offline (its last will)."""
        return self._technical.status(
            self._room(room), self._device(room, device), online=online, now=now
        )

    def technical(
        self,
        room: str,
        device: str,
        *,
        kind: str,
        message: str,
        now: datetime,
        priority: Priority | None = None,
    ) -> list[AlarmEvent]:
        """A problem an adapter found (e.g. kind="implausible_spo2"), one alarm per
        (room, device, kind); ended by `clear_technical`, or when the kind names a parameter,
        by a valid reading of it."""
        if not kind.strip():
            raise InvalidValue("a technical alarm needs a kind")
        return self._technical.adapter(
            self._room(room), self._device(room, device), kind=kind, message=message,
            priority=priority, now=now,
        )  # fmt: skip

    def clear_technical(
        self, room: str, device: str, *, kind: str, now: datetime
    ) -> list[AlarmEvent]:
        return self._technical.clear_adapter(self._device(room, device), kind=kind, now=now)

    def forget_device(self, room: str, device: str, *, now: datetime) -> list[AlarmEvent]:
        """A monitor was removed on purpose: end its technical alarms and its conditions."""
        devices = self._devices.get(room, {})
        dev = devices.get(device)
        if dev is None:
            return []
        reason = f"monitor {device} removed"
        events = self._technical.end_device(dev, now=now, reason=reason)
        events += self._physio.end_device(self._room(room), dev, devices=devices, now=now)
        events += self._apnea.end_device(self._room(room), dev, devices=devices, now=now)
        del devices[device]
        self._room(room).devices.remove(device)
        return events

    def set_context(
        self,
        room: str,
        *,
        case_id: str | None,
        phase: Phase | None,
        injection: tuple[str, datetime] | None,
        now: datetime,
        injection_started_at: datetime | None = None,
    ) -> list[AlarmEvent]:
        """The room's open case (None: no case), its phase and its latest cement injection
        (level, time). `injection_started_at` is the case's first injection (the baseline
        ends there); without it the earliest injection the engine was told of is used.

        A new case resets the patient's adjusted limits and baseline; limits a nurse set
        while no case was open carry over into the case that opens."""
        state = self._room(room)
        if case_id != state.case_id:
            if state.case_id is None:
                state.case_id = case_id
            else:
                state.new_case(case_id)
        if phase is not state.phase:
            state.phase = phase
            state.limits_changed()
        capno.note_phase(state, now=now)
        state.injection = injection
        first = injection_started_at or (injection[1] if injection else None)
        if first is None and phase is Phase.CEMENT_INJECTION:
            first = now
        if first is not None and (state.anchor is None or first < state.anchor):
            state.anchor = first
            state.baseline.clear()
        return []

    # ---- people and time -------------------------------------------------------------------

    def tick(self, *, now: datetime) -> list[AlarmEvent]:
        """Stale feeds, delays completing between samples, escalation."""
        events: list[AlarmEvent] = []
        for room_name, devices in self._devices.items():
            room = self._rooms[room_name]
            for dev in devices.values():
                events += self._technical.check_stale(room, dev, now=now)
                events += self._technical.poll(room, dev, now=now)
                events += self._physio.poll(room, dev, devices=devices, now=now)
                events += self._apnea.evaluate(
                    room, dev, now_device=dev.device_time(now), devices=devices, now=now
                )
            if room.anchor is not None:
                events += self._embolism.evaluate(room, now_device=now, now=now)
        events += self._book.escalate(now=now)
        return events

    def acknowledge(self, alarm_id: str, *, user: str, now: datetime) -> list[AlarmEvent]:
        """A person acknowledges an alarm; UnknownAlarm / AlarmAlreadyCleared otherwise."""
        if not user.strip():
            raise InvalidValue("acknowledging an alarm needs the user's name")
        return self._book.acknowledge(alarm_id, user=user, now=now)

    def adjust_limit(
        self,
        room: str,
        param: Param,
        *,
        low: float | None,
        high: float | None,
        user: str,
        reason: str,
        now: datetime,
    ) -> list[AlarmEvent]:
        """Set this room's patient's limits of `param`; LimitRefused when absurd."""
        state = self._room(room)
        configured = self.config.limit_for(param, state.phase)
        check_adjustment(
            self.config, param, configured, low=low, high=high, user=user, reason=reason
        )
        event = LimitAdjusted(
            alarm_id="", room=room, at=now, parameter=param.value, low=low, high=high,
            user=user.strip(), reason=reason.strip(), case_id=state.case_id,
        )  # fmt: skip
        state.adjusted[param] = event
        state.limits_changed()
        return [event]

    # ---- views -----------------------------------------------------------------------------

    def active(self, room: str | None = None) -> list[Alarm]:
        """Current alarms (copies), highest priority first, then oldest first."""
        return self._book.active(room)

    def baseline(self, room: str) -> Mapping[Param, float]:
        """The patient's pre-injection baseline (provisional before the first injection)."""
        state = self._rooms.get(room)
        return emb.baseline_of(self.config.embolism, state) if state else {}

    def etco2_baseline(self, room: str) -> float | None:
        """The patient's EtCO2 baseline taken after sedation started (None: not yet)."""
        state = self._rooms.get(room)
        return state.etco2_baseline if state else None

    def capnographs(self, room: str) -> list[str]:
        """The monitors in `room` currently counted as a connected capnograph."""
        return sorted(
            d for d, s in self._devices.get(room, {}).items() if s.capno_since is not None
        )

    def limits(self, room: str) -> dict[Param, Limit]:
        """The limits in force in the room now (phase and patient adjustments applied)."""
        state = self._room(room)
        return {p: effective_limit(self.config, state, p) for p in Param}

    def adjusted_limits(self, room: str) -> list[LimitAdjusted]:
        state = self._rooms.get(room)
        return list(state.adjusted.values()) if state else []

    # ---- restart ---------------------------------------------------------------------------

    def restore(
        self,
        alarms: Iterable[Alarm],
        limits: Iterable[LimitAdjusted] = (),
        *,
        samples: Iterable[VitalSample] = (),
    ) -> None:
        """Rebuild after a restart from what the store kept: the alarms (cleared ones only
        reserve their ids), the limit adjustments of the rooms' current cases and, to get
        the embolism baseline back, the stored samples of the last half hour (their valid
        readings are remembered, not evaluated: they raise nothing)."""
        for sample in samples:
            room = self._room(sample.room)
            for param, value in sample.values.items():
                if value is not None and quality_of(self.config, param, value) is Quality.VALID:
                    room.remember(
                        param, Reading(sample.at, value, sample.device), keep_s=self._keep_s,
                        history=param in emb.BASELINE_PARAMS,
                    )  # fmt: skip
        for alarm in alarms:
            key = self._restore_alarm(alarm)
            self._book.restore(alarm, key=key)
        for adjusted in sorted(limits, key=lambda a: a.at):
            param = Param(adjusted.parameter)
            state = self._room(adjusted.room)
            if adjusted.case_id != state.case_id and state.adjusted:
                state.new_case(adjusted.case_id)
            state.case_id = adjusted.case_id
            state.adjusted[param] = adjusted
            state.limits_changed()

    def _restore_alarm(self, alarm: Alarm) -> Key:
        room = self._room(alarm.room)
        if room.case_id is None:
            room.case_id = alarm.case_id
        if alarm.category is not Category.TECHNICAL:
            key: Key = (alarm.room, alarm.kind, "")
        else:
            key = (alarm.room, alarm.kind, alarm.source.device)
        if alarm.cleared_at is not None or not alarm.condition_active:
            return key
        # The condition was present when the service stopped: rebuild its trackers, so it
        # ends by the usual recovery rule and is not raised a second time.
        device = alarm.source.device
        parsed = parse_kind(alarm.kind)
        if parsed is not None and alarm.category is Category.PHYSIOLOGICAL and device:
            self._device(alarm.room, device).limit_tracker(*parsed).force(active=True)
        elif alarm.kind == emb.KIND:
            room.embolism.force(active=True)
        elif alarm.kind == capno.APNEA and device:
            self._device(alarm.room, device).apnea = True
        elif alarm.category is Category.TECHNICAL and device:
            self._restore_technical(self._device(alarm.room, device), alarm.kind)
        return key

    def _restore_technical(self, dev: DeviceState, kind: str) -> None:
        param = param_named_by(kind)
        if kind == "device_offline":
            dev.online = False
        elif kind == "clock_skew":
            dev.skew.force(active=True)
        elif param is not None and kind == f"{param.value}_sensor_off":
            dev.sensor_off.setdefault(param, Debounce()).force(active=True)
        elif param is not None and kind == f"implausible_{param.value}":
            dev.implausible.setdefault(param, Debounce()).force(active=True)
        elif kind != "stale_feed":
            dev.adapter_kinds.add(kind)

    # ---- internals -------------------------------------------------------------------------

    def _room(self, room: str) -> RoomState:
        state = self._rooms.get(room)
        if state is None:
            state = self._rooms[room] = RoomState(room)
            self._devices[room] = {}
        return state

    def _device(self, room: str, device: str) -> DeviceState:
        self._room(room)
        devices = self._devices[room]
        dev = devices.get(device)
        if dev is None:
            dev = devices[device] = DeviceState(room, device)
            self._rooms[room].devices.append(device)
        return dev

    def _in_order(self, dev: DeviceState, sample: VitalSample) -> bool:
        """Whether to evaluate: newer than the device's latest sample, or a clock that went
        back on a device whose sequence number still advanced (then its runs restart)."""
        if dev.last_at is None or sample.at > dev.last_at:
            return True
        if sample.seq is not None and dev.last_seq is not None and sample.seq > dev.last_seq:
            if sample.at < dev.last_at:
                self.counts.clock_jumps += 1
                for low, high in dev.limits.values():
                    low.break_run()
                    high.break_run()
                for tracker in dev.sensor_off.values():
                    tracker.break_run()
            return True
        return False
