"""Two `procsuite serve` processes sharing a PostgreSQL database and a mosquitto, each serving
its own room. Each command is answered once, by the instance serving its room. One instance
is SIGKILLed mid-case: the other takes its room over within the lease time, carries the case
on from the event log, and raises the room's alarms. When the dead instance comes back, it gets
its room back."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from suite.store import cases as case_store
from suite.store.database import Database
from tests.mqtt.conftest import Broker, watching
from tests.peers import Mosquitto, Postgres
from tests.production.instances import ROOT, TTL_S, start, vitals

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto, pytest.mark.postgres]


async def events(db_url: str, case_id: str) -> list[tuple[int, str, str]]:
    db = Database.from_url(db_url)
    try:
        async with db.session() as session:
            rows = await case_store.event_rows(session, case_id)
    finally:
        await db.dispose()
    return [(r.seq, r.kind, r.actor) for r in rows]


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_an_instance_killed_mid_case_has_its_room_taken_over_and_given_back(
    postgres_server: Postgres, mosquitto_peer: Mosquitto, tmp_path: Path
) -> None:
    db_url = postgres_server.create_database("takeover")
    broker = Broker("mosquitto", mosquitto_peer.port)
    procs = {
        "a": start("a", "IR1", db_url=db_url, broker=mosquitto_peer, tmp=tmp_path),
        "b": start("b", "IR2", db_url=db_url, broker=mosquitto_peer, tmp=tmp_path),
    }
    try:
        async with watching(broker, name="takeover-watch") as watch:
            await watch.client.subscribe(f"{ROOT}/status/+", qos=1)

            def online(name: str, *rooms: str):  # noqa: ANN202
                return lambda t, b: (
                    t == f"{ROOT}/status/{name}"
                    and isinstance(b, dict)
                    and b.get("online") is True
                    and all(r in b.get("rooms", []) for r in rooms)
                )

            await watch.wait_for(online("a", "IR1"), within_s=30)
            await watch.wait_for(online("b", "IR2"), within_s=30)

            async def command(cid: str, **body: object) -> dict:
                reply = await watch.send("tech1", {"id": cid, **body}, within_s=15)
                return reply  # type: ignore[no-any-return]

            fields = {
                "mrn": "M1", "name": "DOE^JANE", "birth_date": "1950-02-03", "sex": "F",
                "accession": "ACC-T1", "procedure": "vertebroplasty", "levels": "L2",
                "room": "IR1",
            }  # fmt: skip
            scheduled = await command("s1", action="schedule_case", fields=fields)
            assert scheduled["ok"] is True and scheduled["instance"] == "a"
            case_id = scheduled["result"]["case_id"]
            checked = await command("c1", action="log_step", case_id=case_id, step="check-in")
            assert checked["ok"] is True and checked["instance"] == "a"
            other = await command(
                "s2", action="schedule_case",
                fields={**fields, "mrn": "M2", "accession": "ACC-T2", "room": "IR2"},
            )  # fmt: skip
            assert other["ok"] is True and other["instance"] == "b"
            await asyncio.sleep(1.0)  # time for a second, wrong answer to show up
            for cid in ("s1", "c1", "s2"):
                answers = [b for t, b in watch.messages if t.endswith("/reply/tech1")
                           and b.get("id") == cid]  # fmt: skip
                assert len(answers) == 1, f"{cid} answered {len(answers)} times"

            # a dies mid-case, without a word.
            procs["a"].send_signal(signal.SIGKILL)
            procs["a"].wait(timeout=10)
            killed = time.monotonic()
            watch.messages.clear()  # wait for what happens from now on
            await watch.wait_for(online("b", "IR1", "IR2"), within_s=TTL_S + 20)
            took_s = time.monotonic() - killed
            print(f"IR1 taken over by b {took_s:.1f} s after a was killed (lease {TTL_S} s)")
            assert took_s >= TTL_S - 1  # not before a's lease had run out

            # b carries the case on from the log, and IR1's monitor alarms through b.
            step = await command(
                "k1", action="log_step", case_id=case_id, step="checklist",
                fields={"item": "consent"},
            )  # fmt: skip
            assert step["ok"] is True, step
            assert step["instance"] == "b" and step["result"]["version"] == 3
            t0 = datetime.now(UTC)
            topic = f"{ROOT}/rooms/IR1/vitals/mon-1"
            for i, value in enumerate([97, 85, 84, 84]):
                at = t0 + timedelta(seconds=1.5 * i)
                await watch.client.publish(topic, vitals(at, i + 1, spo2=value), qos=1)
            raised = await watch.wait_for(
                lambda t, b: t == f"{ROOT}/alarms/IR1" and b.get("event") == "raised",
                within_s=20,
            )
            assert raised["case_id"] == case_id

            # a comes back under its name: it asks for IR1 and b hands it over.
            watch.messages.clear()
            procs["a"] = start("a", "IR1", db_url=db_url, broker=mosquitto_peer, tmp=tmp_path)
            await watch.wait_for(online("a", "IR1"), within_s=30)
            back = await command(
                "k2", action="log_step", case_id=case_id, step="checklist",
                fields={"item": "npo"},
            )  # fmt: skip
            assert back["ok"] is True and back["instance"] == "a"
            assert back["result"]["version"] == 4

        log = await events(db_url, case_id)
        assert [seq for seq, _, _ in log] == [1, 2, 3, 4]  # nothing lost, nothing twice
        assert [kind for _, kind, _ in log][1:] == [
            "CheckedIn",
            "ChecklistItemRecorded",
            "ChecklistItemRecorded",
        ]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail(f"instance {name} did not stop on SIGTERM")
