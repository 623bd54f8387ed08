"""A nurse's alarm end to end, against the embedded broker and a real mosquitto: monitors
publish with the real `mosquitto_pub`, people command over MQTT."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.store import alarms as alarm_store
from suite.store import vitals as vitals_store
from tests.mqtt.conftest import Broker, persistent_mosquitto, pub, running, settings_for, watching
from tests.scenarios import schedule


def vitals(at: datetime, seq: int, **values: float | None) -> str:
    ts = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"ts": ts, "seq": seq, "values": values})


async def open_case(run, room: str = "IR1", accession: str = "ACC-E2E") -> str:
    cases = run.ctx.cases
    now = datetime.now(UTC)
    case_id = cases.new_case_id()
    await cases.execute(
        case_id,
        schedule(now - timedelta(minutes=5), room=room, accession=accession),
        actor="his",
        source=Source.HL7,
    )
    await cases.execute(case_id, c.CheckIn(at=now), actor="tech1", source=Source.TUI)
    return case_id


@pytest.mark.asyncio
async def test_a_low_spo2_published_with_mosquitto_pub_alarms_and_the_nurse_acknowledges(
    broker: Broker, tmp_path: Path
) -> None:
    settings = settings_for(broker, tmp_path)
    async with running(settings) as run, watching(broker) as watch:
        case_id = await open_case(run)
        topic = "procsuite/t/rooms/IR1/vitals/mon-1"
        t0 = datetime.now(UTC)
        await pub(broker.port, topic, vitals(t0, 1, spo2=97, hr=72))
        await pub(broker.port, topic, vitals(t0 + timedelta(seconds=1), 2, spo2=85, hr=75))
        # Still below the limit when the 2 s delay has passed on the monitor's clock.
        await pub(broker.port, topic, vitals(t0 + timedelta(seconds=3.5), 3, spo2=84, hr=76))

        raised = await watch.wait_for(
            lambda t, b: (
                t == "procsuite/t/alarms/IR1"
                and b.get("event") == "raised"
                and b.get("parameter", b["source"]["parameter"]) == "spo2"
            )
        )
        assert raised["case_id"] == case_id
        assert raised["priority"] == "high"
        assert "SpO2" in raised["message"]
        alarm_id = raised["alarm_id"]

        # Not a nurse: refused, in words, and nothing recorded.
        refused = await watch.send(
            "tech1", {"id": "c-0", "action": "ack_alarm", "alarm_id": alarm_id}
        )
        assert refused["ok"] is False
        assert refused["rule"] == "permission"
        assert (
            refused["error"]
            == "ack_alarm is not allowed for tech1 (technologist); it needs admin or nurse"
        )

        reply = await watch.send(
            "nurse1", {"id": "c-1", "action": "ack_alarm", "alarm_id": alarm_id}
        )
        assert reply["ok"] is True, reply
        assert reply["result"]["acknowledged_by"] == "nurse1"
        acked = await watch.wait_for(
            lambda t, b: t == "procsuite/t/alarms/IR1" and b.get("event") == "acknowledged"
        )
        assert acked["user"] == "nurse1" and acked["alarm_id"] == alarm_id

        async with run.ctx.db.session() as s:
            stored = await alarm_store.list_alarms(s, case_id=case_id, include_cleared=True)
            events = await alarm_store.events_for(s, alarm_id=alarm_id)
        assert [a.alarm_id for a in stored if a.kind == raised["kind"]] == [alarm_id]
        assert [(e.event, e.user, e.case_id) for e in events][:2] == [
            ("raised", None, case_id),
            ("acknowledged", "nurse1", case_id),
        ]
        await run.runner.ingest.recorder.flushed()
        async with run.ctx.db.session() as s:
            kept = await vitals_store.samples(s, case_id=case_id)
        assert [x.values[vitals_store.Param.SPO2] for x in kept] == [97, 85, 84]


@pytest.mark.asyncio
@pytest.mark.mosquitto
async def test_the_service_status_says_online_and_then_offline_when_it_stops(
    tmp_path: Path,
) -> None:
    # (With the embedded broker the broker stops with the service: nobody is left to tell.)
    with persistent_mosquitto() as mosq:
        broker = Broker("mosquitto", mosq.port, mosq)
        async with watching(broker) as watch:
            async with running(settings_for(broker, tmp_path)):
                up = await watch.wait_for(
                    lambda t, b: t == "procsuite/t/status" and b.get("online") is True
                )
                assert up["rooms"] == ["IR1", "IR2"]
            down = await watch.wait_for(
                lambda t, b: t == "procsuite/t/status" and b.get("online") is False
            )
            assert down == {"online": False}
