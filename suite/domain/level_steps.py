"""The per-level steps: trocar, balloon (kyphoplasty), cement, and the images taken during them."""

from __future__ import annotations

from datetime import datetime

from suite.domain import commands as c
from suite.domain import events as e
from suite.domain.case import Case, LevelState
from suite.domain.errors import GuardError
from suite.domain.policy import WorkflowPolicy
from suite.domain.rules import (
    NEEDLE_PHASES,
    level_on_order,
    needle_allowed,
    require_range,
    require_text,
)
from suite.domain.values import Level, Procedure


def _level_step(case: Case, level_text: str, step: str) -> tuple[Level, LevelState]:
    """The level a needle step names and its state, once the step is allowed at all."""
    needle_allowed(case, step)
    level = level_on_order(case, level_text)
    return level, case.level(level)


def _balloon_step(case: Case, level_text: str, step: str) -> tuple[Level, LevelState]:
    if case.procedure is not Procedure.KYPHOPLASTY:
        raise GuardError("a balloon tamp is only used in kyphoplasty")
    return _level_step(case, level_text, step)


def place_trocar(case: Case, cmd: c.PlaceTrocar, p: WorkflowPolicy) -> list[e.Event]:
    level, state = _level_step(case, cmd.level, "trocar placement")
    if state.trocar is not None:
        raise GuardError(f"a trocar is already placed on {level}")
    return [e.TrocarPlaced(at=cmd.at, level=level, approach=cmd.approach, pedicles=cmd.pedicles)]


def confirm_trocar(case: Case, cmd: c.ConfirmTrocar, p: WorkflowPolicy) -> list[e.Event]:
    level, state = _level_step(case, cmd.level, "trocar confirmation")
    if state.trocar is None:
        raise GuardError(f"confirming the trocar on {level} needs a trocar placed on {level}")
    if state.trocar_confirmed_at is not None:
        raise GuardError(f"the trocar on {level} is already confirmed")
    return [e.TrocarConfirmed(at=cmd.at, level=level)]


def inflate_balloon(case: Case, cmd: c.InflateBalloon, p: WorkflowPolicy) -> list[e.Event]:
    level, state = _balloon_step(case, cmd.level, "balloon inflation")
    if state.trocar_confirmed_at is None:
        raise GuardError(f"balloon on {level} needs a confirmed trocar on {level}")
    if state.balloon_removed_at is not None:
        raise GuardError(f"the balloon on {level} is already removed")
    if state.has_cement:
        raise GuardError(f"{level} already has cement")
    require_range(cmd.pressure_psi, 0.0, p.max_balloon_pressure_psi, "balloon pressure", "psi")
    require_range(cmd.volume_ml, 0.0, p.max_balloon_volume_ml, "balloon volume", "mL")
    return [
        e.BalloonInflated(
            at=cmd.at, level=level, pressure_psi=cmd.pressure_psi, volume_ml=cmd.volume_ml
        )
    ]


def remove_balloon(case: Case, cmd: c.RemoveBalloon, p: WorkflowPolicy) -> list[e.Event]:
    level, state = _balloon_step(case, cmd.level, "balloon removal")
    if state.balloon is None:
        raise GuardError(f"removing the balloon on {level} needs it inflated first")
    if state.balloon_removed_at is not None:
        raise GuardError(f"the balloon on {level} is already removed")
    return [e.BalloonRemoved(at=cmd.at, level=level)]


def mix_cement(case: Case, cmd: c.MixCement, p: WorkflowPolicy) -> list[e.Event]:
    needle_allowed(case, "cement mixing")
    if not any(s.trocar_confirmed_at for _, s in case.levels):
        raise GuardError("cement mixing needs at least one confirmed trocar")
    return [e.CementMixed(at=cmd.at, product=require_text(cmd.product, "cement product"))]


def inject_cement(case: Case, cmd: c.InjectCement, p: WorkflowPolicy) -> list[e.Event]:
    level, state = _level_step(case, cmd.level, "cement injection")
    if state.trocar_confirmed_at is None:
        raise GuardError(f"cement on {level} needs a confirmed trocar on {level}")
    if case.procedure is Procedure.KYPHOPLASTY and state.balloon_removed_at is None:
        raise GuardError(
            f"cement on {level} needs the balloon on {level} deflated and removed first"
        )
    if case.cement_mixed is None:
        raise GuardError(f"cement on {level} needs the cement mixed first (log the mix time)")
    require_range(cmd.volume_ml, 0.0, p.max_cement_volume_ml, f"cement volume on {level}", "mL")
    return [
        e.CementInjected(
            at=cmd.at,
            level=level,
            volume_ml=cmd.volume_ml,
            leakage=cmd.leakage,
            mixed_at=case.cement_mixed.at,
        )
    ]


def _open_step(case: Case) -> tuple[str, Level | None]:
    """The step an image received now belongs to: the level worked on most recently."""
    latest: tuple[datetime, str, Level] | None = None
    for level, s in case.levels:
        for at, step in (
            (s.trocar.at if s.trocar else None, "trocar"),
            (s.balloon.at if s.balloon else None, "balloon"),
            (s.injections[-1].at if s.injections else None, "cement"),
        ):
            if at is not None and (latest is None or at >= latest[0]):
                latest = (at, step, level)
    if case.phase in NEEDLE_PHASES and latest is not None:
        return latest[1], latest[2]
    return case.phase.value, None


def link_image(case: Case, cmd: c.LinkImage, p: WorkflowPolicy) -> list[e.Event]:
    uid = require_text(cmd.sop_instance_uid, "SOP Instance UID")
    if any(i.sop_instance_uid == uid for i in case.images):
        return []  # the same instance sent again: already linked
    step, level = _open_step(case)
    if cmd.level is not None:
        level = level_on_order(case, cmd.level)
    return [
        e.ImageLinked(
            at=cmd.at, sop_instance_uid=uid, modality=cmd.modality, level=level, step=step
        )
    ]
