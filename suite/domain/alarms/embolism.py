"""The baseline-aware procedure alarm "suspected_cement_embolism".

Pulmonary cement embolism during vertebral augmentation shows as a fall in SpO2 or EtCO2
together with a fall in blood pressure or a rise in heart rate, measured against the
patient's own state just before cement went in. So:

- Baseline: for SpO2, EtCO2 and HR, the median of the room's valid readings over
  `baseline_window_s` before the case's first injection (when its phase entered
  cement_injection), with at least `baseline_min_samples` readings; for systolic NIBP,
  which cycles every few minutes, the median of the measurements over three times that
  window, at least one. Before the first injection `baseline()` shows a provisional one
  (the same medians over the latest window).
- Armed: phase cement_injection, or within `window_s` after the latest injection.
- Pattern: (SpO2 fall >= spo2_drop points or EtCO2 fall >= etco2_drop mmHg) and
  (systolic fall >= sys_drop_pct % or HR rise >= hr_rise_pct %), on the latest readings
  (at most `reading_max_age_s` old), held for `delay_s` of service time.
- The alarm is one per room, high priority and latching; it names the level being injected.
  Outside the armed window the pattern raises nothing here (the limit alarms still work);
  an alarm already raised ends only when the pattern is gone for `clear_delay_s`.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime, timedelta

from suite.domain.alarms.config import AlarmConfig, EmbolismConfig
from suite.domain.alarms.debounce import Change, Signal
from suite.domain.alarms.lifecycle import AlarmBook, Key
from suite.domain.alarms.model import AlarmEvent, AlarmSource, Category
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.domain.alarms.state import Reading, RoomState
from suite.domain.values import Phase

KIND = "suspected_cement_embolism"
BASELINE_PARAMS = (Param.SPO2, Param.ETCO2, Param.NIBP_SYS, Param.HR)
NIBP_WINDOW_FACTOR = 3  # NIBP baseline window = 3 x baseline_window_s

Finding = tuple[Param, Reading, float]  # parameter, current reading, baseline


def history_keep_s(config: EmbolismConfig) -> float:
    """How much history a room keeps: the NIBP baseline window plus a late-entry grace
    (an injection logged up to the window's length after it happened)."""
    return 2 * NIBP_WINDOW_FACTOR * config.baseline_window_s


def window_of(config: EmbolismConfig, param: Param) -> tuple[float, int]:
    if param is Param.NIBP_SYS:
        return NIBP_WINDOW_FACTOR * config.baseline_window_s, 1
    return config.baseline_window_s, config.baseline_min_samples


def median_before(room: RoomState, param: Param, end: datetime, window_s: float) -> list[float]:
    series = room.history.get(param)
    return series.values_between(end - timedelta(seconds=window_s), end) if series else []


def baseline_of(config: EmbolismConfig, room: RoomState) -> Mapping[Param, float]:
    """The frozen pre-injection baseline, or a provisional one before any injection."""
    if room.anchor is not None:
        _fill_frozen(config, room)
        return dict(room.baseline)
    provisional: dict[Param, float] = {}
    for param in BASELINE_PARAMS:
        latest = room.latest.get(param)
        if latest is None:
            continue
        window_s, minimum = window_of(config, param)
        values = median_before(room, param, latest.at + timedelta(microseconds=1), window_s)
        if len(values) >= minimum:
            provisional[param] = statistics.median(values)
    return provisional


def _fill_frozen(config: EmbolismConfig, room: RoomState) -> None:
    """Compute the baseline parameters not yet known (late samples may still complete it)."""
    assert room.anchor is not None
    for param in BASELINE_PARAMS:
        if param in room.baseline:
            continue
        window_s, minimum = window_of(config, param)
        values = median_before(room, param, room.anchor, window_s)
        if len(values) >= minimum:
            room.baseline[param] = statistics.median(values)


def armed(config: EmbolismConfig, room: RoomState, now: datetime) -> bool:
    if room.phase is Phase.CEMENT_INJECTION:
        return True
    if room.injection is None or room.phase is None or room.phase.is_final:
        return False
    return (now - room.injection[1]).total_seconds() <= config.window_s


def findings(
    config: EmbolismConfig, room: RoomState, now_device: datetime
) -> tuple[list[Finding], list[Finding]]:
    """(respiratory, circulatory) findings of the pattern on the current readings."""
    base = baseline_of(config, room)

    def current(param: Param) -> tuple[Reading, float] | None:
        reading, ref = room.latest.get(param), base.get(param)
        if reading is None or ref is None or room.anchor is None or reading.at < room.anchor:
            return None
        if (now_device - reading.at).total_seconds() > config.reading_max_age_s:
            return None
        return reading, ref

    respiratory: list[Finding] = []
    circulatory: list[Finding] = []
    if (c := current(Param.SPO2)) and c[1] - c[0].value >= config.spo2_drop:
        respiratory.append((Param.SPO2, *c))
    if (c := current(Param.ETCO2)) and c[1] - c[0].value >= config.etco2_drop:
        respiratory.append((Param.ETCO2, *c))
    if (c := current(Param.NIBP_SYS)) and _pct(c[1] - c[0].value, c[1]) >= config.sys_drop_pct:
        circulatory.append((Param.NIBP_SYS, *c))
    if (c := current(Param.HR)) and _pct(c[0].value - c[1], c[1]) >= config.hr_rise_pct:
        circulatory.append((Param.HR, *c))
    return respiratory, circulatory


def _pct(change: float, of: float) -> float:
    return change / of * 100 if of > 0 else 0.0


class EmbolismRule:
    def __init__(self, config: AlarmConfig, book: AlarmBook) -> None:
        self._config = config.embolism
        self._evidence_max = config.evidence_max
        self._book = book

    def evaluate(self, room: RoomState, *, now_device: datetime, now: datetime) -> list[AlarmEvent]:
        """Look at the room's current readings (after a sample, or on a tick)."""
        cfg = self._config
        tracker = room.embolism
        if not cfg.enabled or room.anchor is None:
            return []
        if not armed(cfg, room, now) and not tracker.active:
            tracker.break_run()
            return []
        if not baseline_of(cfg, room):
            # No baseline (no readings before the injection, or a restart lost them): the
            # rule can say nothing, and an alarm it raised before is not "resolved" by that.
            signal = Signal.NEUTRAL
            respiratory: list[Finding] = []
            circulatory: list[Finding] = []
        else:
            respiratory, circulatory = findings(cfg, room, now_device)
            signal = Signal.ON if respiratory and circulatory else Signal.OFF
        change = tracker.feed(
            signal, now, delay_s=cfg.delay_s, clear_delay_s=cfg.clear_delay_s,
            gap_s=self._config.delay_s, evidence_max=self._evidence_max,
        )  # fmt: skip
        key: Key = (room.room, KIND, "")
        if change is Change.ENDED:
            return self._book.condition_ended(key, now=now, reason="pattern resolved")
        if change is Change.STARTED:
            return self._raise(room, key, respiratory + circulatory, now)
        return []

    def _raise(
        self, room: RoomState, key: Key, found: list[Finding], now: datetime
    ) -> list[AlarmEvent]:
        level = room.injection[0] if room.injection else "a level not yet recorded"
        parts = []
        for param, reading, ref in found:
            info = PARAMETERS[param]
            parts.append(f"{info.label} {info.format(reading.value)} (baseline {info.format(ref)})")
        message = f"Suspected cement embolism during injection at {level}: " + ", ".join(parts)
        devices = sorted({reading.device for _, reading, _ in found})
        return self._book.condition_started(
            key,
            category=Category.PROCEDURE,
            priority=self._config.priority,
            message=message,
            source=AlarmSource(
                rule="embolism.baseline_pattern",
                device=",".join(devices),
                parameter=",".join(param.value for param, _, _ in found),
                evidence=tuple((r.at.isoformat(), r.value) for _, r, _ in found),
                readings=tuple((p.value, r.at.isoformat(), r.value) for p, r, _ in found),
                baseline=tuple((p.value, ref) for p, _, ref in found),
            ),
            case_id=room.case_id,
            now=now,
        )
