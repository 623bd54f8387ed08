"""Configurable defaults of the vital-sign alarm engine.

Every number's clinical source is in docs/clinical-defaults.md ("Vital-sign alarms").
procsuite supports clinicians; a site sets its own numbers from its own policies.

Limits apply in three layers, the most specific winning:
1. `AlarmConfig.limits`: the default per parameter;
2. `AlarmConfig.phase_limits[phase]`: a whole `Limit` replacing the default in that phase;
3. a nurse's adjustment for the room's patient (`AlarmEngine.adjust_limit`), which replaces
   only the low / high thresholds and lasts until the room's case changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.domain.errors import InvalidValue
from suite.domain.values import Phase


@dataclass(frozen=True, slots=True)
class Limit:
    """Thresholds of one parameter and how an alarm on them behaves.

    The condition "low" holds while the value is below `low`; it ends once the value is back
    at or above `low + hysteresis`. Likewise "high" with `high - hysteresis`. A value between
    the limit and the margin neither starts nor ends anything.
    """

    low: float | None = None
    high: float | None = None
    priority_low: Priority = Priority.MEDIUM
    priority_high: Priority = Priority.MEDIUM
    delay_s: float = 10.0  # the value must stay out of range this long (device time)
    hysteresis: float = 0.0  # the margin past the limit that ends the condition
    clear_delay_s: float = 5.0  # the value must stay back past the margin this long

    def __post_init__(self) -> None:
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise InvalidValue(f"a low limit ({self.low}) must be below the high ({self.high})")
        for name in ("delay_s", "hysteresis", "clear_delay_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InvalidValue(f"limit {name} must be a finite number >= 0, not {value}")


@dataclass(frozen=True, slots=True)
class SensorOff:
    """A parameter whose "no reading" means a sensor is off the patient.

    `null` in a payload (the key present, no value) counts as sensor off; so does 0 when
    `zero_is_off` (a pulse oximeter reports SpO2 0 with the probe off; a heart rate of 0 is
    asystole and must never be taken for a loose lead).
    """

    delay_s: float = 10.0
    zero_is_off: bool = False


@dataclass(frozen=True, slots=True)
class EmbolismConfig:
    """The baseline-aware "suspected cement embolism" rule.

    Armed while the case is in phase cement_injection and for `window_s` after the latest
    injection. The baseline is the median of each parameter over the `baseline_window_s`
    before the case's first injection (the moment the phase entered cement_injection).
    The pattern: SpO2 fallen by `spo2_drop` points or EtCO2 by `etco2_drop` mmHg from
    baseline, together with systolic pressure fallen by `sys_drop_pct` % or heart rate
    risen by `hr_rise_pct` %, held for `delay_s`.
    """

    enabled: bool = True
    window_s: float = 15 * 60
    baseline_window_s: float = 5 * 60
    baseline_min_samples: int = 3
    spo2_drop: float = 5.0
    etco2_drop: float = 5.0
    sys_drop_pct: float = 20.0
    hr_rise_pct: float = 20.0
    delay_s: float = 15.0
    clear_delay_s: float = 30.0
    # A reading older than this (relative to the sample being evaluated) is not "current";
    # NIBP cycles every 2-5 minutes during a procedure.
    reading_max_age_s: float = 5 * 60
    priority: Priority = Priority.HIGH


@dataclass(frozen=True, slots=True)
class CapnographyConfig:
    """Capnography rules for moderate sedation (suite/domain/alarms/capnography.py).

    Hypoventilation: once the room's case is sedated, the patient's EtCO2 baseline is the
    median of the valid EtCO2 readings over the first `baseline_window_s` after sedation
    started (at least `baseline_min_samples`). From then on the EtCO2 high limit in force
    (configured, per phase, or a nurse's adjustment) alarms only when EtCO2 is also more than
    `hypoventilation_rise_mmhg` above that baseline; before a baseline exists the plain high
    limit applies.

    Apnea: while a capnograph is connected (a monitor that sent a valid EtCO2 reading, is
    online and still sending), no breath for `apnea_s` raises "apnea". A breath is a sample
    with EtCO2 at or above `no_breath_etco2_mmhg` and no respiration rate of 0.
    """

    enabled: bool = True
    baseline_window_s: float = 120.0
    baseline_min_samples: int = 3
    hypoventilation_rise_mmhg: float = 10.0
    apnea_s: float = 20.0
    no_breath_etco2_mmhg: float = 5.0
    apnea_priority: Priority = Priority.HIGH

    def __post_init__(self) -> None:
        for name in ("baseline_window_s", "hypoventilation_rise_mmhg", "apnea_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise InvalidValue(f"capnography setting {name} must be a number > 0")
        if self.baseline_min_samples < 1 or not self.no_breath_etco2_mmhg >= 0:
            raise InvalidValue("capnography baseline_min_samples must be >= 1")


def _l(low: float | None, high: float | None, pl: Priority, ph: Priority, **kw: float) -> Limit:
    return Limit(low=low, high=high, priority_low=pl, priority_high=ph, **kw)


_H, _M, _L = Priority.HIGH, Priority.MEDIUM, Priority.LOW
_NO_LIMIT = Limit()

# Adult moderate-sedation defaults; sources in docs/clinical-defaults.md.
DEFAULT_LIMITS: dict[Param, Limit] = {
    Param.SPO2: _l(90, None, _H, _M, delay_s=10, hysteresis=2, clear_delay_s=5),
    Param.HR: _l(50, 120, _M, _M, delay_s=10, hysteresis=3, clear_delay_s=5),
    Param.NIBP_SYS: _l(90, 180, _M, _M, delay_s=0, hysteresis=5, clear_delay_s=0),
    Param.NIBP_DIA: _l(None, 110, _M, _M, delay_s=0, hysteresis=5, clear_delay_s=0),
    Param.NIBP_MAP: _l(65, None, _M, _M, delay_s=0, hysteresis=3, clear_delay_s=0),
    Param.RR: _l(8, 30, _H, _L, delay_s=15, hysteresis=2, clear_delay_s=10),
    Param.ETCO2: _l(None, 50, _M, _M, delay_s=15, hysteresis=3, clear_delay_s=10),
    Param.TEMP: _l(35.0, 38.5, _L, _L, delay_s=60, hysteresis=0.3, clear_delay_s=30),
}

DEFAULT_PHASE_LIMITS: dict[Phase, dict[Param, Limit]] = {
    # During injection a desaturation or a fall in pressure is acted on at once.
    Phase.CEMENT_INJECTION: {
        Param.SPO2: _l(90, None, _H, _M, delay_s=5, hysteresis=2, clear_delay_s=5),
        Param.NIBP_SYS: _l(90, 180, _H, _M, delay_s=0, hysteresis=5, clear_delay_s=0),
    },
    # Recovery: discharge criteria expect SpO2 > 92 % (modified Aldrete).
    Phase.RECOVERY: {
        Param.SPO2: _l(92, None, _H, _M, delay_s=15, hysteresis=2, clear_delay_s=10),
    },
}

# How far a nurse may move a limit for one patient; outside is refused as absurd.
DEFAULT_ADJUST_BOUNDS: dict[Param, tuple[float, float]] = {
    Param.SPO2: (80, 100),
    Param.HR: (25, 250),
    Param.NIBP_SYS: (50, 260),
    Param.NIBP_DIA: (30, 160),
    Param.NIBP_MAP: (40, 180),
    Param.RR: (3, 60),
    Param.ETCO2: (10, 100),
    Param.TEMP: (32, 42),
}

DEFAULT_SENSOR_OFF: dict[Param, SensorOff] = {
    Param.SPO2: SensorOff(delay_s=10, zero_is_off=True),
    Param.HR: SensorOff(delay_s=10, zero_is_off=False),
}

# Priorities of technical alarms by kind; "adapter" is the default for kinds an adapter
# reports through `AlarmEngine.technical`.
DEFAULT_TECHNICAL_PRIORITY: dict[str, Priority] = {
    "device_offline": Priority.MEDIUM,
    "stale_feed": Priority.MEDIUM,
    "sensor_off": Priority.MEDIUM,
    "implausible": Priority.MEDIUM,
    "clock_skew": Priority.LOW,
    "adapter": Priority.LOW,
}

# Unacknowledged alarms escalate one step after this long at a priority (None: never).
DEFAULT_ESCALATION_S: dict[Priority, float | None] = {
    Priority.LOW: 5 * 60,
    Priority.MEDIUM: 2 * 60,
    Priority.HIGH: None,
}


@dataclass(frozen=True, slots=True)
class AlarmConfig:
    """All the engine's numbers; build it in code or from settings with
    `suite.domain.alarms.config_mapping.config_from_mapping`."""

    limits: Mapping[Param, Limit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    phase_limits: Mapping[Phase, Mapping[Param, Limit]] = field(
        default_factory=lambda: {p: dict(v) for p, v in DEFAULT_PHASE_LIMITS.items()}
    )
    adjust_bounds: Mapping[Param, tuple[float, float]] = field(
        default_factory=lambda: dict(DEFAULT_ADJUST_BOUNDS)
    )
    sensor_off: Mapping[Param, SensorOff] = field(default_factory=lambda: dict(DEFAULT_SENSOR_OFF))
    technical_priority: Mapping[str, Priority] = field(
        default_factory=lambda: dict(DEFAULT_TECHNICAL_PRIORITY)
    )
    escalation_s: Mapping[Priority, float | None] = field(
        default_factory=lambda: dict(DEFAULT_ESCALATION_S)
    )
    latching: frozenset[Priority] = frozenset({Priority.HIGH})
    # No sample from a device for this long (service time) raises "stale_feed".
    stale_feed_s: float = 15.0
    # Device time further than this from service time, for `clock_skew_delay_s`, raises
    # "clock_skew". The delay lets a backlog replayed after a broker outage drain first.
    clock_skew_s: float = 10.0
    clock_skew_delay_s: float = 30.0
    # An implausible value must be followed by good readings this long to end its alarm.
    implausible_clear_s: float = 10.0
    # A reading still counts as the current value this long after its device time, so
    # `tick` can complete a condition delay between two samples.
    sample_hold_s: float = 5.0
    # How long a person's "silence" pauses an alarm's audio (IEC 60601-1-8 AUDIO PAUSED).
    audio_pause_s: float = 120.0
    evidence_max: int = 10
    embolism: EmbolismConfig = field(default_factory=EmbolismConfig)
    capnography: CapnographyConfig = field(default_factory=CapnographyConfig)

    def __post_init__(self) -> None:
        for name in (
            "stale_feed_s", "clock_skew_s", "clock_skew_delay_s", "sample_hold_s", "audio_pause_s",
        ):  # fmt: skip
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise InvalidValue(f"alarm setting {name} must be a number > 0, not {value}")
        if self.evidence_max < 2:
            raise InvalidValue("alarm setting evidence_max must be at least 2")

    def limit_for(self, param: Param, phase: Phase | None) -> Limit:
        """The configured limit of `param` in `phase` (before any patient adjustment)."""
        if phase is not None:
            override = self.phase_limits.get(phase)
            if override is not None and param in override:
                return override[param]
        found = self.limits.get(param)
        return found if found is not None else _NO_LIMIT

    def escalation_after_s(self, priority: Priority) -> float | None:
        return self.escalation_s.get(priority)

    def technical_priority_of(self, kind: str) -> Priority:
        return self.technical_priority.get(kind, self.technical_priority.get("adapter", _L))
