"""A real `procsuite serve` on PostgreSQL and mosquitto, the database stopped, a patient
desaturating: the alarm and the nurse's acknowledgement are announced during the outage, the
service is killed with SIGKILL before the database is back, and once it is restarted (same
data directory: the same local alarm journal) every announced event is stored once, in the
order it was announced (issue 14 point 1)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from suite.store.alarms import AlarmEventRow
from suite.store.database import Database
from tests.mqtt.conftest import Broker, watching
from tests.peers import Mosquitto, Postgres, run_postgres
from tests.production.instances import ROOT, start, vitals

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.mosquitto]


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    with run_postgres() as server:
        yield server


async def stored(db_url: str, alarm_id: str) -> list[AlarmEventRow]:
    db = Database.from_url(db_url)
    try:
        async with db.session() as s:
            query = (
                select(AlarmEventRow)
                .where(AlarmEventRow.alarm_id == alarm_id)
                .order_by(col(AlarmEventRow.id))
            )
            return list((await s.exec(query)).all())
    finally:
        await db.dispose()


@pytest.mark.timeout(240)
@pytest.mark.asyncio
async def test_alarm_events_announced_during_an_outage_survive_a_sigkill_and_are_stored_once(
    own_postgres: Postgres, mosquitto_peer: Mosquitto, tmp_path: Path
) -> None:
    db_url = own_postgres.create_database("journal_kill")
    proc = start("a", "IR1", db_url=db_url, broker=mosquitto_peer, tmp=tmp_path)
    procs: list[subprocess.Popen[bytes]] = [proc]
    try:
        async with watching(Broker("mosquitto", mosquitto_peer.port), name="kill-watch") as watch:
            await watch.client.subscribe(f"{ROOT}/status/+", qos=1)
            await watch.wait_for(
                lambda t, b: t == f"{ROOT}/status/a" and isinstance(b, dict)
                and b.get("online") is True and "IR1" in b.get("rooms", []),
                within_s=30,
            )  # fmt: skip
            await asyncio.to_thread(own_postgres.stop)

            t0 = datetime.now(UTC)
            topic = f"{ROOT}/rooms/IR1/vitals/mon-1"
            for i, value in enumerate([97, 85, 84, 84, 84]):
                sample = vitals(t0 + timedelta(seconds=1.5 * i), i + 1, spo2=value, hr=70)
                await watch.client.publish(topic, sample, qos=1)

            def on_alarm(event: str) -> Any:
                return lambda t, b: t == f"{ROOT}/alarms/IR1" and b.get("event") == event

            raised = await watch.wait_for(on_alarm("raised"), within_s=20)
            reply = await watch.send(
                "nurse1", {"id": "ack", "action": "ack_alarm", "alarm_id": raised["alarm_id"]}
            )
            assert reply["ok"] is True, reply
            await watch.wait_for(on_alarm("acknowledged"), within_s=10)
            announced = [
                b["event_uid"]
                for t, b in watch.messages
                if t == f"{ROOT}/alarms/IR1" and b.get("alarm_id") == raised["alarm_id"]
            ]

            proc.send_signal(signal.SIGKILL)  # still during the outage
            proc.wait(timeout=10)
            await asyncio.to_thread(own_postgres.start)
            procs.append(start("a", "IR1", db_url=db_url, broker=mosquitto_peer, tmp=tmp_path))

            rows: list[AlarmEventRow] = []
            async with asyncio.timeout(60):
                while len({r.event_uid for r in rows} & set(announced)) < len(set(announced)):
                    await asyncio.sleep(0.5)
                    rows = await stored(db_url, raised["alarm_id"])
        uids = [r.event_uid for r in rows]
        assert len(uids) == len(set(uids))  # each once
        assert [u for u in uids if u in announced] == list(dict.fromkeys(announced))  # in order
        assert [(r.event, r.user) for r in rows][:2] == [
            ("raised", None),
            ("acknowledged", "nurse1"),
        ]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
