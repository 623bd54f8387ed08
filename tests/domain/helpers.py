"""Drive a case in pure domain code up to a chosen step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from suite.domain import commands as c
from suite.domain.case import Case, replay
from suite.domain.policy import DEFAULT_POLICY, WorkflowPolicy
from suite.domain.values import Procedure
from suite.domain.workflow import decide
from tests.scenarios import full_case, schedule

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def apply(
    case: Case | None, command: c.Command, *, policy: WorkflowPolicy = DEFAULT_POLICY
) -> Case:
    events = decide(case, command, now=command.at, policy=policy)
    if case is None:
        new = replay("k1", events)
        assert new is not None
        return new
    for ev in events:
        case = case.apply(ev)
    return case


def case_until(
    stop: Callable[[c.Command], bool],
    *,
    procedure: Procedure = Procedure.KYPHOPLASTY,
    levels: tuple[str, ...] = ("T12", "L1"),
) -> Case:
    """The case with every command of a full case applied before the first one `stop` picks."""
    case = apply(None, schedule(T0, procedure=procedure, levels=levels))
    for command in full_case(T0, procedure=procedure, levels=levels):
        if stop(command):
            return case
        case = apply(case, command)
    return case


def before(kind: type[c.Command], **match: object) -> Callable[[c.Command], bool]:
    def pick(command: c.Command) -> bool:
        return isinstance(command, kind) and all(getattr(command, k) == v for k, v in match.items())

    return pick


def later(case: Case, seconds: float = 60) -> datetime:
    return case.last_at + timedelta(seconds=seconds)
