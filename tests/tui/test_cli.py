"""`procsuite tui`: its options, and a clear error before any screen for a bad broker URL."""

from __future__ import annotations

import pytest

from procsuite.cli import main


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
