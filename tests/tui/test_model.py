"""The dashboard's picture of the suite: snapshots and alarm events arrive on different topics
and in any order; the picture must follow the newest word on each alarm."""

from __future__ import annotations

from datetime import timedelta

from suite.domain.alarms.model import Priority
from tests.tui.suite_data import HR_HIGH, NOW, SPO2_LOW, alarm_event, dumps, suite_states
from tui import wire
from tui.model import SuiteModel
from tui.views import ConnectionStatus, Link, RoomState, VitalsReading


def state(room: str, *, at_offset_s: float = 0, alarms: bool = True) -> RoomState:
    data = suite_states()[room]
    data["at"] = (NOW + timedelta(seconds=at_offset_s)).isoformat()
    if not alarms:
        data["alarms"] = []
    decoded = wire.decode_state(room, dumps(data))
    assert decoded is not None
    return decoded


def event(payload: dict[str, object], *, at_offset_s: float) -> object:
    payload = dict(payload, at=(NOW + timedelta(seconds=at_offset_s)).isoformat())
    return wire.decode_alarm_event(str(payload["room"]), dumps(payload))


def cleared(alarm_payload: dict[str, object]) -> dict[str, object]:
    return dict(alarm_payload, event="cleared", state="cleared")


def test_a_late_snapshot_does_not_bring_back_an_alarm_a_newer_event_cleared() -> None:
    model = SuiteModel()
    model.apply_state(state("IR1", at_offset_s=0))
    assert [a.alarm_id for a in model.active_alarms()] == ["a-spo2"]
    model.apply_alarm(event(cleared(alarm_event(SPO2_LOW)), at_offset_s=5))  # type: ignore[arg-type]
    assert model.active_alarms() == []
    model.apply_state(state("IR1", at_offset_s=3))  # built before the clearing, delivered after
    assert model.active_alarms() == []


def test_a_newer_snapshot_drops_an_alarm_whose_clearing_event_was_missed() -> None:
    model = SuiteModel()
    model.apply_state(state("IR1", at_offset_s=0))
    model.apply_state(state("IR1", at_offset_s=10, alarms=False))
    assert model.active_alarms("IR1") == []


def test_an_event_newer_than_the_snapshot_survives_it() -> None:
    model = SuiteModel()
    model.apply_alarm(event(alarm_event(HR_HIGH), at_offset_s=20))  # type: ignore[arg-type]
    model.apply_state(state("IR2", at_offset_s=10, alarms=False))  # older than the raise
    assert [a.alarm_id for a in model.active_alarms("IR2")] == ["a-hr"]


def test_alarms_sort_by_priority_then_unacknowledged_first() -> None:
    model = SuiteModel()
    for room in ("IR1", "IR2", "IR3"):
        model.apply_state(state(room))
    assert [(a.priority, a.needs_ack) for a in model.active_alarms()] == [
        (Priority.HIGH, True),
        (Priority.MEDIUM, False),
        (Priority.LOW, True),
    ]
    assert [a.alarm_id for a in model.banner_alarms()] == ["a-spo2"]
    assert model.highest_alarm("IR2") is not None


def test_trends_keep_device_time_order_whatever_order_samples_come_in() -> None:
    model = SuiteModel()
    model.apply_state(state("IR1"))  # SpO2 86 at NOW - 1 s
    for seconds, spo2 in ((-3, 90.0), (-2, 88.0), (-1, 86.0)):  # older samples arrive later
        model.apply_reading(
            VitalsReading("IR1", "mon-1", NOW + timedelta(seconds=seconds), {"spo2": spo2})
        )
    assert model.trend("IR1", "spo2") == [90.0, 88.0, 86.0]
    current = model.current("IR1", "spo2")
    assert current is not None and current.value == 86.0


def test_a_lost_link_makes_everything_stale_until_it_returns() -> None:
    model = SuiteModel(stale_after_s=30)
    model.apply_link(ConnectionStatus(Link.CONNECTED, NOW))
    model.apply_state(state("IR1"))
    assert not model.room_stale("IR1", NOW + timedelta(seconds=5))
    assert model.room_stale("IR1", NOW + timedelta(seconds=31))  # the service went quiet
    model.apply_link(ConnectionStatus(Link.DISCONNECTED, NOW + timedelta(seconds=6)))
    assert model.stale_since == NOW + timedelta(seconds=6)
    assert model.room_stale("IR1", NOW + timedelta(seconds=7))
    assert model.rooms["IR1"].case is not None  # the last known state is kept
    model.apply_link(ConnectionStatus(Link.CONNECTED, NOW + timedelta(seconds=8)))
    assert model.stale_since is None
