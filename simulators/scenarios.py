"""Monitor scenarios: what happens to the patient or the device, and when.

A scenario is written `KIND[@START][+DURATION][=VALUE]`, times in seconds of simulated time
from the monitor's start, or with a unit: `90`, `90s`, `10m`, `1h`. Examples:

    stable                    the patient's own baseline with noise and slow trends
    oversedation@300+600      RR falls and EtCO2 rises, then SpO2 falls (10 minutes from 5 min)
    vasovagal@20m             bradycardia with hypotension (default 3 minutes)
    embolism@600              cement embolism: sudden SpO2 and EtCO2 fall, hypotension, tachycardia
    sensor_off@120+30         SpO2 probe off: SpO2 sent as null
    dropout@300+45            the monitor publishes nothing for 45 s
    clock_skew=-600           the device clock is 10 minutes slow (VALUE: offset in seconds)
    implausible@200+20        SpO2 150 % and HR -5 /min
    offline@400+60            the monitor drops off the network (the broker sends its last will)

Scenarios combine: give several. Physiological ones add their effects to the same patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    STABLE = "stable"
    OVERSEDATION = "oversedation"
    VASOVAGAL = "vasovagal"
    EMBOLISM = "embolism"
    SENSOR_OFF = "sensor_off"
    DROPOUT = "dropout"
    CLOCK_SKEW = "clock_skew"
    IMPLAUSIBLE = "implausible"
    OFFLINE = "offline"


PHYSIOLOGICAL = frozenset({Kind.OVERSEDATION, Kind.VASOVAGAL, Kind.EMBOLISM})

# Default duration of each kind in seconds (None: until the monitor stops), and default VALUE.
DEFAULT_DURATION_S: dict[Kind, float | None] = {
    Kind.STABLE: None,
    Kind.OVERSEDATION: 600.0,
    Kind.VASOVAGAL: 180.0,
    Kind.EMBOLISM: 240.0,
    Kind.SENSOR_OFF: 60.0,
    Kind.DROPOUT: 60.0,
    Kind.CLOCK_SKEW: None,
    Kind.IMPLAUSIBLE: 30.0,
    Kind.OFFLINE: 60.0,
}
DEFAULT_VALUE: dict[Kind, float] = {Kind.CLOCK_SKEW: 300.0}

_ALIASES = {
    "sensor-off": Kind.SENSOR_OFF,
    "probe_off": Kind.SENSOR_OFF,
    "probe-off": Kind.SENSOR_OFF,
    "clock-skew": Kind.CLOCK_SKEW,
    "skew": Kind.CLOCK_SKEW,
    "drop-out": Kind.DROPOUT,
    "drop_out": Kind.DROPOUT,
    "cement_embolism": Kind.EMBOLISM,
    "cement-embolism": Kind.EMBOLISM,
}

_SPEC = re.compile(
    r"^(?P<kind>[a-z_-]+)"
    r"(?:@(?P<start>[0-9.]+[smh]?))?"
    r"(?:\+(?P<duration>[0-9.]+[smh]?))?"
    r"(?:=(?P<value>[+-]?[0-9.]+))?$"
)
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0}


class ScenarioError(ValueError):
    """A scenario text that cannot be read; the message says what is wrong and how to write it."""


def _seconds(text: str, *, where: str) -> float:
    unit = _UNIT_S.get(text[-1])
    number = text[:-1] if unit is not None else text
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise ScenarioError(f"{where} {text!r} is not a time (e.g. 90, 90s, 10m)") from None
    return value


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario: `kind` from `start_s` for `duration_s` (None: to the end)."""

    kind: Kind
    start_s: float = 0.0
    duration_s: float | None = None
    value: float | None = None

    @classmethod
    def parse(cls, text: str) -> Scenario:
        """Read `KIND[@START][+DURATION][=VALUE]` (see the module docstring)."""
        match = _SPEC.match(text.strip().lower())
        if match is None:
            raise ScenarioError(
                f"scenario {text!r} is not KIND[@START][+DURATION][=VALUE], e.g. embolism@600+120"
            )
        name = match["kind"]
        kind = _ALIASES.get(name)
        if kind is None:
            try:
                kind = Kind(name)
            except ValueError:
                known = ", ".join(k.value for k in Kind)
                raise ScenarioError(f"unknown scenario {name!r}; known: {known}") from None
        start = _seconds(match["start"], where="start") if match["start"] else 0.0
        duration = (
            _seconds(match["duration"], where="duration")
            if match["duration"]
            else DEFAULT_DURATION_S[kind]
        )
        if duration is not None and duration <= 0:
            raise ScenarioError(f"scenario {text!r}: duration must be > 0")
        value = float(match["value"]) if match["value"] else DEFAULT_VALUE.get(kind)
        return cls(kind, start, duration, value)

    def __str__(self) -> str:
        text = f"{self.kind.value}@{self.start_s:g}"
        if self.duration_s is not None:
            text += f"+{self.duration_s:g}"
        if self.value is not None:
            text += f"={self.value:g}"
        return text

    @property
    def end_s(self) -> float | None:
        return None if self.duration_s is None else self.start_s + self.duration_s

    def active(self, t_s: float) -> bool:
        """Whether simulated second `t_s` is inside the scenario's window."""
        end = self.end_s
        return t_s >= self.start_s and (end is None or t_s < end)

    def progress(self, t_s: float) -> float:
        """Fraction of the window elapsed at `t_s` (0 before, 1 after; 0 for open windows)."""
        if self.duration_s is None:
            return 0.0 if t_s < self.start_s else 1.0
        return min(1.0, max(0.0, (t_s - self.start_s) / self.duration_s))

    def after_end_s(self, t_s: float) -> float | None:
        """Seconds since the window ended, or None while it has not ended."""
        end = self.end_s
        return None if end is None or t_s < end else t_s - end


def parse_all(texts: list[str] | tuple[str, ...]) -> tuple[Scenario, ...]:
    """Read several scenario texts (each may also hold several separated by commas)."""
    return tuple(Scenario.parse(part) for text in texts for part in text.split(",") if part.strip())
