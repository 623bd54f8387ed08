"""Audio paused (IEC 60601-1-8): a silence pauses one alarm's sound for the configured time;
the alarm stays open and unacknowledged; escalating or a returning condition ends the pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from suite.domain.alarms.config import AlarmConfig
from suite.domain.alarms.errors import AlarmAlreadyCleared
from suite.domain.alarms.model import (
    Alarm,
    AlarmCleared,
    AlarmConditionEnded,
    AlarmConditionReturned,
    AlarmEscalated,
    AlarmRaised,
    AlarmSource,
    AlarmState,
    Category,
    Priority,
    pause_audio,
)
from suite.domain.errors import InvalidValue

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def alarm() -> Alarm:
    raised = AlarmRaised(
        "a1", "IR1", T0, kind="hr_high", category=Category.PHYSIOLOGICAL,
        priority=Priority.MEDIUM, message="HR high 150 /min", source=AlarmSource("hr_high"),
    )  # fmt: skip
    return Alarm.from_raised(raised)


def test_a_silence_pauses_the_audio_for_the_interval_and_leaves_the_alarm_active() -> None:
    a = alarm()
    a.apply(pause_audio(a, user="nurse1", now=T0 + timedelta(seconds=5), seconds=120))
    assert a.audio_paused_by == "nurse1"
    assert a.audio_paused_until == T0 + timedelta(seconds=125)
    assert a.state is AlarmState.ACTIVE and a.acknowledged_by is None


@pytest.mark.parametrize(
    "event",
    [
        AlarmEscalated("a1", "IR1", T0 + timedelta(seconds=9), priority=Priority.HIGH),
        AlarmConditionReturned("a1", "IR1", T0 + timedelta(seconds=9)),
    ],
    ids=["escalated", "condition returned"],
)
def test_an_escalation_or_a_returning_condition_ends_the_pause(event: object) -> None:
    a = alarm()
    a.apply(AlarmConditionEnded("a1", "IR1", T0 + timedelta(seconds=2)))
    a.apply(pause_audio(a, user="nurse1", now=T0 + timedelta(seconds=5), seconds=120))
    a.apply(event)  # type: ignore[arg-type]
    assert a.audio_paused_until is None and a.audio_paused_by is None


def test_a_cleared_alarm_cannot_be_silenced() -> None:
    a = alarm()
    a.apply(AlarmCleared("a1", "IR1", T0 + timedelta(seconds=3), reason="condition ended"))
    with pytest.raises(AlarmAlreadyCleared, match="a1 is already cleared"):
        pause_audio(a, user="nurse1", now=T0 + timedelta(seconds=5), seconds=120)


def test_the_interval_is_a_positive_setting() -> None:
    assert AlarmConfig().audio_pause_s == 120.0
    with pytest.raises(InvalidValue, match="audio_pause_s"):
        AlarmConfig(audio_pause_s=0)
