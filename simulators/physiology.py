"""A pure, deterministic model of a sedated patient's vital signs.

`PatientModel.at(t_s)` gives the true physiology `t_s` simulated seconds after the monitor
started: the patient's own baseline (random per patient, from a seed), slow trends (a few
slow waves of minutes to half an hour), beat-to-beat noise, and the effects of the
physiological scenarios (oversedation, vasovagal, cement embolism). Same seed, same
scenarios, same `t_s` -> same numbers; nothing here reads a clock or keeps state.

The numbers (baseline ranges, scenario targets and time courses) are simulation defaults,
not clinical rules; docs/clinical-defaults.md ("Simulated patients") gives their sources.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulators.scenarios import Kind, Scenario

PARAMS = ("hr", "spo2", "sys", "dia", "rr", "etco2", "temp")
_MASK64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread integer hash (deterministic noise)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def noise(seed: int, channel: int, t_ms: int) -> float:
    """Deterministic noise with mean 0 and standard deviation 1 (sum of 4 uniforms)."""
    h = _mix64((seed & _MASK64) ^ _mix64(channel * 1_000_003 + t_ms))
    total = 0.0
    for _ in range(4):
        total += (h & 0xFFFF) / 65535.0
        h >>= 16
    return (total - 2.0) * math.sqrt(3.0)  # 4 uniforms: variance 4/12 -> scale to 1


def smoothstep(x: float) -> float:
    """0 below 0, 1 above 1, an S-curve between: how a change sets in."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True, slots=True)
class Physiology:
    """True values at one moment (what a perfect sensor would read)."""

    hr: float  # /min
    spo2: float  # %
    sys: float  # mmHg
    dia: float  # mmHg
    rr: float  # /min
    etco2: float  # mmHg
    temp: float  # °C

    @property
    def map(self) -> float:
        """Mean arterial pressure, the usual one-third-of-pulse-pressure estimate."""
        return self.dia + (self.sys - self.dia) / 3.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """One patient's resting values under light sedation, before anything happens."""

    hr: float
    spo2: float
    sys: float
    dia: float
    rr: float
    etco2: float
    temp: float

    @classmethod
    def for_patient(cls, seed: int) -> Baseline:
        """A plausible elderly adult (the typical osteoporotic-fracture patient), from `seed`."""
        rng = random.Random(seed)

        def pick(mean: float, sd: float, low: float, high: float) -> float:
            return min(high, max(low, rng.gauss(mean, sd)))

        return cls(
            hr=round(pick(74, 9, 58, 96)),
            spo2=round(pick(96.5, 1.2, 95, 99)),
            sys=round(pick(132, 14, 110, 160)),
            dia=round(pick(76, 8, 60, 92)),
            rr=round(pick(14, 2, 11, 19)),
            etco2=round(pick(37, 2.5, 32, 43)),
            temp=round(pick(36.6, 0.25, 36.1, 37.2), 1),
        )


# Slow-trend amplitude per parameter (same units), and white-noise standard deviation.
_TREND = {"hr": 3.0, "spo2": 0.6, "sys": 5.0, "dia": 3.0, "rr": 1.0, "etco2": 1.2, "temp": 0.08}
_NOISE = {"hr": 1.2, "spo2": 0.45, "sys": 0.0, "dia": 0.0, "rr": 0.5, "etco2": 0.6, "temp": 0.02}
# Temperature drifts down under sedation in a cool room (about 0.3 °C an hour, at most 0.5).
_TEMP_DRIFT_PER_S = -0.3 / 3600.0
_TEMP_DRIFT_MAX = 0.5


@dataclass(frozen=True, slots=True)
class _Wave:
    period_s: float
    phase: float
    weight: float


class PatientModel:
    """The patient's physiology over simulated time; pure and deterministic."""

    def __init__(
        self, baseline: Baseline, scenarios: tuple[Scenario, ...] = (), *, seed: int = 0
    ) -> None:
        self.baseline = baseline
        self.scenarios = tuple(s for s in scenarios if s.kind in _EFFECTS)
        self.seed = seed
        rng = random.Random(f"trend:{seed}")
        self._waves: dict[str, tuple[_Wave, ...]] = {}
        for name in PARAMS:
            waves = tuple(
                _Wave(rng.uniform(300, 1800), rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 1.0))
                for _ in range(3)
            )
            total = sum(w.weight for w in waves)
            self._waves[name] = tuple(_Wave(w.period_s, w.phase, w.weight / total) for w in waves)

    def trend(self, name: str, t_s: float) -> float:
        """The slow drift of parameter `name` at `t_s` (within +-its trend amplitude)."""
        waves = self._waves[name]
        level = sum(w.weight * math.sin(2 * math.pi * t_s / w.period_s + w.phase) for w in waves)
        return _TREND[name] * level

    def at(self, t_s: float) -> Physiology:
        """True values at `t_s` seconds after the start."""
        b = self.baseline
        t_ms = round(t_s * 1000)
        values = {
            name: getattr(b, name)
            + self.trend(name, t_s)
            + _NOISE[name] * noise(self.seed, i, t_ms)
            for i, name in enumerate(PARAMS)
        }
        values["temp"] += max(-_TEMP_DRIFT_MAX, _TEMP_DRIFT_PER_S * t_s)
        for scenario in self.scenarios:
            _EFFECTS[scenario.kind](scenario, t_s, b, values)
        return Physiology(
            hr=max(20.0, values["hr"]),
            spo2=min(100.0, max(50.0, values["spo2"])),
            sys=max(40.0, values["sys"]),
            dia=max(20.0, min(values["dia"], values["sys"] - 15.0)),
            rr=max(2.0, values["rr"]),
            etco2=max(5.0, values["etco2"]),
            temp=values["temp"],
        )

    def nibp_stat_times(self) -> tuple[float, ...]:
        """Extra cuff measurements a nurse starts by hand when the patient looks unwell
        (at `t_s`, completion times): 40 s into a vasovagal or embolism episode, then every
        minute while it lasts."""
        times: list[float] = []
        for s in self.scenarios:
            if s.kind in (Kind.VASOVAGAL, Kind.EMBOLISM):
                end = s.end_s if s.end_s is not None else s.start_s + 600.0
                t = s.start_s + 40.0
                while t < end:
                    times.append(t)
                    t += 60.0
        return tuple(sorted(times))


def _weight(scenario: Scenario, t_s: float, *, onset_s: float, recovery_s: float) -> float:
    """How far an episode's effect has set in at `t_s`: 0 -> 1 over `onset_s`, held, then
    back to 0 over `recovery_s` after the window ends (treatment works)."""
    if t_s < scenario.start_s:
        return 0.0
    rising = smoothstep((t_s - scenario.start_s) / onset_s)
    after = scenario.after_end_s(t_s)
    if after is None:
        return rising
    return rising * (1.0 - smoothstep(after / recovery_s))


def _toward(values: dict[str, float], name: str, target: float, weight: float) -> None:
    values[name] += (target - values[name]) * weight


def _oversedation(s: Scenario, t_s: float, b: Baseline, v: dict[str, float]) -> None:
    # Hypoventilation shows first in the breathing (RR down, EtCO2 up); SpO2 falls only once
    # the oxygen reserve is used up: the first 40 % of the window, then the next 40 %.
    if t_s < s.start_s:
        return
    span = s.duration_s if s.duration_s is not None else 600.0
    p = (t_s - s.start_s) / span
    fade = 1.0
    after = s.after_end_s(t_s)
    if after is not None:
        fade = 1.0 - smoothstep(after / 120.0)
        p = 1.0
    breathing = smoothstep(p / 0.4) * fade
    desaturation = smoothstep((p - 0.4) / 0.4) * fade
    _toward(v, "rr", 6.0, breathing)
    v["etco2"] += 20.0 * breathing
    _toward(v, "spo2", 84.0, desaturation)
    v["hr"] -= 5.0 * breathing
    v["sys"] -= 8.0 * breathing
    v["dia"] -= 4.0 * breathing


def _vasovagal(s: Scenario, t_s: float, b: Baseline, v: dict[str, float]) -> None:
    w = _weight(s, t_s, onset_s=30.0, recovery_s=90.0)
    _toward(v, "hr", 40.0, w)
    _toward(v, "sys", 75.0, w)
    _toward(v, "dia", 42.0, w)
    v["spo2"] -= 1.0 * w
    v["etco2"] -= 2.0 * w


def _embolism(s: Scenario, t_s: float, b: Baseline, v: dict[str, float]) -> None:
    # Cement in the pulmonary arteries: dead space (EtCO2 falls), shunt (SpO2 falls), right
    # heart strain (pressure falls, heart rate rises), within seconds of the injection.
    w = _weight(s, t_s, onset_s=20.0, recovery_s=120.0)
    v["spo2"] -= 12.0 * w
    v["etco2"] -= 14.0 * w
    v["sys"] -= 0.38 * b.sys * w
    v["dia"] -= 0.30 * b.dia * w
    v["hr"] += 0.45 * b.hr * w
    v["rr"] += 8.0 * w


_EFFECTS = {
    Kind.OVERSEDATION: _oversedation,
    Kind.VASOVAGAL: _vasovagal,
    Kind.EMBOLISM: _embolism,
}
