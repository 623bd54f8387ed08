"""Timers and warnings as pure functions of (state, now), in simulated time."""

from dataclasses import replace
from datetime import date, timedelta

from suite.domain import commands as c
from suite.domain.checklist import ChecklistItem, ChecklistStatus
from suite.domain.timers import (
    WarningKind,
    cement_time_left_s,
    procedure_elapsed_s,
    warnings,
)
from suite.domain.values import Procedure
from tests.domain.helpers import apply, before, case_until, later


def kinds(case, now):
    return {w.kind for w in warnings(case, now)}


def test_cement_working_time_counts_down_from_mixing_and_warns_near_the_end():
    case = case_until(before(c.InjectCement))
    mixed = case.cement_mixed.at
    assert cement_time_left_s(case, mixed + timedelta(minutes=5)) == 15 * 60
    assert WarningKind.CEMENT_WORKING_TIME not in kinds(case, mixed + timedelta(minutes=14))
    assert WarningKind.CEMENT_WORKING_TIME in kinds(case, mixed + timedelta(minutes=16))
    over = warnings(case, mixed + timedelta(minutes=21))
    assert [w.kind for w in over if w.kind.name.startswith("CEMENT")] == [
        WarningKind.CEMENT_WORKING_TIME_OVER
    ]


def test_cement_timer_stops_once_every_level_has_cement_from_the_batch():
    case = case_until(before(c.LinkImage))
    assert cement_time_left_s(case, later(case)) is None


def test_procedure_overrun_after_an_hour_from_time_out():
    case = case_until(before(c.InjectCement))
    start = case.time_out.at
    assert procedure_elapsed_s(case, start + timedelta(minutes=30)) == 1800
    assert WarningKind.PROCEDURE_OVERRUN not in kinds(case, start + timedelta(minutes=59))
    assert WarningKind.PROCEDURE_OVERRUN in kinds(case, start + timedelta(minutes=61))


def test_fracture_older_than_eight_weeks_at_time_out_warns():
    case = case_until(before(c.GiveSedation))
    assert WarningKind.FRACTURE_AGE not in kinds(case, later(case))
    old = replace(
        case, order=replace(case.order, fracture_date=case.time_out.at.date() - timedelta(days=57))
    )
    assert WarningKind.FRACTURE_AGE in kinds(old, later(case))
    edge = replace(
        case, order=replace(case.order, fracture_date=case.time_out.at.date() - timedelta(days=56))
    )
    assert WarningKind.FRACTURE_AGE not in kinds(edge, later(case))


def test_fracture_age_before_time_out_uses_today():
    case = case_until(before(c.CheckIn), procedure=Procedure.VERTEBROPLASTY, levels=("L1",))
    old = replace(case, order=replace(case.order, fracture_date=date(2026, 1, 1)))
    assert WarningKind.FRACTURE_AGE in kinds(old, later(case))


def test_anticoagulant_not_held_warns():
    case = case_until(before(c.RecordChecklistItem))
    case = apply(
        case,
        c.RecordChecklistItem(
            at=later(case), item=ChecklistItem.ANTICOAGULANTS_HELD, status=ChecklistStatus.NOT_DONE
        ),
    )
    assert WarningKind.ANTICOAGULANT_NOT_HELD in kinds(case, later(case))
