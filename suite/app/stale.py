"""Stale-safe step commands: a form carries the case version its user saw (`seen_version`);
if the same act was recorded since (the same step, on the same checklist item or level), the
command is refused as already done, naming who did it and when, and nothing is stored.

`refuse_if_done` is pure (the events recorded since are passed in); `check_seen` loads
them from the store for the use case (suite/app/actions.py `log_step`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING

from suite.domain import commands as c
from suite.domain import events as e
from suite.domain.case import Case
from suite.domain.envelope import Recorded
from suite.domain.errors import DomainError
from suite.store import cases as case_store

if TYPE_CHECKING:
    from suite.app.case_service import CaseService

# The event each step command records when it is carried out.
RECORDS: dict[type[c.Command], type[e.Event]] = {
    c.CheckIn: e.CheckedIn,
    c.RecordChecklistItem: e.ChecklistItemRecorded,
    c.RecordLabs: e.LabsRecorded,
    c.SignTimeOut: e.TimeOutSigned,
    c.GiveSedation: e.SedationGiven,
    c.PositionPatient: e.PatientPositioned,
    c.GiveLocalAnesthetic: e.LocalAnestheticGiven,
    c.PlaceTrocar: e.TrocarPlaced,
    c.ConfirmTrocar: e.TrocarConfirmed,
    c.InflateBalloon: e.BalloonInflated,
    c.RemoveBalloon: e.BalloonRemoved,
    c.MixCement: e.CementMixed,
    c.InjectCement: e.CementInjected,
    c.RecordDose: e.DoseRecorded,
    c.RecordImagingCheck: e.ImagingCheckRecorded,
    c.CloseWound: e.ClosureDone,
    c.StartRecovery: e.RecoveryStarted,
    c.Discharge: e.PatientDischarged,
    c.CancelCase: e.CaseCancelled,
    c.AbortCase: e.CaseAborted,
}  # notes and linked images may repeat: they are never "already done"


class AlreadyDone(DomainError):
    """The step was recorded by someone after the user's form was filled in."""

    rule = "already-done"


def _key(x: object) -> tuple[str, str]:
    item = getattr(x, "item", None)
    level = getattr(x, "level", None)
    return (str(getattr(item, "value", item) or ""), str(level or ""))


def same_act(command: c.Command, event: e.Event) -> bool:
    """Whether `event` records what `command` asks for (same step, item and level)."""
    kind = RECORDS.get(type(command))
    return kind is not None and isinstance(event, kind) and _key(command) == _key(event)


def step_name(command: c.Command, event: e.Event) -> str:
    item, level = _key(event)
    return item or (f"{type(command).__name__} on {level}" if level else type(command).__name__)


def refuse_if_done(
    command: c.Command, since: Sequence[Recorded], *, tz: tzinfo | None = None
) -> None:
    """Raise `AlreadyDone` when one of `since` (the events recorded after the version the
    user saw) already records `command`; the message names who and when."""
    for record in since:
        if same_act(command, record.event):
            at = record.event.at.astimezone(tz)
            raise AlreadyDone(
                f"{step_name(command, record.event)} already done by {record.actor} at"
                f" {at:%H:%M}; nothing was stored (open the form again if another is meant)"
            )


async def check_seen(
    cases: CaseService,
    case: Case,
    command: c.Command,
    seen_version: int | None,
    *,
    tz: tzinfo | None = None,
) -> None:
    """Refuse `command` as already done when the case moved on since `seen_version` (the
    version its form was filled in on) by recording the same act; no-op without a version."""
    if seen_version is None or seen_version >= case.version:
        return
    async with cases.db.session() as session:
        since = await case_store.load(session, case.case_id, after_seq=seen_version)
    refuse_if_done(command, since, tz=tz)
