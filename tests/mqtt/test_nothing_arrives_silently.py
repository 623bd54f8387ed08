"""Samples for a room this instance does not serve, or from a monitor not registered for the
room, raise one technical notice each (issue 14 point 4): sent with `mosquitto_pub` over a real
mosquitto, seen in the service status (the IT view's service panel and `procsuite status`)
and in the room's IT state, within one status interval."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from tests.mqtt.conftest import Broker, persistent_mosquitto, pub, running, settings_for, watching
from tests.mqtt.test_cli import cli, config_file
from tests.mqtt.test_end_to_end import vitals

ROOT = "procsuite/t"


@pytest.mark.mosquitto
@pytest.mark.asyncio
async def test_an_unserved_room_and_an_unregistered_monitor_each_raise_one_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with persistent_mosquitto() as mosq:
        broker = Broker("mosquitto", mosq.port, mosq)
        devices = {"mon-1": "IR1", "mon-2": "IR2"}
        settings = settings_for(broker, tmp_path, mqtt={"devices": devices})
        cfg = config_file(broker, tmp_path)
        async with running(settings), watching(broker) as watch:
            await watch.client.subscribe(f"{ROOT}/rooms/IR1/state/it", qos=1)
            t0 = datetime.now(UTC)
            for i in range(3):  # three samples each: still one notice each
                at = t0 + timedelta(seconds=i)
                await pub(broker.port, f"{ROOT}/rooms/OR9/vitals/mon-9", vitals(at, i + 1, hr=70))
                # mon-2 belongs to IR2 but sends for IR1
                await pub(broker.port, f"{ROOT}/rooms/IR1/vitals/mon-2", vitals(at, i + 1, hr=71))
                await pub(broker.port, f"{ROOT}/rooms/IR1/vitals/mon-1", vitals(at, i + 1, hr=72))

            def noticed(t: str, b: object) -> bool:
                return (
                    t == f"{ROOT}/status"
                    and isinstance(b, dict)
                    and b.get("ingest", {}).get("unknown_rooms") == {"OR9": 3}
                    and any(a["kind"] == "unknown_room" for a in b.get("site_alarms", []))
                )

            status = await watch.wait_for(noticed, within_s=15)
            notices = [a for a in status["site_alarms"] if a["kind"] == "unknown_room"]
            assert len(notices) == 1 and notices[0]["about"] == "OR9"
            assert "OR9" in notices[0]["message"] and notices[0]["priority"] == "low"

            def it_state(t: str, b: object) -> bool:
                return (
                    t == f"{ROOT}/rooms/IR1/state/it"
                    and isinstance(b, dict)
                    and b["devices"].get("mon-1", {}).get("last_seq") == 3
                    and b["devices"].get("mon-2", {}).get("last_seq") == 3
                )

            it = await watch.wait_for(it_state, within_s=15)
            unregistered = [a for a in it["alarms"] if a["kind"] == "unregistered_device"]
            assert len(unregistered) == 1  # one for mon-2; none for mon-1, registered here
            assert "mon-2" in unregistered[0]["message"]
            assert unregistered[0]["category"] == "technical"
            raised = [
                b
                for b in watch.on("alarms/IR1")
                if b["event"] == "raised" and b["kind"] == "unregistered_device"
            ]
            assert len(raised) == 1

            code, out = await cli(capsys, "--config", str(cfg), "status")
            assert code == 0, out
            assert (
                "unknown_room [OR9]" in out and "samples for rooms not served here: OR9 (3)" in out
            )
            code, out = await cli(capsys, "--config", str(cfg), "status", "--json")
            assert code == 0 and json.loads(out)["ingest"]["unknown_rooms"] == {"OR9": 3}


@pytest.mark.mosquitto
@pytest.mark.asyncio
async def test_status_says_so_when_no_service_publishes_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with persistent_mosquitto() as mosq:
        broker = Broker("mosquitto", mosq.port, mosq)
        cfg = config_file(broker, tmp_path)
        async with aiomqtt.Client("127.0.0.1", mosq.port):
            pass  # the broker is there; no service has published a status
        code, out = await cli(capsys, "--config", str(cfg), "status", "--wait", "1")
        await asyncio.sleep(0)
        assert code == 1 and "no service status" in out
