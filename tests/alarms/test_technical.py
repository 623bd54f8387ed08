"""Technical alarms: offline, stale feed, sensor off, implausible values, clock skew, and
problems the adapters report."""

from __future__ import annotations

from suite.domain.alarms import Param
from suite.domain.alarms.model import Category, Priority
from tests.alarms.monitor import Room, S, Tick, at, every, merged


def test_device_offline_is_raised_by_its_last_will_and_cleared_when_back() -> None:
    room = Room()
    room.stream(0, 5, hr=70)
    events = room.engine.device_status("OR1", "mon1", online=False, now=at(6))
    assert room.table(room._record(events)) == [(6, "raised", "device_offline")]
    raised = room.raised("device_offline")[0]
    assert (raised.category, raised.priority, raised.source.device) == (
        Category.TECHNICAL,
        Priority.MEDIUM,
        "mon1",
    )
    assert "mon1" in raised.message
    # No stale-feed alarm on top of it while it is offline.
    assert room.tick(60) == []
    events = room.engine.device_status("OR1", "mon1", online=True, now=at(61))
    assert room.table(room._record(events)) == [(61, "cleared", "device_offline")]


def test_a_sample_from_an_offline_device_proves_it_online() -> None:
    room = Room()
    room._record(room.engine.device_status("OR1", "mon1", online=False, now=at(0)))
    assert room.table(room.sample(3, hr=70)) == [(3, "cleared", "device_offline")]


def test_stale_feed_at_the_right_second_and_cleared_by_the_next_sample() -> None:
    room = Room()
    table = room.play([*every(0, 10, hr=70), Tick(24), Tick(25), Tick(26), S(40, {"hr": 70})])
    assert table == [(25, "raised", "stale_feed"), (40, "cleared", "stale_feed")]


def test_a_monitor_that_announces_itself_but_never_sends_goes_stale() -> None:
    room = Room()
    room._record(room.engine.device_status("OR1", "mon9", online=True, now=at(0)))
    assert room.table(room.tick(14)) == []
    assert room.table(room.tick(15)) == [(15, "raised", "stale_feed")]


def test_spo2_null_or_zero_is_a_probe_off_not_a_desaturation() -> None:
    room = Room()
    table = room.play(
        [
            *every(0, 4, spo2=97),
            *every(5, 12, spo2=None),
            *every(13, 20, spo2=0),
            S(21, {"spo2": 96}),
        ]
    )
    assert table == [(15, "raised", "spo2_sensor_off"), (21, "cleared", "spo2_sensor_off")]
    assert room.raised("spo2_low") == []
    assert room.raised()[0].source.parameter == "spo2"


def test_a_heart_rate_of_zero_is_asystole_not_a_loose_lead() -> None:
    room = Room()
    room.stream(0, 10, hr=0)
    assert [r.kind for r in room.raised()] == ["hr_low"]
    room.stream(11, 25, hr=None)
    assert "hr_sensor_off" in [r.kind for r in room.raised()]


def test_implausible_values_raise_one_technical_alarm_and_no_physiological_one() -> None:
    room = Room()
    # A loose connector: SpO2 150 % every other second for 20 s, then good values.
    steps = [S(t, {"spo2": 150 if t % 2 else 97, "hr": -5 if t == 3 else 72}) for t in range(21)]
    table = room.play([*steps, *every(21, 31, spo2=97, hr=72)])
    assert table == [
        (1, "raised", "implausible_spo2"),
        (3, "raised", "implausible_hr"),
        (14, "cleared", "implausible_hr"),
        (30, "cleared", "implausible_spo2"),
    ]
    assert "SpO2 values implausible on monitor mon1: 150" in room.raised()[0].message
    assert room.engine.counts.implausible_values == 11
    assert room.raised("hr_low") == [] and room.raised("spo2_low") == []


def test_clock_skew_needs_its_delay_and_ends_with_the_first_sample_in_step() -> None:
    room = Room()
    # The monitor's clock is 60 s behind the service.
    skewed = [S(t, {"hr": 70}, now=t + 60) for t in range(0, 31)]
    table = room.play([*skewed, S(91, {"hr": 70}, now=91)])
    assert table == [(90, "raised", "clock_skew"), (91, "cleared", "clock_skew")]
    raised = room.raised("clock_skew")[0]
    assert "60 s behind" in raised.message and raised.priority is Priority.LOW


def test_a_backlog_replayed_after_a_broker_outage_is_not_clock_skew() -> None:
    room = Room()
    live = every(0, 10, hr=70)
    # Broker down 11..40: the monitor's queued samples all arrive at 41, then live again.
    backlog = [S(t, {"hr": 70}, now=41) for t in range(11, 41)]
    table = room.play(merged(live, [Tick(30)], backlog, every(42, 80, hr=70)))
    assert table == [(30, "raised", "stale_feed"), (41, "cleared", "stale_feed")]


def test_adapter_problems_one_per_kind_cleared_by_a_good_reading_of_that_parameter() -> None:
    room = Room()
    engine = room.engine

    def report(kind: str, t: float, **kw: object) -> list:
        msg = f"{kind} on monitor mon1"
        return room._record(
            engine.technical("OR1", "mon1", kind=kind, message=msg, now=at(t), **kw)
        )

    assert room.table(report("implausible_spo2", 0)) == [(0, "raised", "implausible_spo2")]
    assert report("implausible_spo2", 1) == []  # one alarm per (room, device, kind)
    assert room.sample(2, hr=70) == []  # another parameter does not clear it
    assert room.table(room.sample(3, spo2=97)) == [(3, "cleared", "implausible_spo2")]
    report("malformed_json", 4, priority=Priority.MEDIUM)
    assert room.raised("malformed_json")[0].priority is Priority.MEDIUM
    assert room.sample(5, spo2=97, hr=70) == []  # a kind naming no parameter stays
    events = room._record(engine.clear_technical("OR1", "mon1", kind="malformed_json", now=at(6)))
    assert room.table(events) == [(6, "cleared", "malformed_json")]
    report("unknown_parameter", 7)
    assert room.raised("unknown_parameter")[0].priority is Priority.LOW


def test_forgetting_a_monitor_ends_its_alarms() -> None:
    room = Room()
    room.stream(0, 12, hr=130, spo2=None)
    assert sorted(room.active_kinds()) == ["hr_high", "spo2_sensor_off"]
    events = room._record(room.engine.forget_device("OR1", "mon1", now=at(13)))
    assert sorted(room.table(events)) == [
        (13, "cleared", "hr_high"),
        (13, "cleared", "spo2_sensor_off"),
    ]
    assert room.tick(100) == []  # and it is not missed as a stale feed
    assert room.engine.limits("OR1")[Param.HR].high == 120
