"""A monitor flooding the broker (issue 8 fault test): `mosquitto_pub -l` (the C client) sends
150,000 messages as fast as it can (at least 50,000 a second; 130,000 on the development
machine) to a real `procsuite serve`, while a well-behaved monitor in another room drops its
SpO2."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from suite.store.database import Database
from suite.store.vitals import VitalSampleRow
from tests.mqtt.conftest import Broker, watching
from tests.peers import Mosquitto, missing
from tests.production.instances import ROOT, start, vitals

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto]

FLOOD = 150_000  # messages: three seconds at 50,000 a second


def flood_file(path: Path) -> Path:
    t0 = datetime.now(UTC)
    with path.open("w") as out:
        for i in range(1, FLOOD + 1):
            out.write(vitals(t0 + timedelta(milliseconds=i), i, spo2=97, hr=70) + "\n")
    return path


@pytest.mark.timeout(150)
@pytest.mark.asyncio
async def test_a_flooding_monitor_is_cut_down_alarmed_and_does_not_silence_another_room(
    mosquitto_peer: Mosquitto, tmp_path: Path
) -> None:
    publisher = shutil.which("mosquitto_pub")
    if publisher is None:
        missing("mosquitto_pub (Debian package mosquitto-clients)")
    assert publisher is not None
    lines = flood_file(tmp_path / "flood.txt")
    db_url = f"sqlite:///{tmp_path / 'flood.db'}"
    service = start(
        "a", "IR1", db_url=db_url, broker=mosquitto_peer, tmp=tmp_path, rooms=["IR1", "IR2"]
    )
    try:
        async with watching(Broker("mosquitto", mosquitto_peer.port), name="flood-watch") as watch:
            await watch.client.subscribe(f"{ROOT}/status/+", qos=1)
            await watch.wait_for(
                lambda t, b: t == f"{ROOT}/status/a" and b.get("online") is True, within_s=30
            )
            # The flood, from its own process.
            began = time.monotonic()
            stdin = lines.open("rb")  # closed below, once the publisher has read it
            flood = await asyncio.create_subprocess_exec(
                publisher, "-h", "127.0.0.1", "-p", str(mosquitto_peer.port), "-q", "0",
                "-t", f"{ROOT}/rooms/IR1/vitals/rogue", "-l",
                stdin=stdin, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            # Meanwhile IR2's monitor: SpO2 97, then 84 for several seconds.
            t0 = datetime.now(UTC)
            for seq, (dt, spo2) in enumerate([(0, 97), (1, 85), (2, 84), (3, 84), (4, 84)], 1):
                await watch.client.publish(
                    f"{ROOT}/rooms/IR2/vitals/mon-2",
                    vitals(t0 + timedelta(seconds=dt), seq, spo2=spo2, hr=70),
                    qos=1,
                )
            try:
                _, err = await asyncio.wait_for(flood.communicate(), timeout=60)
            finally:
                stdin.close()
            assert flood.returncode == 0, err
            took = time.monotonic() - began
            print(f"flood: {FLOOD} messages in {took:.2f} s = {FLOOD / took:,.0f} msg/s")

            raised = await watch.wait_for(
                lambda t, b: t == f"{ROOT}/alarms/IR2" and b.get("event") == "raised",
                within_s=30,
            )
            assert raised["kind"] == "spo2_low" and raised["priority"] == "high"
            flooding = await watch.wait_for(
                lambda t, b: t == f"{ROOT}/alarms/IR1" and b.get("kind") == "flooding",
                within_s=30,
            )
            assert flooding["event"] == "raised" and "rogue" in flooding["message"]
            # Still answering.
            reply = await watch.send("tech1", {"id": "r", "action": "resync"}, within_s=15)
            assert reply["ok"] is True

            def settled(t: str, b: object) -> bool:
                if t != f"{ROOT}/status/a" or not isinstance(b, dict):
                    return False
                ingest = b["ingest"]
                return bool(
                    ingest["received"] >= 5
                    and b["store"]["queued"] == 0
                    and ingest["received"] == ingest["accepted"] + sum(ingest["faults"].values())
                )

            watch.messages.clear()
            status = await watch.wait_for(settled, within_s=60)
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0
    finally:
        if service.poll() is None:
            service.kill()

    ingest = status["ingest"]
    flooded = ingest["faults"]["flooding"]
    assert flooded > 0
    db = Database.from_url(db_url)
    try:
        async with db.session() as session:
            seqs = list(
                await session.exec(
                    select(VitalSampleRow.seq).where(col(VitalSampleRow.device) == "rogue")
                )
            )
            rogue = len(seqs)
    finally:
        await db.dispose()
    # Nothing silently lost: every flood message that reached procsuite was either stored
    # (within the per-device rate) or counted as flooding; nothing stored twice.
    assert rogue + flooded == ingest["received"] - 5
    assert len(set(seqs)) == rogue
    print(f"received {ingest['received']}, stored {rogue} of the rogue, dropped {flooded}")
