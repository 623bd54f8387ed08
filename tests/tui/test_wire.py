"""The dashboard's reading of the MQTT contract, on payloads the service's own code builds."""

from __future__ import annotations

import json

import pytest

from suite.domain.alarms.model import Priority
from tests.tui.suite_data import NOW, SPO2_LOW, alarm_event, dumps, iso, suite_states
from tui import wire
from tui.wire import WireError


def test_a_room_snapshot_reads_back_the_case_the_service_described() -> None:
    state = wire.decode_state("IR1", dumps(suite_states()["IR1"]))
    assert state is not None and state.room == "IR1" and state.at == NOW
    case = state.case
    assert case is not None
    assert (case.case_id, case.procedure, case.levels, case.phase) == (
        "K-100",
        "kyphoplasty",
        ("T12", "L1"),
        "cement_injection",
    )
    assert case.version > 20
    t12, l1 = case.level_views
    assert t12.trocar == "transpedicular, unipedicular" and t12.trocar_confirmed_at is not None
    assert (t12.balloon_pressure_psi, t12.balloon_volume_ml) == (180.0, 3.0)
    assert [(i.volume_ml, i.leakage) for i in t12.injections] == [(4.0, "none")]
    assert l1.injections == () and l1.balloon_removed_at is not None
    assert case.cement_time_left_s == pytest.approx(690.0)
    assert case.time_out == "signed by dr.rad: T12, L1, bilateral"
    assert case.checklist["anticoagulants_held"] == ("not_applicable", "none taken")
    assert case.checklist_missing == ()
    assert [t.actor for t in case.timeline][:2] == ["his", "tech1"]
    assert case.timeline[-1].what == "cement on T12: 4 mL, leakage none"
    assert state.vitals["spo2"].value == 86.0
    assert (state.limits["spo2"].low, state.limits["spo2"].high) == (90.0, None)
    assert [(a.alarm_id, a.priority) for a in state.alarms] == [("a-spo2", Priority.HIGH)]
    assert [(d.name, d.online) for d in state.devices] == [("mon-1", True)]


def test_an_empty_retained_state_is_a_deleted_room() -> None:
    assert wire.decode_state("IR1", b"") is None


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda s: s.update(at="yesterday"), "rooms/IR1/state.at: 'yesterday' is not an ISO"),
        (lambda s: s.pop("at"), "rooms/IR1/state.at is missing"),
        (lambda s: s["case"].update(phase=7), "rooms/IR1/state.case.phase: expected text"),
        (lambda s: s["case"].update(levels="T12"), "rooms/IR1/state.case.levels: expected a list"),
        (lambda s: s["alarms"][0].update(priority="urgent"), "alarms[0].priority: 'urgent' is not"),
        (lambda s: s.update(room="IR2"), "the snapshot says room 'IR2'"),
    ],
)
def test_a_bad_snapshot_is_refused_naming_the_field(change, named: str) -> None:  # type: ignore[no-untyped-def]
    state = suite_states()["IR1"]
    change(state)
    with pytest.raises(WireError) as caught:
        wire.decode_state("IR1", dumps(state))
    assert named in str(caught.value)


def test_alarm_events_carry_the_alarm_after_them() -> None:
    raised = wire.decode_alarm_event("IR1", dumps(alarm_event(SPO2_LOW)))
    assert raised.event == "raised" and raised.alarm is not None
    assert (raised.alarm.alarm_id, raised.alarm.priority, raised.alarm.state) == (
        "a-spo2",
        Priority.HIGH,
        "active",
    )
    acked = alarm_event(SPO2_LOW, "acknowledged", at=NOW, user="nurse1")
    update = wire.decode_alarm_event("IR1", dumps(acked))
    assert (update.event, update.user, update.at) == ("acknowledged", "nurse1", NOW)


def test_a_limit_adjustment_event_names_who_and_why() -> None:
    payload = {
        "event_id": 9, "alarm_id": "lim-1", "event": "limit_adjusted", "at": iso(NOW),
        "room": "IR1", "case_id": "K-100", "parameter": "spo2", "low": 88, "high": None,
        "user": "nurse1", "reason": "COPD",
    }  # fmt: skip
    update = wire.decode_alarm_event("IR1", dumps(payload))
    assert update.alarm is None and update.limit is not None
    assert (update.limit.parameter, update.limit.low, update.limit.user, update.limit.reason) == (
        "spo2",
        88.0,
        "nurse1",
        "COPD",
    )


def test_vitals_keep_numbers_and_no_readings_and_skip_the_rest() -> None:
    payload = {
        "ts": iso(NOW),
        "seq": 1,
        "values": {"hr": 72, "spo2": None, "rr": "fast", "x": True},
    }
    reading = wire.decode_vitals("IR1", "mon-1", dumps(payload))
    assert reading.values == {"hr": 72.0, "spo2": None}
    with pytest.raises(WireError, match=r"vitals/mon-1.ts is missing"):
        wire.decode_vitals("IR1", "mon-1", dumps({"values": {}}))


def test_service_status_as_json_or_as_the_last_will() -> None:
    status = wire.decode_service_status(dumps({"online": True, "at": iso(NOW), "rooms": ["IR1"]}))
    assert status.online is True and status.at == NOW and status.data["rooms"] == ["IR1"]
    assert wire.decode_service_status(dumps({"online": False})).online is False
    assert wire.decode_service_status(b"offline").online is False


def test_a_command_and_its_reply() -> None:
    body = json.loads(wire.encode_command("c-1", "ack_alarm", {"alarm_id": "a-1"}))
    assert body == {"id": "c-1", "action": "ack_alarm", "alarm_id": "a-1"}
    with pytest.raises(ValueError, match="cannot be named id or action"):
        wire.encode_command("c-2", "resync", {"id": "x"})
    refused = wire.decode_reply(
        dumps({"id": "c-1", "ok": False, "error": "it needs nurse", "rule": "permission"})
    )
    assert (refused.ok, refused.error, refused.rule) == (False, "it needs nurse", "permission")
    with pytest.raises(WireError, match="reply.ok"):
        wire.decode_reply(dumps({"id": "c-1"}))
