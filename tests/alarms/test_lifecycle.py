"""Raised -> acknowledged -> cleared; latching for high priority; escalation in time."""

from __future__ import annotations

import pytest

from suite.domain.alarms import AlarmAlreadyCleared, UnknownAlarm
from suite.domain.alarms.model import AlarmAcknowledged, AlarmEscalated, AlarmState, Priority
from suite.domain.errors import DomainError, InvalidValue
from tests.alarms.monitor import Room, Tick, at, every, merged


def test_a_high_priority_alarm_latches_until_acknowledged() -> None:
    room = Room()
    room.stream(0, 10, spo2=85)
    room.stream(11, 20, spo2=97)  # condition ends at 16, the alarm stays
    (alarm,) = room.engine.active("OR1")
    assert (alarm.state, alarm.condition_active, alarm.latching) == (
        AlarmState.ACTIVE,
        False,
        True,
    )
    events = room.ack(alarm.alarm_id, 25, user="nurse.kim")
    assert room.table(events) == [(25, "acknowledged", "spo2_low"), (25, "cleared", "spo2_low")]
    assert isinstance(events[0], AlarmAcknowledged) and events[0].user == "nurse.kim"
    assert room.engine.active("OR1") == []


def test_acknowledged_while_present_it_clears_when_the_condition_ends() -> None:
    room = Room()
    room.stream(0, 10, spo2=85)
    alarm_id = room.raised()[0].alarm_id
    assert room.table(room.ack(alarm_id, 12)) == [(12, "acknowledged", "spo2_low")]
    (alarm,) = room.engine.active()
    assert (alarm.state, alarm.acknowledged_by, alarm.acknowledged_at) == (
        AlarmState.ACKNOWLEDGED,
        "nurse.kim",
        at(12),
    )
    # Still low for a minute: acknowledged alarms are not raised again.
    assert room.stream(11, 70, spo2=85) == []
    assert room.table(room.stream(71, 76, spo2=97)) == [(76, "cleared", "spo2_low")]
    # A new episode is a new alarm.
    room.stream(77, 90, spo2=84)
    assert [r.alarm_id for r in room.raised()] == ["OR1-1", "OR1-2"]


def test_a_latched_alarm_whose_condition_returns_stays_one_alarm() -> None:
    room = Room()
    table = room.play([*every(0, 10, spo2=85), *every(11, 20, spo2=97), *every(21, 31, spo2=85)])
    assert table == [
        (10, "raised", "spo2_low"),
        (16, "condition_ended", "spo2_low"),
        (31, "condition_returned", "spo2_low"),
    ]
    (alarm,) = room.engine.active()
    assert alarm.condition_active
    # Acknowledged now, it stays until the condition ends again.
    assert room.table(room.ack(alarm.alarm_id, 32)) == [(32, "acknowledged", "spo2_low")]
    assert room.table(room.stream(33, 38, spo2=97)) == [(38, "cleared", "spo2_low")]


def test_a_second_acknowledgement_changes_nothing() -> None:
    room = Room()
    room.stream(0, 10, hr=130)
    alarm_id = room.raised()[0].alarm_id
    room.ack(alarm_id, 11, user="nurse.kim")
    assert room.ack(alarm_id, 12, user="dr.lee") == []
    assert room.engine.active()[0].acknowledged_by == "nurse.kim"


def test_acknowledging_an_unknown_or_cleared_alarm_is_refused() -> None:
    room = Room()
    with pytest.raises(UnknownAlarm, match="no alarm OR1-9"):
        room.ack("OR1-9", 1)
    room.play([*every(0, 10, hr=130), *every(11, 16, hr=80)])
    with pytest.raises(AlarmAlreadyCleared, match="OR1-1 is already cleared") as err:
        room.ack("OR1-1", 17)
    assert isinstance(err.value, DomainError)
    with pytest.raises(InvalidValue, match="user's name"):
        room.ack("OR1-1", 17, user=" ")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [*every(0, 10, hr=130), *every(11, 129, hr=130), Tick(129.5)],
            [(10, "raised", "hr_high")],
            id="medium: not before 120 s",
        ),
        pytest.param(
            [*every(0, 10, hr=130), *every(11, 130, hr=130), Tick(130)],
            [(10, "raised", "hr_high"), (130, "escalated", "hr_high")],
            id="medium -> high at 120 s",
        ),
        pytest.param(
            merged(
                every(0, 900, step=10, temp=34.0),
                [Tick(359), Tick(360), Tick(479), Tick(480), Tick(900)],
            ),
            [
                (60, "raised", "temp_low"),
                (360, "escalated", "temp_low"),
                (480, "escalated", "temp_low"),
            ],
            id="low -> medium at 300 s -> high 120 s later, then no further",
        ),
    ],
)
def test_escalation_when_not_acknowledged(steps: list, expected: list) -> None:
    assert Room().play(steps) == expected


def test_escalation_raises_the_priority_and_an_acknowledged_alarm_does_not_escalate() -> None:
    room = Room()
    room.stream(0, 360, step=10, temp=34.0)
    room.tick(360)
    escalated = [e for e in room.log if isinstance(e, AlarmEscalated)]
    assert [e.priority for e in escalated] == [Priority.MEDIUM]
    assert room.engine.active()[0].priority is Priority.MEDIUM
    room.ack(room.raised()[0].alarm_id, 361)
    assert room.stream(370, 2000, step=10, temp=34.0) == []
    assert room.tick(2000) == []


def test_active_lists_high_priority_first_then_oldest() -> None:
    room = Room()
    for t in range(0, 61):
        room.sample(t, temp=34.0, hr=130 if t >= 20 else 80, spo2=85 if t >= 40 else 97)
    assert room.active_kinds() == ["spo2_low", "hr_high", "temp_low"]
    assert [a.kind for a in room.engine.active()] == room.active_kinds()
    assert room.engine.active("OR2") == []
