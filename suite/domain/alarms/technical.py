"""Technical alarms: the monitoring itself is failing, not the patient.

- device_offline: the monitor's status went offline (an MQTT last will); ends when it comes
  back online or sends a sample.
- stale_feed: no sample from an online monitor for `stale_feed_s` of service time; ends with
  the next sample.
- <param>_sensor_off ("spo2_sensor_off"): the parameter reports "no reading" (null, or 0
  where that means a probe off the finger) for the sensor-off delay, on device time; ends
  with the next valid reading.
- implausible_<param>: a value outside the parameter's physical range (SpO2 150 %); ends
  after `implausible_clear_s` of valid readings.
- clock_skew: device time further than `clock_skew_s` from service time in every sample for
  `clock_skew_delay_s`; ends with the first sample within it.
- any kind an adapter reports through `technical()`; ends by `clear_technical()`, or, when
  the kind names a parameter ("implausible_spo2", "unit_etco2"), by a valid reading of it.

All are one per (room, device, kind).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from suite.domain.alarms.config import AlarmConfig
from suite.domain.alarms.debounce import Change, Debounce, Signal
from suite.domain.alarms.lifecycle import AlarmBook, Key
from suite.domain.alarms.model import AlarmEvent, AlarmSource, Category, Priority
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.domain.alarms.state import DeviceState, RoomState


class Quality(Enum):
    VALID = "valid"
    NO_READING = "no_reading"
    SENSOR_OFF = "sensor_off"
    IMPLAUSIBLE = "implausible"


def quality_of(config: AlarmConfig, param: Param, value: float | None) -> Quality:
    rule = config.sensor_off.get(param)
    if value is None:
        return Quality.SENSOR_OFF if rule is not None else Quality.NO_READING
    if not PARAMETERS[param].is_plausible(value):
        return Quality.IMPLAUSIBLE
    if value == 0 and rule is not None and rule.zero_is_off:
        return Quality.SENSOR_OFF
    return Quality.VALID


_ON, _OFF = Signal.ON, Signal.OFF  # looked up once: an enum member's lookup is slow

_SENSOR_OFF_SIGNAL = {
    Quality.SENSOR_OFF: Signal.ON,
    Quality.VALID: Signal.OFF,
    Quality.NO_READING: Signal.NEUTRAL,
    Quality.IMPLAUSIBLE: Signal.NEUTRAL,
}
_IMPLAUSIBLE_SIGNAL = {
    Quality.IMPLAUSIBLE: Signal.ON,
    Quality.VALID: Signal.OFF,
    Quality.NO_READING: Signal.NEUTRAL,
    Quality.SENSOR_OFF: Signal.NEUTRAL,
}


def param_named_by(kind: str) -> Param | None:
    """The parameter a kind ends with ("implausible_nibp_sys" -> NIBP_SYS), if any."""
    for param in sorted(Param, key=lambda p: -len(p.value)):
        if kind == param.value or kind.endswith("_" + param.value):
            return param
    return None


class TechnicalRules:
    def __init__(self, config: AlarmConfig, book: AlarmBook) -> None:
        self._config = config
        self._book = book

    # ---- liveness --------------------------------------------------------------------------

    def status(
        self, room: RoomState, dev: DeviceState, *, online: bool, now: datetime
    ) -> list[AlarmEvent]:
        dev.last_seen = now
        key = _key(dev, "device_offline")
        if online:
            dev.online = True
            return self._book.condition_ended(key, now=now, reason="monitor back online")
        dev.online = False
        return self._started(
            room, dev, key, kind="device_offline", parameter="", now=now,
            message=f"Monitor {dev.device} is offline: no vitals from it",
        )  # fmt: skip

    def sample_arrived(self, dev: DeviceState, *, now: datetime) -> list[AlarmEvent]:
        """Any sample proves the monitor is online and its feed alive."""
        dev.last_seen = now
        dev.online = True
        book = self._book
        offline, stale = _key(dev, "device_offline"), _key(dev, "stale_feed")
        if book.get(offline) is None and book.get(stale) is None:
            return []  # the usual case: neither alarm is there to end
        events = book.condition_ended(offline, now=now, reason="monitor sending again")
        events += book.condition_ended(stale, now=now, reason="samples arriving again")
        return events

    def check_stale(self, room: RoomState, dev: DeviceState, *, now: datetime) -> list[AlarmEvent]:
        if not dev.online or dev.last_seen is None:
            return []
        silent_s = (now - dev.last_seen).total_seconds()
        key = _key(dev, "stale_feed")
        if silent_s < self._config.stale_feed_s or self._book.get(key) is not None:
            return []
        return self._started(
            room, dev, key, kind="stale_feed", parameter="", now=now,
            message=f"No vitals from monitor {dev.device} for {silent_s:.0f} s",
        )  # fmt: skip

    # ---- per sample ------------------------------------------------------------------------

    def clock(
        self, room: RoomState, dev: DeviceState, *, at: datetime, now: datetime
    ) -> list[AlarmEvent]:
        skew_s = (at - now).total_seconds()
        signal = _ON if abs(skew_s) > self._config.clock_skew_s else _OFF
        skew = dev.skew
        if signal is _OFF and not skew.active and skew.run_since is None:
            skew.last_signal, skew.last_at = signal, now  # in step, as usual: nothing to do
            return []
        change = skew.feed(
            signal, now, value=skew_s, delay_s=self._config.clock_skew_delay_s,
            clear_delay_s=0, gap_s=self._config.stale_feed_s,
            evidence_max=self._config.evidence_max,
        )  # fmt: skip
        key = _key(dev, "clock_skew")
        if change is Change.ENDED:
            return self._book.condition_ended(key, now=now, reason="monitor clock back in step")
        if change is Change.STARTED:
            word = "ahead of" if skew_s > 0 else "behind"
            return self._started(
                room, dev, key, kind="clock_skew", parameter="", now=now, tracker=dev.skew,
                message=(
                    f"Clock of monitor {dev.device} is {abs(skew_s):.0f} s {word} the "
                    "service; its alarm delays run on its own clock"
                ),
            )  # fmt: skip
        return []

    def reading(
        self,
        room: RoomState,
        dev: DeviceState,
        param: Param,
        quality: Quality,
        value: float | None,
        *,
        at: datetime,
        now: datetime,
    ) -> list[AlarmEvent]:
        """Sensor-off, implausible and adapter-reported kinds for one value."""
        events: list[AlarmEvent] = []
        rule = self._config.sensor_off.get(param)
        if rule is not None:
            signal = _SENSOR_OFF_SIGNAL[quality]
            tracker = dev.sensor_off.setdefault(param, Debounce())
            change = tracker.feed(
                signal, at, value=value, delay_s=rule.delay_s, clear_delay_s=0,
                gap_s=self._config.sample_hold_s, evidence_max=self._config.evidence_max,
            )  # fmt: skip
            events += self._sensor_off_change(change, room, dev, param, tracker, now)
        signal = _IMPLAUSIBLE_SIGNAL[quality]
        if param in dev.implausible or signal is Signal.ON:
            tracker = dev.implausible.setdefault(param, Debounce())
            change = tracker.feed(
                signal, at, value=value, delay_s=0,
                clear_delay_s=self._config.implausible_clear_s,
                gap_s=self._config.implausible_clear_s, evidence_max=self._config.evidence_max,
            )  # fmt: skip
            events += self._implausible_change(change, room, dev, param, tracker, now)
        if quality is Quality.VALID and dev.adapter_kinds:
            for kind in [k for k in dev.adapter_kinds if param_named_by(k) is param]:
                dev.adapter_kinds.discard(kind)
                events += self._book.condition_ended(
                    _key(dev, kind), now=now, reason=f"valid {PARAMETERS[param].label} again"
                )
        return events

    def poll(self, room: RoomState, dev: DeviceState, *, now: datetime) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        at = dev.device_time(now)
        for param, tracker in dev.sensor_off.items():
            rule = self._config.sensor_off.get(param)
            if rule is None or tracker.run_since is None:
                continue
            change = tracker.poll(
                at, delay_s=rule.delay_s, clear_delay_s=0, hold_s=self._config.sample_hold_s
            )
            events += self._sensor_off_change(change, room, dev, param, tracker, now)
        return events

    # ---- adapters --------------------------------------------------------------------------

    def adapter(
        self,
        room: RoomState,
        dev: DeviceState,
        *,
        kind: str,
        message: str,
        priority: Priority | None,
        now: datetime,
    ) -> list[AlarmEvent]:
        key = _key(dev, kind)
        if self._book.get(key) is not None:
            return []  # one alarm per (room, device, kind); the engine's own may hold it
        dev.adapter_kinds.add(kind)
        named = param_named_by(kind)
        return self._started(
            room, dev, key, kind=kind, now=now, message=message, priority=priority,
            parameter=named.value if named is not None else "",
        )  # fmt: skip

    def clear_adapter(self, dev: DeviceState, *, kind: str, now: datetime) -> list[AlarmEvent]:
        dev.adapter_kinds.discard(kind)
        return self._book.condition_ended(_key(dev, kind), now=now, reason="problem resolved")

    def end_device(self, dev: DeviceState, *, now: datetime, reason: str) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        for key in self._book.keys_of_device(dev.room, dev.device):
            events += self._book.condition_ended(key, now=now, reason=reason)
        return events

    # ---- internals -------------------------------------------------------------------------

    def _sensor_off_change(
        self,
        change: Change | None,
        room: RoomState,
        dev: DeviceState,
        param: Param,
        tracker: Debounce,
        now: datetime,
    ) -> list[AlarmEvent]:
        kind = f"{param.value}_sensor_off"
        label = PARAMETERS[param].label
        if change is Change.ENDED:
            reason = f"valid {label} again"
            return self._book.condition_ended(_key(dev, kind), now=now, reason=reason)
        if change is Change.STARTED:
            return self._started(
                room, dev, _key(dev, kind), kind=kind, parameter=param.value, now=now,
                tracker=tracker, priority_kind="sensor_off",
                message=f"{label} sensor off? No {label} reading from monitor {dev.device}",
            )  # fmt: skip
        return []

    def _implausible_change(
        self,
        change: Change | None,
        room: RoomState,
        dev: DeviceState,
        param: Param,
        tracker: Debounce,
        now: datetime,
    ) -> list[AlarmEvent]:
        kind = f"implausible_{param.value}"
        info = PARAMETERS[param]
        if change is Change.ENDED:
            reason = f"plausible {info.label} again"
            return self._book.condition_ended(_key(dev, kind), now=now, reason=reason)
        if change is Change.STARTED:
            value = tracker.evidence[-1][1] if tracker.evidence else None
            shown = f"{value:g}" if value is not None else "?"
            return self._started(
                room, dev, _key(dev, kind), kind=kind, parameter=param.value, now=now,
                tracker=tracker, priority_kind="implausible",
                message=(
                    f"{info.label} values implausible on monitor {dev.device}: {shown} "
                    f"(possible range {info.physical_min:g}-{info.physical_max:g} {info.unit})"
                ),
            )  # fmt: skip
        return []

    def _started(
        self,
        room: RoomState,
        dev: DeviceState,
        key: Key,
        *,
        kind: str,
        parameter: str,
        message: str,
        now: datetime,
        tracker: Debounce | None = None,
        priority: Priority | None = None,
        priority_kind: str | None = None,
    ) -> list[AlarmEvent]:
        if tracker is not None:
            evidence = tuple((t.isoformat(), v) for t, v in tracker.evidence)
        else:
            evidence = ((now.isoformat(), None),)
        chosen = priority or self._config.technical_priority_of(priority_kind or kind)
        return self._book.condition_started(
            key,
            category=Category.TECHNICAL,
            priority=chosen,
            message=message,
            source=AlarmSource(
                rule=f"technical.{priority_kind or kind}",
                device=dev.device,
                parameter=parameter,
                evidence=evidence,
            ),  # fmt: skip
            case_id=room.case_id,
            now=now,
        )


def _key(dev: DeviceState, kind: str) -> Key:
    return (dev.room, kind, dev.device)
