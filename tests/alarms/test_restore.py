"""After a restart, `restore()` from what the store kept gives the same active alarms, and
the engine carries on as if it had never stopped: no second alarm, same recovery rules."""

from __future__ import annotations

from collections.abc import Iterable

from suite.domain.alarms import AlarmEngine, Param
from suite.domain.alarms.model import Alarm, AlarmEvent, AlarmRaised, LimitAdjusted
from suite.domain.values import Phase
from tests.alarms.monitor import Room, at


def fold(events: Iterable[AlarmEvent]) -> tuple[list[Alarm], list[LimitAdjusted]]:
    """What a store keeps: each alarm folded from its events, and the limit adjustments."""
    alarms: dict[str, Alarm] = {}
    limits: list[LimitAdjusted] = []
    for ev in events:
        if isinstance(ev, LimitAdjusted):
            limits.append(ev)
        elif isinstance(ev, AlarmRaised):
            alarms[ev.alarm_id] = Alarm.from_raised(ev)
        else:
            alarms[ev.alarm_id].apply(ev)
    return list(alarms.values()), limits


def before_restart() -> Room:
    room = Room()
    room.context(0, phase=Phase.SEDATION, case_id="case-1")
    room._record(
        room.engine.adjust_limit(
            "OR1", Param.HR, low=45, high=110, user="nurse.kim", reason="beta blocker", now=at(0)
        )
    )
    for t in range(0, 31):
        room.sample(t, spo2=85 if t < 20 else 97, hr=115)
        room.sample(t, device="mon2", etco2=38)
    room.ack(room.raised("hr_high")[0].alarm_id, 25)
    room._record(room.engine.device_status("OR1", "mon2", online=False, now=at(31)))
    room.play([])  # nothing else
    return room


def restarted(room: Room) -> Room:
    alarms, limits = fold(room.log)
    again = Room()
    again.engine.restore(alarms, limits)
    again.kinds = dict(room.kinds)
    return again


def test_restore_gives_the_same_active_alarms() -> None:
    room = before_restart()
    assert room.active_kinds() == ["spo2_low", "hr_high", "device_offline"]
    again = restarted(room)
    assert again.engine.active() == room.engine.active()
    assert again.engine.limits("OR1")[Param.HR].high == 110


def test_after_restore_conditions_go_on_and_end_by_the_usual_rules() -> None:
    room = before_restart()
    again = restarted(room)
    again.context(40, phase=Phase.SEDATION, case_id="case-1")
    # HR still above the patient's 110: not raised a second time.
    assert again.stream(40, 100, hr=115, spo2=97) == []
    assert again.table(again.stream(101, 106, hr=80)) == [(106, "cleared", "hr_high")]
    # The latched SpO2 alarm (condition ended before the restart) clears on acknowledgement.
    spo2 = next(a for a in again.engine.active() if a.kind == "spo2_low")
    assert again.table(again.ack(spo2.alarm_id, 107)) == [
        (107, "acknowledged", "spo2_low"),
        (107, "cleared", "spo2_low"),
    ]
    events = again._record(again.engine.device_status("OR1", "mon2", online=True, now=at(108)))
    assert again.table(events) == [(108, "cleared", "device_offline")]
    assert again.engine.active() == []


def test_new_alarm_ids_do_not_reuse_those_of_cleared_alarms() -> None:
    room = Room()
    room.play([])
    room.stream(0, 12, hr=130)
    room.stream(13, 20, hr=80)  # OR1-1 cleared
    room.stream(21, 40, spo2=85)  # OR1-2 active
    again = restarted(room)
    again.stream(41, 60, hr=130)
    assert [r.alarm_id for r in again.raised()] == ["OR1-3"]


def test_escalation_time_counts_from_before_the_restart() -> None:
    room = Room()
    room.stream(0, 60, hr=130)  # raised at 10, medium
    again = restarted(room)
    again.stream(61, 129, hr=130)
    assert again.tick(129) == []
    assert again.table(again.tick(130)) == [(130, "escalated", "hr_high")]


def test_restored_limits_belong_to_their_case() -> None:
    room = before_restart()
    again = restarted(room)
    again.context(40, phase=Phase.SEDATION, case_id="case-1")
    assert again.engine.limits("OR1")[Param.HR].high == 110
    again.context(41, phase=Phase.CHECKED_IN, case_id="case-2")
    assert again.engine.limits("OR1")[Param.HR].high == 120


def test_only_the_latest_cases_limits_are_taken_back() -> None:
    old = LimitAdjusted("", "OR1", at(0), "spo2", 85.0, None, "a", "why", case_id="case-0")
    new = LimitAdjusted("", "OR1", at(9), "hr", 45.0, 110.0, "b", "why", case_id="case-1")
    engine = AlarmEngine(Room().config)
    engine.restore([], [new, old])
    assert engine.adjusted_limits("OR1") == [new]


def test_an_embolism_alarm_survives_a_restart_and_the_baseline_comes_back_from_samples() -> None:
    from suite.domain.alarms import VitalSample
    from tests.alarms.test_embolism import INJECTION, KIND, embolic, prepared

    room = prepared()
    embolic(room, 620, 640)
    (alarm,) = room.engine.active()
    assert alarm.kind == KIND
    room.ack(alarm.alarm_id, 641)
    kept, limits = fold(room.log)

    # Without the samples: no baseline, and the acknowledged alarm is not "resolved" by that.
    blind = Room()
    blind.engine.restore(kept, limits)
    blind.kinds = dict(room.kinds)
    blind.context(650, phase=Phase.CEMENT_INJECTION, injection=("L1", INJECTION))
    assert blind.stream(650, 700, spo2=91, hr=70) == []
    assert [a.kind for a in blind.engine.active()] == [KIND]

    # With the stored samples of the last half hour: the same baseline, and the alarm ends
    # by the usual rule once the pattern is gone.
    history = [
        VitalSample("OR1", "mon1", at(t), {Param.SPO2: 97 + t % 3, Param.HR: 69 + t % 3})
        for t in range(0, 600)
    ] + [VitalSample("OR1", "mon1", at(0), {Param.NIBP_SYS: 130})]
    again = Room()
    again.engine.restore(kept, limits, samples=history)
    again.kinds = dict(room.kinds)
    again.context(650, phase=Phase.CEMENT_INJECTION, injection=("L1", INJECTION))
    assert again.engine.baseline("OR1") == {Param.SPO2: 98, Param.HR: 70, Param.NIBP_SYS: 130}
    assert again.table(again.stream(650, 700, spo2=98, hr=70)) == [(680, "cleared", KIND)]
