"""`procsuite alarm list / ack` and `procsuite vitals show` against a running service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from procsuite.cli import main
from tests.mqtt.conftest import FAST_ALARMS, USERS, Broker, pub, running, settings_for, watching
from tests.mqtt.test_end_to_end import open_case, vitals


def config_file(broker: Broker, tmp_path: Path) -> Path:
    users = "\n".join(f'{name} = "{role}"' for name, role in USERS.items())
    spo2 = FAST_ALARMS["limits"]["spo2"]
    path = tmp_path / "procsuite.toml"
    path.write_text(
        f'site = "t"\ndata_dir = "{tmp_path / "var"}"\nmqtt_url = "{broker.url}"\n'
        'rooms = ["IR1", "IR2"]\n'
        f"[users]\n{users}\n"
        f"[mqtt]\nembedded = {'true' if broker.kind == 'embedded' else 'false'}\n"
        "reconnect_min_s = 0.2\n"
        f"[alarms.config]\nstale_feed_s = 60\nclock_skew_s = 3600\n"
        f"[alarms.config.limits.spo2]\nlow = {spo2['low']}\ndelay_s = {spo2['delay_s']}\n"
    )
    return path


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.asyncio
async def test_list_acknowledge_and_show_vitals_from_the_command_line(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_file(broker, tmp_path)
    settings = settings_for(broker, tmp_path)
    async with running(settings) as run, watching(broker) as watch:
        case_id = await open_case(run)
        t0 = datetime.now(UTC).replace(second=0, microsecond=0)
        topic = "procsuite/t/rooms/IR1/vitals/mon-1"
        for i, value in enumerate((85, 84, 83)):
            await pub(
                broker.port, topic, vitals(t0 + timedelta(seconds=2 * i), i + 1, spo2=value, hr=90)
            )
        raised = await watch.wait_for(
            lambda t, b: t.endswith("/alarms/IR1") and b.get("kind") == "spo2_low"
        )
        alarm_id = raised["alarm_id"]
        await run.runner.ingest.recorder.flushed()

        code, out = await cli(capsys, "--config", str(cfg), "alarm", "list", "--room", "IR1")
        assert code == 0 and alarm_id in out and "HIGH" in out and "spo2_low" in out

        code, out = await cli(
            capsys, "--config", str(cfg), "alarm", "ack", alarm_id, "--user", "tech1"
        )
        assert code == 1
        assert (
            "refused: ack_alarm is not allowed for tech1 (technologist); it needs admin or nurse (permission)"
            in out
        )

        code, out = await cli(
            capsys, "--config", str(cfg), "alarm", "ack", alarm_id, "--user", "nurse1"
        )
        assert code == 0 and f"acknowledged {alarm_id} (spo2_low, high) by nurse1" in out

        code, out = await cli(capsys, "--config", str(cfg), "vitals", "show", case_id)
        assert code == 0
        header, line = out.strip().splitlines()
        assert "SpO2 %" in header and "HR /min" in header
        assert (
            line.startswith(f"{t0:%Y-%m-%d %H:%M}")
            and " 84 " in f"{line} "
            and " 90 " in f"{line} "
        )

    code, out = await cli(capsys, "--config", str(cfg), "alarm", "list", "--room", "IR1", "--all")
    assert code == 0 and "acknowledged" in out and "ack nurse1" in out
