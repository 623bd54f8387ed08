from datetime import UTC, datetime

import pytest

from suite.domain.case import Case, replay
from suite.domain.values import Phase, Procedure, phases_for
from suite.domain.workflow import decide
from tests.scenarios import full_case, schedule

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def run(procedure: Procedure, levels: tuple[str, ...]) -> tuple[Case, list]:
    events = decide(None, schedule(T0, procedure=procedure, levels=levels), now=T0)
    case = replay("k1", events)
    assert case is not None
    for command in full_case(T0, procedure=procedure, levels=levels):
        new = decide(case, command, now=command.at)
        for ev in new:
            case = case.apply(ev)
        events += new
    return case, events


@pytest.mark.parametrize(
    ("procedure", "levels"),
    [(Procedure.KYPHOPLASTY, ("T12", "L1")), (Procedure.VERTEBROPLASTY, ("L2",))],
)
def test_a_case_runs_from_order_to_discharge_through_every_phase(procedure, levels):
    case, events = run(procedure, levels)
    assert case.phase is Phase.DISCHARGED
    assert tuple(p for p, _ in case.phase_history) == phases_for(procedure)
    for lv in case.order.levels:
        assert case.level(lv).cement_volume_ml == 4.0
    assert replay("k1", events) == case
