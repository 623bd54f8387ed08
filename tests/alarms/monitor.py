"""A simulated room for alarm tests: timestamped samples and ticks in, a readable log out.

Times are seconds after T0. `Room.play(steps)` runs a scenario table and returns the events
as (seconds, event name, kind) so a test can compare it with the expected table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from suite.domain.alarms import AlarmConfig, AlarmEngine, Param, VitalSample
from suite.domain.alarms.model import (
    AlarmAcknowledged,
    AlarmCleared,
    AlarmConditionEnded,
    AlarmConditionReturned,
    AlarmEscalated,
    AlarmEvent,
    AlarmRaised,
    LimitAdjusted,
)
from suite.domain.values import Phase

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

NAMES: dict[type[AlarmEvent], str] = {
    AlarmRaised: "raised",
    AlarmEscalated: "escalated",
    AlarmAcknowledged: "acknowledged",
    AlarmConditionEnded: "condition_ended",
    AlarmConditionReturned: "condition_returned",
    AlarmCleared: "cleared",
    LimitAdjusted: "limit_adjusted",
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def secs(t: datetime) -> float:
    return (t - T0).total_seconds()


@dataclass(frozen=True)
class S:
    """A scenario step: a sample at `t` (device time; received at `now`, default the same)."""

    t: float
    values: dict[str, float | None]
    device: str = "mon1"
    now: float | None = None
    seq: int | None = None


@dataclass(frozen=True)
class Tick:
    t: float


@dataclass
class Room:
    config: AlarmConfig = field(default_factory=AlarmConfig)
    name: str = "OR1"
    engine: AlarmEngine = field(init=False)
    log: list[AlarmEvent] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # alarm id -> kind

    def __post_init__(self) -> None:
        self.engine = AlarmEngine(self.config)

    def _record(self, events: list[AlarmEvent]) -> list[AlarmEvent]:
        for ev in events:
            if isinstance(ev, AlarmRaised):
                self.kinds[ev.alarm_id] = ev.kind
        self.log += events
        return events

    def sample(
        self,
        t: float,
        *,
        device: str = "mon1",
        now: float | None = None,
        seq: int | None = None,
        **values: float | None,
    ) -> list[AlarmEvent]:
        sample = VitalSample(
            self.name, device, at(t), {Param(k): v for k, v in values.items()}, seq=seq
        )
        return self._record(self.engine.observe(sample, now=at(t if now is None else now)))

    def tick(self, t: float) -> list[AlarmEvent]:
        return self._record(self.engine.tick(now=at(t)))

    def stream(
        self,
        start: float,
        end: float,
        *,
        step: float = 1.0,
        device: str = "mon1",
        **values: float | None,
    ) -> list[AlarmEvent]:
        """Samples with the same values every `step` s from `start` to `end` inclusive."""
        events: list[AlarmEvent] = []
        t = start
        while t <= end + 1e-9:
            events += self.sample(t, device=device, **values)
            t += step
        return events

    def context(
        self,
        t: float,
        *,
        phase: Phase | None,
        case_id: str | None = "case-1",
        injection: tuple[str, float] | None = None,
    ) -> list[AlarmEvent]:
        inj = (injection[0], at(injection[1])) if injection else None
        return self._record(
            self.engine.set_context(
                self.name, case_id=case_id, phase=phase, injection=inj, now=at(t)
            )
        )

    def ack(self, alarm_id: str, t: float, user: str = "nurse.kim") -> list[AlarmEvent]:
        return self._record(self.engine.acknowledge(alarm_id, user=user, now=at(t)))

    def play(self, steps: Iterable[S | Tick]) -> list[tuple[float, str, str]]:
        out: list[AlarmEvent] = []
        for step in steps:
            if isinstance(step, Tick):
                out += self.tick(step.t)
            else:
                out += self.sample(
                    step.t, device=step.device, now=step.now, seq=step.seq, **step.values
                )
        return self.table(out)

    def table(self, events: Sequence[AlarmEvent]) -> list[tuple[float, str, str]]:
        return [(secs(ev.at), NAMES[type(ev)], self.kinds.get(ev.alarm_id, "")) for ev in events]

    def raised(self, kind: str | None = None) -> list[AlarmRaised]:
        return [ev for ev in self.log if isinstance(ev, AlarmRaised) and kind in (None, ev.kind)]

    def active_kinds(self) -> list[str]:
        return [a.kind for a in self.engine.active(self.name)]


def every(start: float, end: float, step: float = 1.0, **values: float | None) -> list[S]:
    """Scenario steps: the same values every `step` s from `start` to `end` inclusive."""
    n = round((end - start) / step)
    return [S(start + i * step, dict(values)) for i in range(n + 1)]


def merged(*parts: Iterable[S | Tick]) -> list[S | Tick]:
    """Scenario steps from several lists, in order of arrival (samples before ticks at a tie)."""
    steps = [step for part in parts for step in part]

    def arrival(step: S | Tick) -> tuple[float, bool]:
        if isinstance(step, S) and step.now is not None:
            return step.now, False
        return step.t, isinstance(step, Tick)

    return sorted(steps, key=arrival)
