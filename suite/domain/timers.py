"""Timers and warnings of a case as pure functions of (state, now).

They inform the team; none of them blocks a step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from suite.domain.case import Case
from suite.domain.checklist import ChecklistItem, ChecklistStatus
from suite.domain.policy import DEFAULT_POLICY, WorkflowPolicy
from suite.domain.values import Phase


class WarningKind(StrEnum):
    CEMENT_WORKING_TIME = "cement_working_time"
    CEMENT_WORKING_TIME_OVER = "cement_working_time_over"
    PROCEDURE_OVERRUN = "procedure_overrun"
    FRACTURE_AGE = "fracture_age"
    ANTICOAGULANT_NOT_HELD = "anticoagulant_not_held"


@dataclass(frozen=True, slots=True)
class CaseWarning:
    kind: WarningKind
    message: str


def cement_time_left_s(
    case: Case, now: datetime, policy: WorkflowPolicy = DEFAULT_POLICY
) -> float | None:
    """Seconds of cement working time left (negative once over), or None with no cement mixed
    or once every planned level has its cement."""
    mixed = case.cement_mixed
    if mixed is None or case.phase not in _CEMENT_OPEN:
        return None
    if all(any(i.at >= mixed.at for i in case.level(lv).injections) for lv in case.order.levels):
        return None  # this batch has gone into every planned level
    elapsed = (now - mixed.at).total_seconds()
    return policy.cement_working_time_s - elapsed


_CEMENT_OPEN = (Phase.TROCAR_PLACEMENT, Phase.BALLOON_TAMP, Phase.CEMENT_INJECTION)


def procedure_elapsed_s(case: Case, now: datetime) -> float | None:
    """Seconds since the time-out, until closure; None before the time-out."""
    start = case.phase_started_at(Phase.TIME_OUT)
    if start is None:
        return None
    end = case.phase_started_at(Phase.CLOSURE) or case.phase_started_at(Phase.ABORTED)
    return ((end or now) - start).total_seconds()


def fracture_age_days(case: Case, now: datetime) -> int | None:
    """Fracture age on the day of the time-out (or today before it)."""
    if case.order.fracture_date is None:
        return None
    day = (case.time_out.at if case.time_out else now).date()
    return (day - case.order.fracture_date).days


def warnings(
    case: Case, now: datetime, policy: WorkflowPolicy = DEFAULT_POLICY
) -> list[CaseWarning]:
    """Every warning that applies to `case` at `now`."""
    found: list[CaseWarning] = []
    left = cement_time_left_s(case, now, policy)
    if left is not None:
        if left <= 0:
            found.append(
                CaseWarning(
                    WarningKind.CEMENT_WORKING_TIME_OVER,
                    f"cement mixed {-left / 60 + policy.cement_working_time_s / 60:.0f} min ago"
                    " is past its working time",
                )
            )
        elif left <= 0.25 * policy.cement_working_time_s:
            found.append(
                CaseWarning(
                    WarningKind.CEMENT_WORKING_TIME,
                    f"cement working time: {left / 60:.1f} min left",
                )
            )
    elapsed = procedure_elapsed_s(case, now)
    if elapsed is not None and elapsed > policy.procedure_overrun_s and not case.phase.is_final:
        found.append(
            CaseWarning(
                WarningKind.PROCEDURE_OVERRUN,
                f"procedure running {elapsed / 60:.0f} min, over the expected"
                f" {policy.procedure_overrun_s / 60:.0f} min",
            )
        )
    age = fracture_age_days(case, now)
    if age is not None and age > policy.fracture_max_age_days:
        found.append(
            CaseWarning(
                WarningKind.FRACTURE_AGE,
                f"fracture is {age} days old at time-out, older than"
                f" {policy.fracture_max_age_days // 7} weeks",
            )
        )
    if case.checklist_status(ChecklistItem.ANTICOAGULANTS_HELD) is ChecklistStatus.NOT_DONE:
        found.append(
            CaseWarning(
                WarningKind.ANTICOAGULANT_NOT_HELD,
                "anticoagulants / NSAIDs are recorded as not held",
            )
        )
    return found
