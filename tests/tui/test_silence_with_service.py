"""Silence (IEC 60601-1-8 audio paused) from the alarm list, end to end: a dashboard over MQTT
on a running service (real mosquitto, SQLite in tmp_path), driven with keys; the alarm
events stored (the audit trail) are checked afterwards."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from suite.store import alarms as alarm_store
from suite.store.audit_trail import audit_trail
from tests.tui.conftest import shows, until, words
from tests.tui.running_service import (
    FAST_ALARMS,
    SITE,
    mosquitto,
    running,
    service_settings,
    terminal,
)
from tests.tui.test_with_service import open_case

pytestmark = pytest.mark.mosquitto

ALARMS: dict[str, Any] = {
    **FAST_ALARMS,
    "limits": {
        **FAST_ALARMS["limits"],
        "hr": {"low": 50, "high": 120, "delay_s": 2, "hysteresis": 3, "clear_delay_s": 1},
    },
    "audio_pause_s": 90,  # the site's interval, not the 120 s default
}


async def monitor_sends(port: int, t0: datetime, *samples: tuple[float, dict[str, float]]) -> None:
    topic = f"procsuite/{SITE}/rooms/IR1/vitals/mon-1"
    async with aiomqtt.Client("127.0.0.1", port, identifier="monitor-ir1") as monitor:
        for dt, values in samples:
            ts = (t0 + timedelta(seconds=dt)).isoformat(timespec="milliseconds")
            body = {"ts": ts.replace("+00:00", "Z"), "seq": int(dt * 10), "values": values}
            await monitor.publish(topic, json.dumps(body).encode(), qos=1)


@pytest.mark.asyncio
async def test_silence_pauses_the_selected_alarm_not_the_one_that_arrived_above_it(
    tmp_path: Path,
) -> None:
    with mosquitto() as broker:
        settings = service_settings(broker, tmp_path, alarms={"config": ALARMS})
        async with running(settings) as service:
            case_id = await open_case(service, accession="ACC-SIL-1", check_in=True)
            async with terminal(broker, "nurse1", size=(120, 40)) as (app, pilot):
                await pilot.press("v")
                await shows(pilot, "IR1 vitals and alarms")
                t0 = datetime.now(UTC)
                fast = {"spo2": 97.0, "hr": 150.0}
                await monitor_sends(broker.port, t0, (0, fast), (1, fast), (3.5, fast))
                await shows(pilot, "HR high")
                hr = next(a for a in app.model.active_alarms("IR1") if a.kind == "hr_high")
                # SpO2 falls: a high-priority alarm sorts above the selected HR alarm.
                low = {"spo2": 84.0, "hr": 150.0}
                await monitor_sends(broker.port, t0, (4, low), (5, low), (7.5, low))
                await shows(pilot, "!!! HIGH IR1 SpO2")
                spo2 = next(a for a in app.model.active_alarms("IR1") if a.kind == "spo2_low")
                await until(
                    pilot, lambda: len(app.screen.query_one("#alarms").rows) == 2, what="2 rows"
                )
                await pilot.press("s")
                text = words(
                    await shows(pilot, f"DONE silence medium alarm '{hr.message}': audio paused")
                )
                await shows(pilot, "ACTIVE, audio paused 1:")  # 90 s counting down
                assert "ACK by" not in text  # silenced, not acknowledged
                shown = app.model.alarms[hr.alarm_id]
                assert shown.audio_paused_by == "nurse1" and shown.state == "active"
                assert app.model.alarms[spo2.alarm_id].audio_paused_until is None
            assert service.ctx is not None
            async with service.ctx.db.session() as session:
                hr_events = await alarm_store.events_for(session, alarm_id=hr.alarm_id)
                spo2_events = await alarm_store.events_for(session, alarm_id=spo2.alarm_id)
                audit = await audit_trail(session, user="nurse1")
    assert [(a.action, a.subject) for a in audit] == [
        ("alarm_audio_paused", f"alarm {hr.alarm_id} in IR1")
    ]
    paused = [x for x in hr_events if x.event == "audio_paused"]
    assert [(x.user, x.case_id) for x in paused] == [("nurse1", case_id)]
    until_at = datetime.fromisoformat(paused[0].payload["audio_paused_until"])
    assert until_at - datetime.fromisoformat(paused[0].payload["at"]) == timedelta(seconds=90)
    assert "acknowledged" not in [x.event for x in hr_events]
    assert "audio_paused" not in [x.event for x in spo2_events]


@pytest.mark.asyncio
async def test_a_technologist_may_not_silence_and_nothing_is_stored(tmp_path: Path) -> None:
    with mosquitto() as broker:
        settings = service_settings(broker, tmp_path)
        async with running(settings) as service:
            await open_case(service, accession="ACC-SIL-2", check_in=True)
            async with terminal(broker, "tech1") as (app, pilot):
                await pilot.press("v")
                await shows(pilot, "IR1 vitals and alarms")
                t0 = datetime.now(UTC)
                low = {"spo2": 84.0, "hr": 88.0}
                await monitor_sends(broker.port, t0, (0, low), (1, low), (3.5, low))
                await shows(pilot, "!!! HIGH IR1 SpO2")
                alarm = app.model.active_alarms("IR1")[0]
                await pilot.press("s")
                text = words(await shows(pilot, "REFUSED silence high alarm"))
                assert "silence_alarm is not allowed for tech1 (technologist)" in text
                assert "audio paused" not in text
            assert service.ctx is not None
            async with service.ctx.db.session() as session:
                stored = await alarm_store.events_for(session, alarm_id=alarm.alarm_id)
    assert "audio_paused" not in [x.event for x in stored]
