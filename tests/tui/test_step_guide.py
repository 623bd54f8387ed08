"""The suggested next step and the prefilled form, checked against whole cases driven through
the real domain and read back through the room snapshot (as the dashboard sees them)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from suite.app.steps import STEPS, parse_step
from suite.domain import commands as c
from suite.domain.values import Procedure
from tests.scenarios import full_case
from tests.tui.suite_data import START, drive, dumps, room_state
from tui import step_guide, wire
from tui.views import CaseView

STEP_OF = {cls: name for name, cls in STEPS.items()}
AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

# Fields a person types (the rest must come prefilled right).
TYPED = {
    "labs": {"inr", "platelets_10e9_per_l"},
    "time-out": {"patient_confirmed", "side"},
    "sedation": {"drugs"},
    "local": {"drug", "volume_ml"},
    "balloon": {"pressure_psi", "volume_ml"},
    "cement": {"volume_ml"},
    "image": {"sop_instance_uid"},
    "imaging-check": {"modality", "result"},
    "checklist": {"item", "status", "detail"},  # the scenario's order differs from the list's
}


def view_after(procedure: Procedure, levels: tuple[str, ...], steps: int) -> CaseView:
    case = drive("K-1", room="IR1", procedure=procedure, levels=levels, steps=steps)
    decoded = wire.decode_state("IR1", dumps(room_state("IR1", case=case, vitals={}, at=AT)))
    assert decoded is not None and decoded.case is not None
    return decoded.case


def words(command: c.Command, only: set[str]) -> list[str]:
    found = []
    for f in dataclasses.fields(command):
        if f.name in only:
            value = getattr(command, f.name)
            if isinstance(value, tuple):  # drugs: drug:dose:unit, comma-separated
                value = ",".join(":".join(str(x) for x in dataclasses.astuple(d)) for d in value)
            if isinstance(value, bool):
                value = "true" if value else "false"
            found.append(f"{f.name}={getattr(value, 'value', value)}")
    return found


@pytest.mark.parametrize(
    ("procedure", "levels"),
    [(Procedure.KYPHOPLASTY, ("T12", "L1")), (Procedure.VERTEBROPLASTY, ("L2",))],
)
def test_the_suggested_step_and_its_prefilled_form_follow_a_whole_case(
    procedure: Procedure, levels: tuple[str, ...]
) -> None:
    commands = list(full_case(START, procedure=procedure, levels=levels))
    for done, command in enumerate(commands):
        view = view_after(procedure, levels, done)
        step = STEP_OF[type(command)]
        suggested, _ = step_guide.suggest(view)
        assert suggested == step, f"after {done} steps ({view.phase}) suggested {suggested}"
        signer = getattr(command, "signed_by", "tech1")
        values = step_guide.prefill(step, view, user=signer)
        typed = TYPED.get(step, set())
        given = [f"{k}={v}" for k, v in values.items() if k not in typed]
        built = parse_step(step, given + words(command, typed), at=command.at)
        if isinstance(command, c.Discharge):
            continue  # the service adds when the vitals became stable
        assert built == command, f"{step}: the form gives {built}, the case needs {command}"


def test_every_step_has_a_form_with_hints() -> None:
    for step in STEPS:
        for f in step_guide.fields_of(step):
            assert f.hint, f"{step}.{f.name} has no hint"
    fields = {f.name: f for f in step_guide.fields_of("trocar")}
    assert fields["approach"].choices == ("transpedicular", "parapedicular")
    assert not fields["approach"].required and fields["level"].required
    assert "labs" not in {f for f in step_guide.fields_of("checklist")[0].choices}
    assert [f.name for f in step_guide.fields_of("discharge")] == []  # the service fills it


def test_a_typed_time_is_today_in_the_terminals_zone() -> None:
    now = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert step_guide.parse_clock("", now=now, tz=UTC) is None
    assert step_guide.parse_clock("09:12", now=now, tz=UTC) == datetime(
        2026, 11, 24, 9, 12, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="HH:MM"):
        step_guide.parse_clock("9h12", now=now, tz=UTC)
