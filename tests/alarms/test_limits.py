"""Limits per phase and per patient (with who and why), reset when the case changes."""

from __future__ import annotations

import pytest

from suite.domain.alarms import LimitRefused, Param
from suite.domain.alarms.model import LimitAdjusted, Priority
from suite.domain.errors import InvalidValue
from suite.domain.values import Phase
from tests.alarms.monitor import Room, at


def adjust(room: Room, t: float, param: Param = Param.SPO2, **kw: object) -> list:
    args: dict = {"low": 88.0, "high": None, "user": "nurse.kim", "reason": "COPD, baseline 89 %"}
    args.update(kw)
    return room.engine.adjust_limit(room.name, param, now=at(t), **args)


def test_recovery_expects_a_higher_spo2_than_sedation() -> None:
    room = Room()
    room.context(0, phase=Phase.SEDATION)
    assert room.stream(0, 60, spo2=91) == []
    room.context(61, phase=Phase.RECOVERY)
    # Recovery: SpO2 below 92 % for 15 s.
    assert room.table(room.stream(61, 76, spo2=91)) == [(76, "raised", "spo2_low")]


def test_during_cement_injection_a_fall_in_pressure_is_high_priority() -> None:
    room = Room()
    room.context(0, phase=Phase.TROCAR_PLACEMENT)
    room.sample(0, nibp_sys=85)
    room.sample(120, nibp_sys=120)
    room.context(130, phase=Phase.CEMENT_INJECTION, injection=("L1", 130))
    room.sample(240, nibp_sys=85)
    assert [(r.at, r.priority) for r in room.raised("nibp_sys_low")] == [
        (at(0), Priority.MEDIUM),
        (at(240), Priority.HIGH),
    ]
    # ...and SpO2 has a shorter delay (5 s).
    assert room.table(room.stream(241, 246, spo2=85)) == [(246, "raised", "spo2_low")]


def test_a_nurse_adjusts_a_limit_for_this_patient_with_who_and_why() -> None:
    room = Room()
    room.context(0, phase=Phase.SEDATION, case_id="case-1")
    (event,) = adjust(room, 1)
    assert event == LimitAdjusted(
        alarm_id="", room="OR1", at=at(1), parameter="spo2", low=88.0, high=None,
        user="nurse.kim", reason="COPD, baseline 89 %", case_id="case-1",
    )  # fmt: skip
    assert room.stream(2, 60, spo2=89) == []
    assert room.table(room.stream(61, 71, spo2=87)) == [(71, "raised", "spo2_low")]
    assert room.engine.limits("OR1")[Param.SPO2].low == 88.0
    assert room.engine.adjusted_limits("OR1") == [event]


def test_the_patients_limit_outlasts_a_phase_change_but_not_the_case() -> None:
    room = Room()
    room.context(0, phase=Phase.SEDATION, case_id="case-1")
    adjust(room, 1)
    room.context(10, phase=Phase.RECOVERY, case_id="case-1")
    assert room.stream(10, 60, spo2=89) == []  # the patient's 88 %, not recovery's 92 %
    room.context(61, phase=Phase.CHECKED_IN, case_id="case-2")  # next patient
    assert room.engine.limits("OR1")[Param.SPO2].low == 90
    assert room.table(room.stream(61, 71, spo2=89)) == [(71, "raised", "spo2_low")]


def test_a_limit_set_before_the_case_was_opened_carries_into_it() -> None:
    room = Room()
    adjust(room, 0)
    room.context(5, phase=Phase.CHECKED_IN, case_id="case-1")
    assert room.engine.limits("OR1")[Param.SPO2].low == 88.0
    room.context(100, phase=None, case_id=None)  # the case is closed
    assert room.engine.limits("OR1")[Param.SPO2].low == 90


@pytest.mark.parametrize(
    ("param", "changes", "message"),
    [
        (Param.SPO2, {"low": 50.0}, "SpO2 low limit 50 % is outside 80-100 %"),
        (Param.SPO2, {"low": None}, "SpO2 low limit cannot be switched off"),
        (Param.HR, {"low": 60.0, "high": None}, "HR high limit cannot be switched off"),
        (Param.HR, {"low": 100.0, "high": 90.0}, "must be below the high limit"),
        (Param.HR, {"low": float("nan"), "high": 120.0}, "outside 25-250"),
        (Param.SPO2, {"reason": "  "}, "needs a reason"),
        (Param.SPO2, {"user": ""}, "needs the user's name"),
    ],
)
def test_absurd_limits_are_refused(param: Param, changes: dict, message: str) -> None:
    room = Room()
    with pytest.raises(LimitRefused, match=message) as err:
        adjust(room, 0, param, **changes)
    assert isinstance(err.value, InvalidValue)
    assert room.engine.adjusted_limits("OR1") == []


def test_a_limit_the_configuration_leaves_open_may_stay_open() -> None:
    room = Room()
    (event,) = adjust(room, 0, Param.ETCO2, low=15.0, high=55.0)
    assert (event.low, event.high) == (15.0, 55.0)
    (event,) = adjust(room, 1, Param.SPO2, low=91.0, high=None)
    assert (event.low, event.high) == (91.0, None)
