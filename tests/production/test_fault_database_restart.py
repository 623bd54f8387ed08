"""PostgreSQL restarted in the middle of a case (issue 8 fault test): a real `procsuite serve`
process, a real mosquitto, a monitor sending vitals all along."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from procsuite.bootstrap import DATABASE_DOWN_KIND
from suite.store import alarms as alarm_store
from suite.store import cases as case_store
from suite.store.database import Database
from suite.store.vitals import VitalSampleRow
from tests.mqtt.conftest import Broker, watching
from tests.peers import Mosquitto, Postgres, run_postgres
from tests.production.instances import ROOT, start, vitals

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto, pytest.mark.postgres]


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A PostgreSQL of this test alone: it is stopped and started again."""
    with run_postgres() as server:
        yield server


@pytest.mark.timeout(150)
@pytest.mark.asyncio
async def test_a_database_restart_mid_case_loses_no_sample_alarm_or_event(
    own_postgres: Postgres, mosquitto_peer: Mosquitto, tmp_path: Path
) -> None:
    db_url = own_postgres.create_database("restart")
    service = start("a", "IR1", db_url=db_url, broker=mosquitto_peer, tmp=tmp_path)
    sent: list[int] = []
    try:
        async with watching(Broker("mosquitto", mosquitto_peer.port), name="db-watch") as watch:
            await watch.client.subscribe(f"{ROOT}/status/+", qos=1)

            def database_ok(ok: bool):  # noqa: ANN202
                return lambda t, b: (
                    t == f"{ROOT}/status/a"
                    and isinstance(b, dict)
                    and b.get("store", {}).get("database", {}).get("ok") is ok
                )

            await watch.wait_for(database_ok(True), within_s=30)
            fields = {
                "mrn": "M1", "name": "DOE^JANE", "birth_date": "1950-02-03", "sex": "F",
                "accession": "ACC-DB", "procedure": "vertebroplasty", "levels": "L2",
                "room": "IR1",
            }  # fmt: skip
            reply = await watch.send(
                "tech1", {"id": "s", "action": "schedule_case", "fields": fields}
            )
            case_id = reply["result"]["case_id"]
            reply = await watch.send(
                "tech1", {"id": "c", "action": "log_step", "case_id": case_id, "step": "check-in"}
            )
            assert reply["ok"] is True

            # The monitor sends 5 samples a second for the whole test; SpO2 drops during the
            # outage.
            low = asyncio.Event()

            async def monitor() -> None:
                t0 = datetime.now(UTC)
                seq = 0
                while True:
                    seq += 1
                    at = t0 + timedelta(seconds=0.2 * seq)
                    payload = vitals(at, seq, spo2=84 if low.is_set() else 97, hr=70)
                    await watch.client.publish(f"{ROOT}/rooms/IR1/vitals/mon-1", payload, qos=1)
                    sent.append(seq)
                    await asyncio.sleep(0.2)

            feeding = asyncio.create_task(monitor())
            await asyncio.sleep(1.0)

            await asyncio.to_thread(own_postgres.stop)
            refused = await watch.send(
                "tech1",
                {"id": "k1", "action": "log_step", "case_id": case_id, "step": "checklist",
                 "fields": {"item": "consent"}},
                within_s=30,
            )  # fmt: skip
            assert refused["ok"] is False and refused["rule"] == "store", refused
            assert "not stored" in refused["error"]
            await watch.wait_for(database_ok(False), within_s=20)
            low.set()  # SpO2 84 for several seconds: an alarm, raised while the store is away
            await asyncio.sleep(4.0)
            await asyncio.to_thread(own_postgres.start)

            await watch.wait_for(database_ok(True), within_s=30)
            raised = await watch.wait_for(
                lambda t, b: t == f"{ROOT}/alarms/IR1" and b.get("event") == "raised", within_s=30
            )
            assert raised["case_id"] == case_id
            again = await watch.send(
                "tech1",
                {"id": "k2", "action": "log_step", "case_id": case_id, "step": "checklist",
                 "fields": {"item": "consent"}},
            )  # fmt: skip
            assert again["ok"] is True and again["result"]["version"] == 3
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeding
            await asyncio.sleep(3.0)  # the last samples reach the store
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0
    finally:
        if service.poll() is None:
            service.kill()

    db = Database.from_url(db_url)
    try:
        async with db.session() as session:
            events = await case_store.event_rows(session, case_id)
            rows = list(await session.exec(select(VitalSampleRow.seq)))
            alarms = await alarm_store.list_alarms(session, include_cleared=True)
    finally:
        await db.dispose()
    # The refused step left nothing; the one after the restart is version 3, no gap.
    assert [e.seq for e in events] == [1, 2, 3]
    # Every sample the monitor sent is stored exactly once, those of the outage included.
    stored = [seq for seq in rows if seq is not None]
    assert sorted(stored) == sent, (len(stored), len(sent))
    # The SpO2 alarm raised while the store was away was stored (and published) after it.
    assert [a.case_id for a in alarms if a.kind == "spo2_low"] == [case_id]
    # One technical alarm for the outage, site-wide, cleared when commits succeeded again.
    down = [a for a in alarms if a.kind == DATABASE_DOWN_KIND]
    assert [(a.room, a.state.value) for a in down] == [("*", "cleared")]
