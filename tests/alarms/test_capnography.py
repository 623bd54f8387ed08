"""Capnography during moderate sedation, in simulated time: hypoventilation against the
patient's own EtCO2 baseline, apnea while a capnograph is connected, low respiration rate."""

from __future__ import annotations

import pytest

from suite.domain.alarms import AlarmConfig
from suite.domain.alarms.config_mapping import config_from_mapping
from suite.domain.alarms.model import AlarmConditionEnded, Priority
from suite.domain.errors import InvalidValue
from suite.domain.values import Phase
from tests.alarms.monitor import Room, at
from tests.alarms.test_restore import fold


def sedated(*, etco2: float = 44.0, until: float = 150) -> Room:
    """Sedation starts at 0; a capnograph shows EtCO2 `etco2` and RR 12 every second."""
    room = Room()
    room.context(0, phase=Phase.SEDATION)
    room.stream(0, until, etco2=etco2, rr=12, spo2=97)
    return room


def breathing_then(room: Room, start: float, end: float, **values: float | None) -> list:
    """Samples with `values` every second from `start` to `end`, a tick after each."""
    events: list = []
    for t in range(int(start), int(end) + 1):
        events += room.sample(t, **values)
        events += room.tick(t + 0.5)
    return events


def test_hypoventilation_needs_the_high_limit_and_a_rise_over_the_baseline() -> None:
    room = sedated(etco2=44)  # a patient who runs high: baseline 44 mmHg after 120 s
    assert room.engine.etco2_baseline("OR1") == 44
    # 52 mmHg is above the 50 mmHg limit but only 8 above this patient's baseline: no alarm.
    assert breathing_then(room, 151, 250, etco2=52, rr=10) == []
    # 56 mmHg is 12 above the baseline: hypoventilation once held for the limit's 15 s.
    table = room.table(breathing_then(room, 251, 300, etco2=56, rr=9))
    assert table == [(266.0, "raised", "etco2_high")]
    (alarm,) = room.raised("etco2_high")
    assert alarm.message.startswith(
        "Hypoventilation: EtCO2 56 mmHg > 50 mmHg and 12 mmHg above the patient's baseline 44 mmHg"
    )
    assert alarm.source.rule == "capnography.hypoventilation"
    assert alarm.source.baseline == (("etco2", 44.0),)
    assert room.engine.etco2_baseline("OR1") == 44  # unchanged while alarming


def test_without_a_baseline_the_plain_high_limit_applies() -> None:
    room = Room()  # no case sedated: no baseline is taken
    room.stream(0, 150, etco2=44, rr=12)
    assert room.engine.etco2_baseline("OR1") is None
    table = room.table(breathing_then(room, 151, 200, etco2=52, rr=10))
    assert table == [(166.0, "raised", "etco2_high")]
    assert room.raised("etco2_high")[0].source.rule == "limit.etco2.high"


def test_the_baseline_is_not_taken_while_an_etco2_alarm_is_present() -> None:
    room = Room()
    room.context(0, phase=Phase.SEDATION)
    room.stream(0, 60, etco2=58, rr=8)  # hypercapnic from the start: the plain limit fires
    assert [a.kind for a in room.raised()] == ["etco2_high"]
    room.stream(61, 100, etco2=40, rr=12)  # ends after its clear delay, at 71
    assert room.engine.etco2_baseline("OR1") is None
    room.stream(101, 200, etco2=40, rr=12)
    # Taken from the 120 s after the condition ended, not from the 58 mmHg readings.
    assert room.engine.etco2_baseline("OR1") == 40


def test_apnea_on_the_capnograph_raises_a_high_latching_alarm_after_the_apnea_time() -> None:
    room = sedated(etco2=38)
    table = room.table(breathing_then(room, 151, 200, etco2=0))  # no breath after 150
    assert (170.0, "raised", "apnea") in table
    (alarm,) = room.raised("apnea")
    assert alarm.priority is Priority.HIGH and alarm.latching
    assert alarm.message == "Apnea: no breath detected by capnography for 20 s (monitor mon1)"
    assert alarm.source.rule == "capnography.apnea"
    # Breathing again ends the condition; the latched alarm waits for a nurse.
    events = breathing_then(room, 201, 205, etco2=36, rr=10)
    assert [type(e) for e in events if room.kinds.get(e.alarm_id) == "apnea"] == [
        AlarmConditionEnded
    ]
    assert "apnea" in room.active_kinds()


def test_a_respiration_rate_of_zero_from_the_capnograph_is_no_breath() -> None:
    room = sedated(etco2=38)
    table = room.table(breathing_then(room, 151, 200, etco2=12, rr=0))
    assert (170.0, "raised", "apnea") in table
    assert (166.0, "raised", "rr_low") in table  # the RR low limit (8 /min, 15 s) as before


def test_a_single_noisy_sample_raises_nothing() -> None:
    room = sedated(etco2=38, until=30)
    room.sample(31, etco2=0, rr=0)  # one sample without a breath
    room.sample(32, etco2=70, rr=12)  # one absurdly high one
    assert breathing_then(room, 33, 400, etco2=38, rr=12) == []
    assert room.log == []


def test_without_a_connected_capnograph_nothing_alarms_on_etco2() -> None:
    room = Room()
    room.context(0, phase=Phase.SEDATION)
    # A monitor with no capnograph: RR from impedance, no EtCO2 at all.
    assert breathing_then(room, 0, 300, spo2=97, hr=70, rr=12) == []
    assert room.engine.capnographs("OR1") == []
    # A capnograph whose sampling line comes off: EtCO2 "no reading" is not apnea.
    breathing_then(room, 301, 330, spo2=97, hr=70, rr=12, etco2=38)
    assert room.engine.capnographs("OR1") == ["mon1"]
    assert breathing_then(room, 331, 600, spo2=97, hr=70, rr=12, etco2=None) == []
    assert room.engine.capnographs("OR1") == []
    assert room.log == []


def test_a_capnograph_going_offline_ends_its_apnea_condition() -> None:
    room = sedated(etco2=38)
    breathing_then(room, 151, 180, etco2=0)
    assert "apnea" in room.active_kinds()
    events = room.engine.device_status("OR1", "mon1", online=False, now=at(181))
    events += room.tick(190)
    assert any(
        isinstance(e, AlarmConditionEnded) and room.kinds[e.alarm_id] == "apnea" for e in events
    )


def test_a_low_respiration_rate_with_breaths_is_low_rr_not_apnea() -> None:
    room = sedated(etco2=40)
    table = room.table(breathing_then(room, 151, 200, etco2=45, rr=6))
    assert table == [(166.0, "raised", "rr_low")]
    assert room.raised("rr_low")[0].priority is Priority.HIGH


def test_the_capnography_numbers_are_settings() -> None:
    config = config_from_mapping({"capnography": {"apnea_s": 30, "apnea_priority": "medium"}})
    assert config.capnography.apnea_s == 30
    assert config.capnography.apnea_priority is Priority.MEDIUM
    assert AlarmConfig().capnography.hypoventilation_rise_mmhg == 10
    with pytest.raises(InvalidValue, match="capnography.apnea_seconds"):
        config_from_mapping({"capnography": {"apnea_seconds": 30}})
    with pytest.raises(InvalidValue, match="apnea_s"):
        config_from_mapping({"capnography": {"apnea_s": 0}})

    room = Room(config=config)
    room.context(0, phase=Phase.SEDATION)
    room.stream(0, 60, etco2=38, rr=12)
    table = room.table(breathing_then(room, 61, 100, etco2=0))
    assert (90.0, "raised", "apnea") in table
    assert room.raised("apnea")[0].priority is Priority.MEDIUM


def test_a_monitor_that_stops_reporting_etco2_is_no_longer_a_capnograph() -> None:
    room = sedated(etco2=38, until=60)
    # Only SpO2 and HR from now on: the CO2 module was unplugged; that is not apnea.
    assert breathing_then(room, 61, 300, spo2=97, hr=70) == []
    assert room.engine.capnographs("OR1") == []


def test_an_apnea_alarm_restored_after_a_restart_is_not_raised_again_and_ends_on_a_breath() -> None:
    room = sedated(etco2=38)
    breathing_then(room, 151, 180, etco2=0)
    alarms, limits = fold(room.log)
    again = Room()
    again.engine.restore(alarms, limits)
    again.kinds = dict(room.kinds)
    again.context(200, phase=Phase.SEDATION)
    assert again.active_kinds() == ["apnea"]
    # Still no breath after the restart: the same alarm, not a second one.
    assert breathing_then(again, 200, 240, etco2=0) == []
    ended = breathing_then(again, 241, 242, etco2=35, rr=10)
    assert [type(e) for e in ended] == [AlarmConditionEnded]


def test_a_silent_capnograph_or_a_gap_in_its_reports_is_no_apnea() -> None:
    # A long stale-feed time (as the demo uses) leaves the capnograph "connected" meanwhile.
    room = Room(config=config_from_mapping({"stale_feed_s": 300}))
    room.context(0, phase=Phase.SEDATION)
    room.stream(0, 60, etco2=38, rr=12)
    assert [room.tick(t) for t in range(61, 120)] == [[]] * 59  # no reports: no evidence
    # Reports again after the gap, the first one without a breath: timed from here on.
    assert breathing_then(room, 120, 125, etco2=2) == []
    assert breathing_then(room, 126, 130, etco2=38, rr=12) == []
    assert room.log == []
