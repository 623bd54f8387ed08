"""Physiological limit alarms: "SpO2 low", "HR high", ...

Each monitor has its own condition per parameter and direction, measured on the monitor's
own clock; the room has one alarm per kind ("spo2_low"), raised when any monitor's
condition starts and ended when none has it any more.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from suite.domain.alarms import capnography as capno
from suite.domain.alarms.config import AlarmConfig, Limit
from suite.domain.alarms.debounce import Change, Debounce, Signal
from suite.domain.alarms.lifecycle import AlarmBook, Key
from suite.domain.alarms.model import AlarmEvent, AlarmSource, Category
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.domain.alarms.state import DeviceState, Direction, RoomState

DIRECTIONS = (Direction.LOW, Direction.HIGH)


def kind_of(param: Param, direction: Direction) -> str:
    return f"{param.value}_{direction.value}"


def parse_kind(kind: str) -> tuple[Param, Direction] | None:
    """("spo2", LOW) for "spo2_low"; None for any other kind."""
    name, _, side = kind.rpartition("_")
    try:
        return Param(name), Direction(side)
    except ValueError:
        return None


def effective_limit(config: AlarmConfig, room: RoomState, param: Param) -> Limit:
    """The limit in force: the phase's (or default) one, with the patient's thresholds."""
    effective = room.effective
    if effective is None:
        effective = room.effective = {}
    limit = effective.get(param)
    if limit is None:
        limit = config.limit_for(param, room.phase)
        adjusted = room.adjusted.get(param)
        if adjusted is not None:
            limit = replace(limit, low=adjusted.low, high=adjusted.high)
        effective[param] = limit
    return limit


def signal_of(limit: Limit, direction: Direction, value: float | None) -> Signal:
    """ON beyond the limit, OFF back past limit and hysteresis, NEUTRAL in between."""
    if value is None:
        return Signal.NEUTRAL
    if direction is Direction.LOW:
        if limit.low is None:
            return Signal.OFF
        if value < limit.low:
            return Signal.ON
        return Signal.OFF if value >= limit.low + limit.hysteresis else Signal.NEUTRAL
    if limit.high is None:
        return Signal.OFF
    if value > limit.high:
        return Signal.ON
    return Signal.OFF if value <= limit.high - limit.hysteresis else Signal.NEUTRAL


class PhysiologicalRules:
    def __init__(self, config: AlarmConfig, book: AlarmBook) -> None:
        self._config = config
        self._book = book

    def feed(
        self,
        room: RoomState,
        dev: DeviceState,
        param: Param,
        value: float | None,
        *,
        at: datetime,
        devices: dict[str, DeviceState],
        now: datetime,
    ) -> list[AlarmEvent]:
        """One value (None: no usable reading) of `param` from `dev` at device time `at`."""
        limit = effective_limit(self._config, room, param)
        events: list[AlarmEvent] = []
        for direction, tracker in zip(DIRECTIONS, dev.limit_trackers(param), strict=True):
            signal = signal_of(limit, direction, value)
            if param is Param.ETCO2 and direction is Direction.HIGH:
                with_baseline = capno.hypoventilation_signal(
                    self._config.capnography, room, limit, value
                )
                signal = signal if with_baseline is None else with_baseline
            if signal is Signal.OFF and not tracker.active and tracker.run_since is None:
                tracker.last_signal, tracker.last_at = signal, at  # the usual case: all well
                continue
            change = tracker.feed(
                signal, at, value=value,
                delay_s=limit.delay_s, clear_delay_s=limit.clear_delay_s,
                gap_s=self._config.sample_hold_s, evidence_max=self._config.evidence_max,
            )  # fmt: skip
            events += self._on_change(change, room, dev, param, direction, tracker, devices, now)
        return events

    def poll(
        self, room: RoomState, dev: DeviceState, *, devices: dict[str, DeviceState], now: datetime
    ) -> list[AlarmEvent]:
        """Complete delays that have run out since the device's latest sample."""
        events: list[AlarmEvent] = []
        at = dev.device_time(now)
        for param, pair in dev.limits.items():
            for direction, tracker in zip(DIRECTIONS, pair, strict=True):
                if tracker.run_since is None:
                    continue
                limit = effective_limit(self._config, room, param)
                change = tracker.poll(
                    at, delay_s=limit.delay_s, clear_delay_s=limit.clear_delay_s,
                    hold_s=self._config.sample_hold_s,
                )  # fmt: skip
                events += self._on_change(
                    change, room, dev, param, direction, tracker, devices, now
                )
        return events

    def end_device(
        self, room: RoomState, dev: DeviceState, *, devices: dict[str, DeviceState], now: datetime
    ) -> list[AlarmEvent]:
        """The device is gone: its conditions no longer hold anything up."""
        events: list[AlarmEvent] = []
        for param, pair in dev.limits.items():
            for direction, tracker in zip(DIRECTIONS, pair, strict=True):
                if not tracker.active:
                    continue
                tracker.force(active=False)
                events += self._on_change(
                    Change.ENDED, room, dev, param, direction, tracker, devices, now,
                    reason=f"monitor {dev.device} removed",
                )  # fmt: skip
        return events

    def _on_change(
        self,
        change: Change | None,
        room: RoomState,
        dev: DeviceState,
        param: Param,
        direction: Direction,
        tracker: Debounce,
        devices: dict[str, DeviceState],
        now: datetime,
        *,
        reason: str = "",
    ) -> list[AlarmEvent]:
        if change is None:
            return []
        key: Key = (room.room, kind_of(param, direction), "")
        if change is Change.ENDED:
            still = any(
                (pair := d.limits.get(param)) is not None
                and pair[DIRECTIONS.index(direction)].active
                for d in devices.values()
                if d is not dev
            )
            if still:
                return []
            info = PARAMETERS[param]
            why = reason or f"{info.label} back in range"
            return self._book.condition_ended(key, now=now, reason=why)
        limit = effective_limit(self._config, room, param)
        message = _message(param, direction, limit, tracker, dev.device)
        rule = f"limit.{param.value}.{direction.value}"
        baseline: tuple[tuple[str, float], ...] = ()
        if param is Param.ETCO2 and direction is Direction.HIGH:
            value = tracker.evidence[-1][1] if tracker.evidence else None
            hypo = capno.hypoventilation_message(room, limit, value)
            if hypo is not None and room.etco2_baseline is not None:
                message = f"{hypo}{_held(tracker)} (monitor {dev.device})"
                rule, baseline = (
                    "capnography.hypoventilation",
                    ((param.value, room.etco2_baseline),),
                )
        return self._book.condition_started(
            key,
            category=Category.PHYSIOLOGICAL,
            priority=limit.priority_low if direction is Direction.LOW else limit.priority_high,
            message=message,
            source=AlarmSource(
                rule=rule,
                device=dev.device,
                parameter=param.value,
                evidence=tuple((t.isoformat(), v) for t, v in tracker.evidence),
                baseline=baseline,
            ),
            case_id=room.case_id,
            now=now,
        )


def _message(
    param: Param, direction: Direction, limit: Limit, tracker: Debounce, device: str
) -> str:
    info = PARAMETERS[param]
    value = tracker.evidence[-1][1] if tracker.evidence else None
    if direction is Direction.LOW:
        bound, word, sign = limit.low, "low", "<"
    else:
        bound, word, sign = limit.high, "high", ">"
    return (
        f"{info.label} {word}: {info.format(value)} {sign} {info.format(bound)}{_held(tracker)} "
        f"(monitor {device})"
    )


def _held(tracker: Debounce) -> str:
    if len(tracker.evidence) < 2:
        return ""
    seconds = (tracker.evidence[-1][0] - tracker.evidence[0][0]).total_seconds()
    return f" for {seconds:.0f} s"
