"""`procsuite tui`: its options, and a clear error before any screen for a bad broker URL."""

from __future__ import annotations

import pytest

from procsuite.cli import main
from suite.domain.alarms.model import Priority
from suite.settings import TuiSettings
from tui.annunciator import SoundMode
from tui.cli import sound_plan


def test_tui_is_a_procsuite_command_with_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--user", "--mqtt-url", "--site"):
        assert option in out


def test_a_bad_broker_url_is_refused_before_the_dashboard_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tui", "--user", "tech1", "--mqtt-url", "http://broker:1883"]) == 2
    err = capsys.readouterr().err
    assert "broker URL 'http://broker:1883' must look like mqtt://host:1883" in err


def test_a_user_name_that_cannot_be_a_topic_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "--user", "tech/1", "--mqtt-url", "mqtt://127.0.0.1:1"]) == 2
    assert "user name 'tech/1' cannot be part of an MQTT topic" in capsys.readouterr().err


def test_sound_options_are_listed_and_a_bad_sound_command_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tui", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--sound [bell|command|off]" in out and "--sound-command PRIORITY=COMMAND" in out
    given = ["tui", "--user", "nurse1", "--sound-command", "loud=aplay /srv/high.wav"]
    assert main(given) == 2
    assert "'loud=aplay /srv/high.wav': expected PRIORITY=COMMAND" in capsys.readouterr().err


def test_the_command_line_sounds_win_over_the_settings() -> None:
    tui = TuiSettings.model_validate(
        {"sound": "bell", "sound_commands": {"high": "aplay a.wav"}, "repeat_s": {"medium": 25}}
    )
    plan = sound_plan(tui, sound=None, commands=("medium=aplay b.wav",))
    assert plan.mode is SoundMode.COMMAND  # a command given implies command mode
    assert plan.commands == {Priority.HIGH: "aplay a.wav", Priority.MEDIUM: "aplay b.wav"}
    assert plan.repeat_s == {Priority.HIGH: 10.0, Priority.MEDIUM: 25.0, Priority.LOW: None}
    assert plan.command_for(Priority.LOW) is None  # no command: the bell
    off = sound_plan(tui, sound="off", commands=("medium=aplay b.wav",))
    assert off.mode is SoundMode.OFF and off.command_for(Priority.HIGH) is None
    assert sound_plan(tui, sound=None, commands=()).mode is SoundMode.BELL
