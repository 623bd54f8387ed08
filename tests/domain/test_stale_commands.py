"""Stale-safe commands (issue 17): a checklist item answered the same again records nothing;
a step recorded by someone after the user's form was filled is refused as already done."""

from __future__ import annotations

from datetime import UTC

import pytest

from suite.app.stale import AlreadyDone, refuse_if_done
from suite.domain import commands as c
from suite.domain import events as e
from suite.domain.checklist import ChecklistItem, ChecklistStatus
from suite.domain.envelope import Recorded, Source
from suite.domain.workflow import decide
from tests.domain.helpers import apply, before, case_until, later


def test_a_checklist_item_answered_the_same_again_records_nothing() -> None:
    case = case_until(before(c.RecordChecklistItem, item=ChecklistItem.NPO))
    item = ChecklistItem.ANTICOAGULANTS_HELD
    case = apply(case, c.RecordChecklistItem(at=later(case), item=item))
    again = c.RecordChecklistItem(at=later(case), item=item)
    assert decide(case, again, now=again.at) == []
    # A different answer for the same item is still recorded (a correction).
    changed = c.RecordChecklistItem(at=later(case), item=item, status=ChecklistStatus.NOT_DONE)
    assert [type(ev) for ev in decide(case, changed, now=changed.at)] == [e.ChecklistItemRecorded]


def _recorded(event: e.Event, actor: str = "nurse1") -> Recorded:
    return Recorded("K-1", 9, event, actor, Source.MQTT)


def test_the_same_item_or_level_recorded_since_is_already_done_naming_who_and_when() -> None:
    case = case_until(before(c.RecordChecklistItem, item=ChecklistItem.NPO))
    at = later(case)
    held = e.ChecklistItemRecorded(
        at=at, item=ChecklistItem.ANTICOAGULANTS_HELD, status=ChecklistStatus.DONE
    )
    command = c.RecordChecklistItem(at=at, item=ChecklistItem.ANTICOAGULANTS_HELD)
    with pytest.raises(AlreadyDone) as info:
        refuse_if_done(command, [_recorded(held)], tz=UTC)
    assert info.value.message.startswith(
        f"anticoagulants_held already done by nurse1 at {at:%H:%M}; nothing was stored"
    )
    assert info.value.rule == "already-done"
    # Another item, another level, a note: not the same act.
    npo = c.RecordChecklistItem(at=at, item=ChecklistItem.NPO)
    refuse_if_done(npo, [_recorded(held)], tz=UTC)
    trocar_t12 = e.TrocarConfirmed(at=at, level=case.order.levels[0])
    confirm_other = c.ConfirmTrocar(at=at, level=str(case.order.levels[-1]))
    assert len(case.order.levels) == 2  # T12 and L1
    refuse_if_done(confirm_other, [_recorded(trocar_t12)], tz=UTC)
    confirm_same = c.ConfirmTrocar(at=at, level=str(case.order.levels[0]))
    with pytest.raises(AlreadyDone, match="already done by nurse1"):
        refuse_if_done(confirm_same, [_recorded(trocar_t12)], tz=UTC)
    note = e.NoteAdded(at=at, kind="note", text="x")
    refuse_if_done(c.AddNote(at=at, kind="note", text="x"), [_recorded(note)])
