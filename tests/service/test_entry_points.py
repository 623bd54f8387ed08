"""One use case whatever the entry point (docs/architecture.md): the same case steps logged
through the MQTT command channel (as the dashboard does) and through `procsuite case log`
against the running service give the same events, the same audit rows and the same
refusals; discharge takes vitals stability from the alarms on every path, and the command
line refuses it while an alarm is active, with or without a running service."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from suite.domain import commands as c
from suite.domain.codec import to_data
from suite.domain.values import Procedure
from suite.store import cases as case_store
from suite.store.audit_trail import audit_trail
from suite.store.database import Database
from tests.mqtt.conftest import (
    FAST_ALARMS,
    USERS,
    Broker,
    eventually,
    running,
    settings_for,
    watching,
)
from tests.peers import free_port
from tests.scenarios import full_case
from tests.service.cli_words import words

RADIOLOGIST_STEPS = {"time-out", "imaging-check"}
STABLE_S = 3  # stable vitals needed in recovery before discharge (the site's setting)


def _toml(settings: Any, path: Path) -> Path:
    users = "\n".join(f'{name} = "{role}"' for name, role in USERS.items())
    path.write_text(
        f'site = "{settings.site}"\nmqtt_url = "{settings.mqtt_url}"\n'
        f'data_dir = "{settings.data_dir.as_posix()}"\nrooms = ["IR1", "IR2"]\n'
        f"[users]\n{users}\n[workflow]\nrecovery_stable_vitals_s = {STABLE_S}\n"
    )
    return path


async def cli(config: Path, *argv: str) -> tuple[int, str, str]:
    """`procsuite --config FILE ...` as a person at a shell runs it (its own process)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "procsuite.cli", "--config", str(config), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def _fields(command: c.Command) -> dict[str, Any]:
    data = to_data(command)
    assert isinstance(data, dict)
    return {k: v for k, v in data.items() if k not in ("at", "type") and v is not None}


def _step_of(command: c.Command) -> str:
    return words(command)[0]


def _typed(command: c.Command) -> list[str]:
    """The words a person types for the step, at the time they type it (no --at)."""
    return words(command)[:-2]


def _actor(step: str) -> str:
    return "dr1" if step in RADIOLOGIST_STEPS else "tech1"


def _without_numbers(text: str) -> str:
    return re.sub(r"\d+", "N", text)


@pytest.mark.asyncio
@pytest.mark.slow
async def test_mqtt_and_the_command_line_apply_the_same_use_case(tmp_path: Path) -> None:
    broker = Broker("embedded", free_port())
    alarms = {**FAST_ALARMS, "phase_limits": {"recovery": {"spo2": {"delay_s": 2}}}}
    settings = settings_for(
        broker,
        tmp_path,
        workflow={"recovery_stable_vitals_s": STABLE_S},
        alarms={"config": alarms},
    )
    config = _toml(settings, tmp_path / "procsuite.toml")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    steps = [
        cmd
        for cmd in full_case(start, procedure=Procedure.VERTEBROPLASTY, levels=("L2",))
        if not isinstance(cmd, c.Discharge)
    ]
    fields = {
        "mrn": "M1", "name": "DOE^JANE", "sex": "F", "procedure": "vertebroplasty",
        "levels": ["L2"], "fracture_date": "2026-11-01",
    }  # fmt: skip
    async with running(settings) as run, watching(broker) as watcher:
        # Scheduled: one over MQTT (IR1), one with the command line (IR2), both as tech1.
        reply = await watcher.send(
            "tech1",
            {
                "id": "s1",
                "action": "schedule_case",
                "fields": {**fields, "accession": "A1", "room": "IR1"},
            },
        )
        assert reply["ok"] is True, reply
        mqtt_case = reply["result"]["case_id"]
        code, out, err = await cli(
            config, "case", "schedule", "--mrn", "M1", "--name", "DOE^JANE", "--sex", "F",
            "--accession", "A2", "--procedure", "vertebroplasty", "--levels", "L2",
            "--room", "IR2", "--fracture-date", "2026-11-01", "--actor", "tech1",
        )  # fmt: skip
        assert code == 0, err
        assert "through the service" in err
        cli_case = out.strip()

        for i, command in enumerate(steps):
            step = _step_of(command)
            if step == "time-out":  # a technologist may not sign it, on either path
                refused = await watcher.send(
                    "tech1",
                    {"id": f"t{i}", "action": "log_step", "case_id": mqtt_case, "step": step,
                     "fields": _fields(command)},
                )  # fmt: skip
                code, _, err = await cli(
                    config, "case", "log", cli_case, *_typed(command), "--actor", "tech1"
                )
                assert refused["ok"] is False and code == 1
                assert err.strip() == f"Error: refused: {refused['error']}"
            reply = await watcher.send(
                _actor(step),
                {"id": f"m{i}", "action": "log_step", "case_id": mqtt_case, "step": step,
                 "fields": _fields(command)},
            )  # fmt: skip
            assert reply["ok"] is True, (step, reply)
            code, out, err = await cli(
                config, "case", "log", cli_case, *_typed(command), "--actor", _actor(step)
            )
            assert code == 0, (step, out, err)
            assert "through the service" in out

        # A desaturation in both rooms: discharge is refused on both paths while it lasts.
        sample = {"ts": datetime.now(UTC).isoformat(), "values": {"spo2": 82, "hr": 80}}
        for room in ("IR1", "IR2"):
            await watcher.client.publish(
                f"procsuite/t/rooms/{room}/vitals/mon-{room}", json.dumps(sample), qos=1
            )
        for second in range(1, 5):  # the condition delay is 2 s
            later = {**sample, "ts": (datetime.now(UTC) + timedelta(seconds=second)).isoformat()}
            await asyncio.sleep(1)
            for room in ("IR1", "IR2"):
                await watcher.client.publish(
                    f"procsuite/t/rooms/{room}/vitals/mon-{room}", json.dumps(later), qos=1
                )
        await eventually(lambda: {a.room for a in run.alarms.active()} >= {"IR1", "IR2"})
        refused = await watcher.send(
            "nurse1",
            {"id": "d1", "action": "log_step", "case_id": mqtt_case, "step": "discharge"},
        )
        code, _, err = await cli(config, "case", "log", cli_case, "discharge", "--actor", "nurse1")
        assert refused["ok"] is False and refused["rule"] == "guard"
        assert "stable" in refused["error"] and code == 1
        assert _without_numbers(err.strip()) == _without_numbers(
            f"Error: refused: {refused['error']}"
        )
        # Nobody can claim stability by typing it.
        code, _, err = await cli(
            config, "case", "log", cli_case, "discharge",
            f"vitals_stable_since={start.isoformat()}", "--actor", "nurse1",
        )  # fmt: skip
        assert code == 1 and "cannot be given" in err

    # The same events and audit rows, step for step, from both entry points.
    db = Database.from_url(settings.database_url)
    try:
        async with db.session() as session:
            by_mqtt = await case_store.load(session, mqtt_case)
            by_cli = await case_store.load(session, cli_case)
            trail = await audit_trail(session, limit=1000)
    finally:
        await db.dispose()

    def shape(records: list[Any]) -> list[tuple[str, str, str]]:
        return [(type(r.event).__name__, r.actor, r.source.value) for r in records]

    assert shape(by_mqtt) == shape(by_cli)
    assert len(by_mqtt) > len(steps)  # every step stored (the schedule too)
    assert {r.source.value for r in by_cli} == {"mqtt"}  # it went through the service

    def audit(case_id: str) -> list[tuple[str, str, str]]:
        return [(e.user, e.source, e.action) for e in trail if case_id in e.subject]

    assert audit(mqtt_case) == audit(cli_case) and audit(mqtt_case)

    # No service now: the command line applies the same use case itself, says so, and still
    # refuses the discharge while the stored SpO2 alarm is active.
    code, _, err = await cli(config, "case", "log", cli_case, "discharge", "--actor", "nurse1")
    assert code == 1 and "discharge needs vitals stable" in err
    code, out, err = await cli(
        config, "case", "log", cli_case, "note", "kind=nursing", "text=calm", "--actor", "nurse1"
    )
    assert code == 0, err
    assert "no service running: applied to the database directly" in out
