"""The dashboard's alarm sounds in simulated time (tui/annunciator.py): no event loop, no
clock; each step is a service time and the open alarms as the dashboard sees them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from suite.domain.alarms.model import Priority
from suite.settings import TUI_REPEAT_S, TuiSettings
from tui.annunciator import (
    DEFAULT_REPEAT_S,
    Annunciation,
    Annunciator,
    Reason,
    SoundMode,
    SoundPlan,
)
from tui.views import AlarmView

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def alarm(alarm_id: str, priority: Priority, *, room: str = "IR1", raised: float = 0) -> AlarmView:
    return AlarmView(
        alarm_id=alarm_id,
        room=room,
        kind=f"{alarm_id}_kind",
        priority=priority,
        message=f"{alarm_id} message",
        state="active",
        raised_at=at(raised),
    )


def acked(a: AlarmView) -> AlarmView:
    return replace(a, state="acknowledged", acknowledged_by="nurse1")


def paused(a: AlarmView, until: float) -> AlarmView:
    return replace(a, audio_paused_by="nurse1", audio_paused_until=at(until))


def run(
    annunciator: Annunciator, steps: list[tuple[float, list[AlarmView]]]
) -> list[tuple[float, Priority, Reason]]:
    """Tick once a second from each step's time to the next one's; the sounds made."""
    heard: list[tuple[float, Priority, Reason]] = []
    for i, (start, alarms) in enumerate(steps):
        end = steps[i + 1][0] if i + 1 < len(steps) else start + 1
        t = start
        while t < end:
            sound = annunciator.tick(alarms, at(t))
            if sound is not None:
                heard.append((t, sound.priority, sound.reason))
            t += 1
    return heard


def test_an_unacknowledged_high_alarm_repeats_at_its_interval_until_acknowledged() -> None:
    spo2 = alarm("spo2", Priority.HIGH)
    heard = run(Annunciator(), [(0, [spo2]), (35, [acked(spo2)]), (80, [])])
    assert heard == [
        (0, Priority.HIGH, Reason.ONSET),
        (10, Priority.HIGH, Reason.REPEAT),
        (20, Priority.HIGH, Reason.REPEAT),
        (30, Priority.HIGH, Reason.REPEAT),
    ]  # nothing after the acknowledgement at 35 s


def test_the_interval_is_the_plan_s_per_priority() -> None:
    plan = SoundPlan(repeat_s={Priority.HIGH: 4.0, Priority.MEDIUM: 7.0, Priority.LOW: 30.0})
    heard = run(Annunciator(plan), [(0, [alarm("hr", Priority.MEDIUM)]), (15, [])])
    assert [t for t, *_ in heard] == [0, 7, 14]
    heard = run(Annunciator(plan), [(0, [alarm("x", Priority.LOW)]), (61, [])])
    assert [t for t, *_ in heard] == [0, 30, 60]


def test_a_low_alarm_sounds_once_by_default() -> None:
    heard = run(Annunciator(), [(0, [alarm("skew", Priority.LOW)]), (300, [])])
    assert heard == [(0, Priority.LOW, Reason.ONSET)]


def test_audio_paused_is_silent_until_the_pause_ends_then_sounds_at_once_and_repeats() -> None:
    spo2 = alarm("spo2", Priority.HIGH)
    heard = run(
        Annunciator(),
        [(0, [spo2]), (12, [paused(spo2, until=132)]), (150, [paused(spo2, until=132)])],
    )
    assert heard == [
        (0, Priority.HIGH, Reason.ONSET),
        (10, Priority.HIGH, Reason.REPEAT),
        (132, Priority.HIGH, Reason.ONSET),  # the pause ended: at once
        (142, Priority.HIGH, Reason.REPEAT),
    ]


def test_only_the_highest_priority_sounds() -> None:
    hr = alarm("hr", Priority.MEDIUM)
    spo2 = alarm("spo2", Priority.HIGH, raised=5)
    heard = run(Annunciator(), [(0, [hr]), (5, [hr, spo2]), (26, [hr, acked(spo2)]), (50, [])])
    assert heard == [
        (0, Priority.MEDIUM, Reason.ONSET),
        (5, Priority.HIGH, Reason.ONSET),
        (15, Priority.HIGH, Reason.REPEAT),
        (25, Priority.HIGH, Reason.REPEAT),
        # high acknowledged at 26: the medium one, heard at 0, repeats 20 s after the last sound
        (45, Priority.MEDIUM, Reason.REPEAT),
    ]


def test_an_alarm_masked_by_a_higher_one_sounds_at_once_when_that_one_is_acknowledged() -> None:
    spo2 = alarm("spo2", Priority.HIGH)
    hr = alarm("hr", Priority.MEDIUM, raised=3)
    heard = run(Annunciator(), [(0, [spo2]), (3, [spo2, hr]), (6, [acked(spo2), hr]), (8, [])])
    assert heard == [(0, Priority.HIGH, Reason.ONSET), (6, Priority.MEDIUM, Reason.ONSET)]


def test_a_paused_high_alarm_lets_the_medium_one_sound() -> None:
    spo2 = paused(alarm("spo2", Priority.HIGH), until=120)
    hr = alarm("hr", Priority.MEDIUM)
    heard = run(Annunciator(), [(0, [spo2, hr]), (25, [])])
    assert heard == [(0, Priority.MEDIUM, Reason.ONSET), (20, Priority.MEDIUM, Reason.REPEAT)]


def test_an_escalation_sounds_at_once() -> None:
    hr = alarm("hr", Priority.MEDIUM)
    heard = run(Annunciator(), [(0, [hr]), (7, [replace(hr, priority=Priority.HIGH)]), (20, [])])
    assert heard == [
        (0, Priority.MEDIUM, Reason.ONSET),
        (7, Priority.HIGH, Reason.ONSET),
        (17, Priority.HIGH, Reason.REPEAT),
    ]


def test_a_returning_condition_sounds_at_once() -> None:
    spo2 = alarm("spo2", Priority.HIGH)
    ended = replace(spo2, condition_active=False)  # latched: still unacknowledged
    heard = run(Annunciator(), [(0, [spo2]), (4, [ended]), (13, [spo2]), (14, [])])
    assert heard == [
        (0, Priority.HIGH, Reason.ONSET),
        (10, Priority.HIGH, Reason.REPEAT),  # latched, not acknowledged: it still repeats
        (13, Priority.HIGH, Reason.ONSET),
    ]


def test_every_alarm_of_the_loudest_priority_is_named_in_one_sound() -> None:
    a = alarm("spo2", Priority.HIGH, room="IR1")
    b = alarm("apnea", Priority.HIGH, room="IR2")
    c = alarm("hr", Priority.MEDIUM, room="IR1")
    sound = Annunciator().tick([c, b, a], at(0))
    assert sound == Annunciation(
        priority=Priority.HIGH,
        alarm_ids=("apnea", "spo2"),
        rooms=("IR1", "IR2"),
        reason=Reason.ONSET,
        at=at(0),
    )


def test_off_makes_no_sound() -> None:
    heard = run(Annunciator(SoundPlan(mode=SoundMode.OFF)), [(0, [alarm("s", Priority.HIGH)])])
    assert heard == []


def test_the_settings_defaults_are_the_annunciator_s() -> None:
    assert {Priority(p): s for p, s in TUI_REPEAT_S.items()} == DEFAULT_REPEAT_S
    partial = TuiSettings.model_validate({"repeat_s": {"high": 5}})
    assert partial.repeat_s == {"high": 5.0, "medium": 20.0, "low": None}
