"""Checks shared by the workflow's steps; each raises a DomainError naming the broken rule."""

from __future__ import annotations

from suite.domain.case import Case
from suite.domain.errors import GuardError, InvalidValue, PhaseError
from suite.domain.values import Level, Phase


def require_text(value: str, what: str) -> str:
    if not value or not value.strip():
        raise InvalidValue(f"{what} must not be empty")
    return value.strip()


def require_range(value: float, low: float, high: float, what: str, unit: str) -> float:
    # NaN fails both comparisons, so it is refused as well.
    if not (low < value <= high):
        raise InvalidValue(f"{what} {value} {unit} is outside the plausible range ({low}, {high}]")
    return value


def require_phase(case: Case, allowed: tuple[Phase, ...], step: str) -> None:
    if case.phase not in allowed:
        names = " or ".join(p.value for p in allowed)
        raise PhaseError(f"{step} needs the case in {names}; it is in {case.phase.value}")


def level_on_order(case: Case, text: str) -> Level:
    level = Level.parse(text)
    if level not in case.order.levels:
        planned = ", ".join(str(lv) for lv in case.order.levels)
        raise GuardError(f"level {level} is not on the order (planned: {planned})")
    return level


BEFORE_TIME_OUT = (Phase.SCHEDULED, Phase.CHECKED_IN, Phase.PRE_PROCEDURE)


NEEDLE_PHASES = (
    Phase.LOCAL_ANESTHESIA,
    Phase.TROCAR_PLACEMENT,
    Phase.BALLOON_TAMP,
    Phase.CEMENT_INJECTION,
)


def needle_allowed(case: Case, step: str) -> None:
    if case.time_out is None:
        raise GuardError(f"{step} is locked until the time-out is signed")
    require_phase(case, NEEDLE_PHASES, step)
