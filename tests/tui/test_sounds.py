"""The dashboard's alarm sounds, driven with its real keys: the sound command is a real
script that appends a line to a file (a real subprocess), and time is the fake service's
clock, moved on by the test (no waiting on the wall clock)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from suite.app.alarm_records import event_payload
from suite.clock import iso
from suite.domain.alarms.model import AlarmAudioPaused, Priority
from tests.tui.conftest import loaded_fake, ready, screen_text, shows, until, words
from tests.tui.suite_data import NOW, SPO2_LOW, alarm, alarm_event
from tui.annunciator import SoundMode, SoundPlan
from tui.app import SuiteApp
from tui.fake_client import FakeSuiteClient
from tui.views import Reply

SCRIPT = """#!/bin/sh
echo "$PROCSUITE_ALARM_PRIORITY $PROCSUITE_ALARM_REASON $PROCSUITE_ALARM_ROOMS" >> "$1"
"""


class Clock:
    """The service's time as the test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def speaker(tmp_path: Path) -> tuple[str, Path]:
    script = tmp_path / "speaker.sh"
    script.write_text(SCRIPT)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    heard = tmp_path / "heard.txt"
    heard.touch()
    return f"{script} {heard}", heard


def sound_app(fake: FakeSuiteClient, clock: Clock, command: str) -> SuiteApp:
    plan = SoundPlan(
        mode=SoundMode.COMMAND,
        commands={p: command for p in Priority},
        repeat_s={Priority.HIGH: 10.0, Priority.MEDIUM: 20.0, Priority.LOW: None},
    )
    return SuiteApp(fake, clock=clock, tz=UTC, redraw_s=0.02, sound=plan)


async def heard_lines(pilot: Pilot[None], heard: Path, count: int) -> list[str]:
    """The speaker's lines once it has `count` of them (every command ran to its end)."""
    app = pilot.app
    assert isinstance(app, SuiteApp)

    def lines() -> list[str]:
        return heard.read_text().splitlines()

    def enough() -> bool:
        app.redraw()
        return len(lines()) >= count

    await until(pilot, enough, what=f"{count} sounds in {heard.name}")
    return lines()


async def shows_words(pilot: Pilot[None], text: str) -> str:
    """Wait until the screen shows `text`, runs of spaces read as one."""
    app = pilot.app
    assert isinstance(app, SuiteApp)

    def visible() -> bool:
        app.redraw()
        return text in words(screen_text(app))

    await until(pilot, visible, what=f"{text!r} on screen")
    return words(screen_text(app))


async def at_time(pilot: Pilot[None], clock: Clock, seconds: float) -> None:
    """Move the service's clock to NOW + `seconds` and let the dashboard see it."""
    clock.at = NOW + timedelta(seconds=seconds)
    app = pilot.app
    assert isinstance(app, SuiteApp)
    app.redraw()
    await pilot.pause()


def paused_event(a: Any, *, at: datetime, until_at: datetime) -> dict[str, Any]:
    ev = AlarmAudioPaused(a.alarm_id, a.room, at, user="nurse1", until=until_at)
    a.apply(ev)
    return {"event_id": 7, **event_payload(ev, a, case_id=a.case_id)}


@pytest.mark.asyncio
async def test_repeats_until_acknowledged_and_silence_holds_the_sound_until_the_pause_ends(
    tmp_path: Path,
) -> None:
    command, heard = speaker(tmp_path)
    clock = Clock(NOW)
    fake = loaded_fake(user="nurse1")
    app = sound_app(fake, clock, command)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        # IR1's SpO2 alarm (high) is audio paused until NOW+119 s; IR3's monitor-offline
        # alarm (low) is the loudest one sounding: once, no repeat.
        assert await heard_lines(pilot, heard, 1) == ["low onset IR3"]
        text = words(await shows(pilot, "0:20 since onset"))
        assert "SpO2 86 % below 90 % 0:20 since onset ACTIVE, audio paused 1:59" in text
        await at_time(pilot, clock, 60)
        await shows_words(pilot, "1:20 since onset ACTIVE, audio paused 0:59")
        await at_time(pilot, clock, 119)  # the pause ends: the high alarm sounds at once
        assert (await heard_lines(pilot, heard, 2))[1:] == ["high onset IR1"]
        text = words(await shows(pilot, "2:19 since onset"))
        assert "audio paused" not in text
        await at_time(pilot, clock, 129)
        assert (await heard_lines(pilot, heard, 3))[2:] == ["high repeat IR1"]

        # A nurse acknowledges it with `a` on the vitals screen; the service says so.
        fake.answer = lambda action, fields: Reply("", True, {})
        await pilot.press("v")
        await shows(pilot, "IR1 vitals and alarms")
        await pilot.press("a")
        await shows(pilot, "DONE acknowledge high alarm 'SpO2 86 % below 90 %'")
        assert fake.sent == [("ack_alarm", {"alarm_id": "a-spo2"})]
        ack_at = NOW + timedelta(seconds=130)
        acked = alarm_event(SPO2_LOW, "acknowledged", at=ack_at, user="nurse1")
        acked.update(state="acknowledged", acknowledged_by="nurse1", acknowledged_at=iso(ack_at))
        fake.publish("alarms/IR1", acked)
        await until(pilot, lambda: not app.model.alarms["a-spo2"].needs_ack, what="the ack")
        for t in (139, 149, 159):  # no more repeats
            await at_time(pilot, clock, t)

        # A new high alarm in IR2 sounds at once; `s` on it pauses its sound.
        apnea = alarm(
            "a-apnea", "IR2", kind="apnea", priority=Priority.HIGH,
            message="apnea 30 s", raised_at=NOW + timedelta(seconds=160),
        )  # fmt: skip
        await at_time(pilot, clock, 160)
        fake.publish("alarms/IR2", alarm_event(apnea))
        assert (await heard_lines(pilot, heard, 4))[3:] == ["high onset IR2"]
        await pilot.press("right_square_bracket")  # the vitals of the next room, IR2
        await shows(pilot, "IR2 vitals and alarms")
        await at_time(pilot, clock, 162)
        until_at = NOW + timedelta(seconds=162 + 120)
        fake.answer = lambda action, fields: Reply("", True, {"audio_paused_until": iso(until_at)})
        await pilot.press("s")
        await shows(pilot, "DONE silence high alarm 'apnea 30 s': audio paused until")
        assert fake.sent[-1] == ("silence_alarm", {"alarm_id": "a-apnea"})
        fake.publish(
            "alarms/IR2",
            paused_event(apnea, at=NOW + timedelta(seconds=162), until_at=until_at),
        )
        await shows_words(pilot, "apnea 30 s 0:02 since onset ACTIVE, audio paused 2:00")
        for t in (172, 200, 240, 281):  # paused: silent
            await at_time(pilot, clock, t)
        await at_time(pilot, clock, 282)  # the pause ends
        lines = await heard_lines(pilot, heard, 5)
        assert not any(s.priority is Priority.LOW for s in list(app.sounds)[1:])
    assert lines == [
        "low onset IR3",
        "high onset IR1",
        "high repeat IR1",
        "high onset IR2",
        "high onset IR2",
    ]
    assert [(s.priority, s.reason, s.at - NOW) for s in app.sounds][3:] == [
        (Priority.HIGH, "onset", timedelta(seconds=160)),
        (Priority.HIGH, "onset", timedelta(seconds=282)),
    ]


@pytest.mark.asyncio
async def test_a_failing_sound_command_is_shown_and_the_dashboard_carries_on(
    tmp_path: Path,
) -> None:
    failing = tmp_path / "broken-speaker.sh"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(failing.stat().st_mode | stat.S_IXUSR)
    clock = Clock(NOW)
    app = sound_app(loaded_fake(), clock, str(failing))
    async with app.run_test(size=(160, 30)) as pilot:
        await ready(pilot)
        text = words(await shows(pilot, "SOUND: sound command broken-speaker.sh failed"))
        assert "failed (exit 3), bell instead" in text
        await at_time(pilot, clock, 119)  # the high alarm sounds: fails again, still running
        await until(pilot, lambda: len(app.sounds) == 2, what="the second sound")
        await shows(pilot, "IR1")
        assert app.is_running
        assert "SOUND:" in screen_text(app)
