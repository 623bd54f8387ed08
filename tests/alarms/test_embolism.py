"""The baseline-aware "suspected cement embolism" alarm: inside the injection window only,
against the patient's own pre-injection baseline, naming the level."""

from __future__ import annotations

from suite.domain.alarms import Param
from suite.domain.alarms.model import Category, Priority
from suite.domain.values import Phase
from tests.alarms.monitor import Room

KIND = "suspected_cement_embolism"
INJECTION = 600.0  # seconds after T0: the first injection, on L1


def prepared(room: Room | None = None) -> Room:
    """Sedated patient, 10 minutes of steady vitals (SpO2 ~98, EtCO2 ~38, HR ~70, NIBP
    130 every 2 min), then cement on L1 at 600 s."""
    room = room or Room()
    room.context(0, phase=Phase.SEDATION)
    for t in range(0, 600):
        values: dict = {"spo2": 97 + t % 3, "etco2": 37 + t % 3, "hr": 69 + t % 3}
        if t % 120 == 0:
            values["nibp_sys"] = 130
        room.sample(t, **values)
    room.context(INJECTION, phase=Phase.CEMENT_INJECTION, injection=("L1", INJECTION))
    return room


def embolic(room: Room, start: float, end: float, **extra: float) -> list:
    """SpO2 down 7 points and systolic down 23 % (NIBP measured at `start`)."""
    values = {"spo2": 91.0, "etco2": 38.0, "hr": 70.0} | extra
    room.sample(start, nibp_sys=100, **values)
    return room.stream(start + 1, end, **values)


def test_the_baseline_is_the_median_of_the_minutes_before_the_first_injection() -> None:
    room = prepared()
    assert room.engine.baseline("OR1") == {
        Param.SPO2: 98,
        Param.ETCO2: 38,
        Param.HR: 70,
        Param.NIBP_SYS: 130,
    }
    # Frozen: what happens after the injection does not move it.
    room.stream(601, 700, spo2=93, hr=80)
    assert room.engine.baseline("OR1")[Param.SPO2] == 98


def test_before_any_injection_the_baseline_is_provisional() -> None:
    room = Room()
    room.stream(0, 299, spo2=96, hr=80)
    room.stream(300, 700, spo2=99, hr=60)
    # The latest 5 minutes, whatever the patient did before.
    assert room.engine.baseline("OR1") == {Param.SPO2: 99, Param.HR: 60}
    assert room.engine.baseline("OR2") == {}


def test_the_pattern_during_injection_raises_a_latching_high_alarm_naming_the_level() -> None:
    room = prepared()
    table = room.table(embolic(room, 620, 640))
    assert table == [(635, "raised", KIND)]  # held for 15 s from 620
    (alarm,) = room.raised(KIND)
    assert (alarm.priority, alarm.latching, alarm.category) == (
        Priority.HIGH,
        True,
        Category.PROCEDURE,
    )
    assert alarm.case_id == "case-1"
    assert "injection at L1" in alarm.message
    assert "SpO2 91 % (baseline 98 %)" in alarm.message
    assert dict(alarm.source.baseline) == {"spo2": 98, "nibp_sys": 130}
    assert [(p, v) for p, _, v in alarm.source.readings] == [("spo2", 91), ("nibp_sys", 100)]
    # No ordinary limit was crossed: SpO2 91 >= 90, systolic 100 >= 90.
    assert room.active_kinds() == [KIND]


def test_falling_etco2_with_rising_heart_rate_is_the_same_pattern() -> None:
    room = prepared()
    room.stream(620, 640, spo2=97, etco2=30, hr=88)  # EtCO2 -8 mmHg, HR +26 %
    assert [a.kind for a in room.raised()] == [KIND]


def test_one_half_of_the_pattern_is_not_enough() -> None:
    room = prepared()
    room.stream(620, 700, spo2=92, hr=70)  # SpO2 down, circulation steady
    room.stream(701, 800, spo2=98, hr=95)  # HR up, oxygenation steady
    assert room.raised(KIND) == []


def test_a_brief_pattern_shorter_than_its_delay_raises_nothing() -> None:
    room = prepared()
    embolic(room, 620, 630)
    room.stream(631, 700, spo2=98, etco2=38, hr=70)
    assert room.raised(KIND) == []


def test_the_same_pattern_before_the_first_injection_raises_only_limit_alarms() -> None:
    room = Room()
    room.context(0, phase=Phase.SEDATION)
    room.stream(0, 599, spo2=98, hr=70, etco2=38)
    room.sample(600, nibp_sys=130)
    room.sample(601, nibp_sys=85)
    room.stream(602, 700, spo2=85, hr=95)
    kinds = sorted(r.kind for r in room.raised())
    assert kinds == ["nibp_sys_low", "spo2_low"]


def test_the_pattern_after_the_window_raises_no_embolism_alarm() -> None:
    room = prepared()
    room.stream(601, 900, spo2=98, etco2=38, hr=70)
    room.context(901, phase=Phase.IMAGING_CHECK, injection=("L1", INJECTION))
    room.stream(902, 1499, spo2=98, etco2=38, hr=70)  # window: 15 min after 600 = 1500
    embolic(room, 1501, 1600, spo2=85)
    assert sorted(r.kind for r in room.raised()) == ["spo2_low"]


def test_still_armed_after_the_phase_moved_on_within_the_window() -> None:
    room = prepared()
    room.stream(601, 900, spo2=98, etco2=38, hr=70)
    room.context(901, phase=Phase.IMAGING_CHECK, injection=("L1", INJECTION))
    embolic(room, 1000, 1030)
    assert [r.kind for r in room.raised()] == [KIND]


def test_a_later_level_is_named_and_the_baseline_stays_before_the_first_injection() -> None:
    room = prepared()
    room.stream(601, 1199, spo2=98, etco2=38, hr=70)
    room.context(1200, phase=Phase.CEMENT_INJECTION, injection=("T12", 1200))
    room.stream(1200, 1209, spo2=98, etco2=38, hr=70)
    embolic(room, 1210, 1240)
    (alarm,) = room.raised(KIND)
    assert "injection at T12" in alarm.message
    assert room.engine.baseline("OR1")[Param.SPO2] == 98


def test_the_embolism_alarm_latches_until_acknowledged() -> None:
    room = prepared()
    embolic(room, 620, 640)
    room.stream(641, 700, spo2=98, etco2=38, hr=70)  # SpO2 back: the pattern is gone
    table = room.table(room.log)
    assert table == [(635, "raised", KIND), (671, "condition_ended", KIND)]
    (alarm,) = room.engine.active()
    assert room.table(room.ack(alarm.alarm_id, 800)) == [
        (800, "acknowledged", KIND),
        (800, "cleared", KIND),
    ]


def test_without_readings_before_the_injection_there_is_no_baseline_and_no_alarm() -> None:
    room = Room()
    room.context(0, phase=Phase.CEMENT_INJECTION, injection=("L1", 0))
    room.sample(1, nibp_sys=130)
    room.stream(2, 100, spo2=98, hr=70)
    room.sample(101, nibp_sys=90)
    room.stream(102, 200, spo2=91, hr=90)
    assert room.engine.baseline("OR1") == {}
    assert room.raised(KIND) == []


def test_a_new_case_starts_a_new_baseline() -> None:
    room = prepared()
    room.context(700, phase=Phase.CHECKED_IN, case_id="case-2")
    assert room.engine.baseline("OR1") == {}  # provisional, and no readings since
