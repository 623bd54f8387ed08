"""Limit alarms in simulated time: the right second, not before; one alarm, not ten."""

from __future__ import annotations

import pytest

from suite.domain.alarms import AlarmConfig, Param
from suite.domain.alarms.model import AlarmRaised, Category, Priority
from tests.alarms.monitor import Room, S, Tick, at, every

# SpO2 defaults: low 90 %, high priority, delay 10 s, hysteresis 2, clear delay 5 s.


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(every(0, 9, spo2=85), [], id="delay-1s: nothing yet"),
        pytest.param(every(0, 10, spo2=85), [(10, "raised", "spo2_low")], id="delay: raised"),
        pytest.param(
            [*every(0, 4, spo2=97), *every(5, 14, spo2=85), *every(15, 16, spo2=85)],
            [(15, "raised", "spo2_low")],
            id="delay counts from the first low sample",
        ),
        pytest.param(
            [*every(0, 9, spo2=85), Tick(9.5), Tick(10)],
            [(10, "raised", "spo2_low")],
            id="tick completes the delay between samples",
        ),
        pytest.param(
            [*every(0, 3, spo2=85), Tick(10)],
            [],
            id="a silent monitor's last value is not held past the hold time",
        ),
        pytest.param(
            [*every(0, 4, spo2=97), S(5, {"spo2": 80}), *every(6, 30, spo2=97)],
            [],
            id="one noisy low sample raises nothing",
        ),
        pytest.param(
            [S(t, {"spo2": 89 if t % 2 == 0 else 91}) for t in range(0, 11)],
            [(10, "raised", "spo2_low")],
            id="flapping inside the hysteresis band keeps the delay running",
        ),
        pytest.param(
            [*every(0, 8, spo2=85), *every(9, 9, spo2=None), Tick(10)],
            [],
            id="a no-reading sample stops the tick from completing",
        ),
    ],
)
def test_spo2_low_scenarios(steps: list[S | Tick], expected: list[tuple[float, str, str]]) -> None:
    assert Room().play(steps) == expected


def test_a_noisy_good_sample_does_not_clear_and_the_alarm_ends_once() -> None:
    room = Room()
    table = room.play(
        [
            *every(0, 10, spo2=85),  # raised at 10
            S(11, {"spo2": 98}),  # one noisy good sample
            *every(12, 30, spo2=85),
            *every(31, 40, spo2=95),  # back past 90 + 2 for the 5 s clear delay
        ]
    )
    assert table == [(10, "raised", "spo2_low"), (36, "condition_ended", "spo2_low")]


def test_a_flapping_value_raises_one_alarm_not_ten() -> None:
    room = Room()
    steps = [*every(0, 10, spo2=85)]
    # Then a minute of flapping: 12 s low, 3 s normal, over and over.
    t = 11
    while t < 71:
        steps += every(t, t + 2, spo2=96)
        steps += every(t + 3, t + 14, spo2=86)
        t += 15
    steps += every(71, 80, spo2=97)
    table = room.play(steps)
    assert [row for row in table if row[1] == "raised"] == [(10, "raised", "spo2_low")]
    assert table[-1] == (76, "condition_ended", "spo2_low")
    assert len(room.raised()) == 1


def test_hysteresis_back_above_the_limit_but_inside_the_margin_keeps_the_alarm() -> None:
    room = Room()
    room.stream(0, 10, spo2=85)
    assert room.stream(11, 60, spo2=91) == []  # >= 90 but < 92
    assert room.table(room.stream(61, 66, spo2=92)) == [(66, "condition_ended", "spo2_low")]


def test_high_limit_is_not_latching_and_clears_itself() -> None:
    room = Room()
    table = room.play([*every(0, 12, hr=130), *every(13, 20, hr=80)])
    assert table == [(10, "raised", "hr_high"), (18, "cleared", "hr_high")]
    raised = room.raised()[0]
    assert (raised.priority, raised.latching, raised.category) == (
        Priority.MEDIUM,
        False,
        Category.PHYSIOLOGICAL,
    )


def test_nibp_takes_each_measurement_at_once() -> None:
    room = Room()
    table = room.play(
        [S(0, {"nibp_sys": 120}), S(180, {"nibp_sys": 85}), S(360, {"nibp_sys": 112})]
    )
    assert table == [(180, "raised", "nibp_sys_low"), (360, "cleared", "nibp_sys_low")]


def test_the_raised_alarm_says_which_rule_which_monitor_and_which_samples() -> None:
    room = Room()
    room.engine.set_context("OR1", case_id="case-7", phase=None, injection=None, now=at(0))
    room.stream(0, 12, spo2=86)
    (raised,) = room.raised()
    assert isinstance(raised, AlarmRaised)
    assert raised.case_id == "case-7"
    assert raised.source.rule == "limit.spo2.low"
    assert (raised.source.device, raised.source.parameter) == ("mon1", "spo2")
    assert raised.source.evidence[0] == (at(0).isoformat(), 86)
    assert raised.source.evidence[-1] == (at(10).isoformat(), 86)
    assert len(raised.source.evidence) <= room.config.evidence_max
    assert "86 %" in raised.message and "90 %" in raised.message and "mon1" in raised.message


def test_any_monitor_raises_and_the_alarm_ends_when_no_monitor_has_it() -> None:
    room = Room()
    for t in range(0, 41):
        room.sample(t, device="mon1", spo2=85 if t < 30 else 97)
        room.sample(t, device="mon2", spo2=85 if 5 <= t < 35 else 97)
    table = room.table(room.log)
    assert table == [(10, "raised", "spo2_low"), (40, "condition_ended", "spo2_low")]
    assert room.raised()[0].source.device == "mon1"


def test_delays_run_on_the_monitors_clock_not_on_arrival() -> None:
    room = Room()
    # The monitor's clock is 100 s behind; every sample arrives 100 s "late".
    table = room.play([S(t, {"spo2": 85}, now=t + 100) for t in range(0, 10)] + [Tick(110)])
    assert table == [(110, "raised", "spo2_low")]


def test_out_of_order_and_duplicate_samples_are_not_evaluated() -> None:
    room = Room()
    room.stream(0, 8, spo2=85)
    room.sample(3, spo2=99)  # late duplicate of an older sample with another value
    room.sample(8, spo2=99)  # same time as the latest
    assert room.table(room.stream(9, 10, spo2=85)) == [(10, "raised", "spo2_low")]
    assert room.engine.counts.out_of_order == 2


def test_a_clock_that_jumps_back_with_a_newer_seq_is_followed() -> None:
    room = Room()
    for i, t in enumerate(range(100, 105)):
        room.sample(t, seq=i, spo2=85)
    # NTP pulls the monitor's clock back by 90 s; its sequence number goes on.
    for i, t in enumerate(range(10, 25), start=5):
        room.sample(t, now=t + 95, seq=i, spo2=85)
    assert room.engine.counts.clock_jumps == 1
    # The run restarted at the jump: raised 10 s after it on the new clock.
    assert [(r.kind, r.at) for r in room.raised()] == [("spo2_low", at(20 + 95))]


def test_a_phase_limit_and_a_limit_of_none_apply_at_the_next_sample() -> None:
    config = AlarmConfig(limits={Param.HR: AlarmConfig().limits[Param.HR]})
    room = Room(config)
    # No limit configured for SpO2 in this config: nothing, whatever the value.
    assert room.stream(0, 30, spo2=70) == []
    assert room.stream(31, 50, hr=40) != []
