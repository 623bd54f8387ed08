"""A condition that must hold for a while before it counts, and end for a while to end.

Every rule of the engine (a limit, a sensor off, a skewed clock, the embolism pattern)
turns each observation into a signal:

- ON: the condition is present (SpO2 below its limit);
- OFF: it is clearly absent (SpO2 back at or above the limit plus the hysteresis margin);
- NEUTRAL: neither (inside the hysteresis band, or no reading).

A `Debounce` turns those signals into at most one STARTED and one ENDED per episode.
While inactive, a run of ON signals lasting `delay_s` starts the condition; an OFF signal
breaks the run, a NEUTRAL one does not (so a value flapping around the limit keeps its
run). While active, a run of OFF signals lasting `clear_delay_s` ends it; an ON signal
breaks that run. A run also breaks when its signals stop for longer than the delay (and the
hold time): two out-of-range samples minutes apart are not one condition.

Time is whatever the caller measures the rule in: device time for a monitor's values,
service time for clock skew and multi-device rules. Nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Signal(Enum):
    ON = "on"
    OFF = "off"
    NEUTRAL = "neutral"


class Change(Enum):
    STARTED = "started"
    ENDED = "ended"


@dataclass(slots=True)
class Debounce:
    """The state of one condition; see the module docstring."""

    active: bool = False
    run_since: datetime | None = None  # first signal of the current run towards a change
    run_last: datetime | None = None  # latest signal of that run
    last_signal: Signal = Signal.NEUTRAL
    last_at: datetime | None = None
    # Evidence of the run: its first sample and the latest ones, (time, value).
    evidence: list[tuple[datetime, float | None]] = field(default_factory=list)

    def feed(
        self,
        signal: Signal,
        at: datetime,
        *,
        value: float | None = None,
        delay_s: float,
        clear_delay_s: float,
        gap_s: float,
        evidence_max: int = 10,
    ) -> Change | None:
        """Take one signal at time `at`; the change it completes, if any."""
        self.last_signal, self.last_at = signal, at
        if signal is Signal.NEUTRAL:
            return None
        driving = Signal.OFF if self.active else Signal.ON
        if signal is not driving:
            self.break_run()
            return None
        delay = clear_delay_s if self.active else delay_s
        if (
            self.run_since is None
            or self.run_last is None
            or (at - self.run_last).total_seconds() > max(delay, gap_s)
        ):
            self.run_since = at
            self.evidence = []
        self.run_last = at
        self._note(at, value, evidence_max)
        if (at - self.run_since).total_seconds() >= delay:
            return self._flip()
        return None

    def poll(
        self, at: datetime, *, delay_s: float, clear_delay_s: float, hold_s: float
    ) -> Change | None:
        """Complete a run at time `at` with no new signal, if its latest signal still holds.

        The latest signal must be the run's own (not a NEUTRAL after it) and no older than
        `hold_s`: a monitor sending every second keeps its value for the gap between two
        samples, but a silent one does not keep it forever.
        """
        if self.run_since is None or self.run_last is None or self.last_at is None:
            return None
        driving = Signal.OFF if self.active else Signal.ON
        if self.last_signal is not driving or self.last_at != self.run_last:
            return None
        if (at - self.run_last).total_seconds() > hold_s:
            return None
        delay = clear_delay_s if self.active else delay_s
        if (at - self.run_since).total_seconds() >= delay:
            return self._flip()
        return None

    def break_run(self) -> None:
        self.run_since = self.run_last = None

    def force(self, *, active: bool) -> None:
        """Set the state without a run (restore after a restart, forgetting a device)."""
        self.active = active
        self.break_run()
        self.last_signal, self.last_at = Signal.NEUTRAL, None

    def _note(self, at: datetime, value: float | None, evidence_max: int) -> None:
        self.evidence.append((at, value))
        if len(self.evidence) > evidence_max:
            del self.evidence[1]  # keep the first sample of the run and the latest ones

    def _flip(self) -> Change:
        self.active = not self.active
        self.break_run()
        return Change.STARTED if self.active else Change.ENDED
