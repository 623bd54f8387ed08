"""Every kind of bad input, sent over a real broker with `mosquitto_pub`, leaves the service
running; each is counted where people can see it (room state, service status)."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.mqtt.conftest import Broker, pub, running, settings_for, watching
from tests.mqtt.test_end_to_end import open_case, vitals

ROOT = "procsuite/t"


@pytest.mark.asyncio
async def test_bad_input_is_counted_alarmed_and_the_service_keeps_going(
    broker: Broker, tmp_path: Path
) -> None:
    settings = settings_for(broker, tmp_path)
    big = tmp_path / "ten-megabytes.json"
    big.write_bytes(
        b'{"ts": "2026-11-24T09:12:03Z", "values": {"hr": 1}, "pad": "' + b"x" * 10_000_000 + b'"}'
    )
    async with running(settings) as run, watching(broker) as watch:
        case_id = await open_case(run)
        topic = f"{ROOT}/rooms/IR1/vitals/mon-7"
        t0 = datetime.now(UTC)
        await pub(broker.port, topic, "{this is not json")
        await pub(broker.port, topic, file=big)
        await pub(broker.port, topic, vitals(t0, 1, hr=70, glucose=5.2))
        await pub(broker.port, topic, json.dumps({"ts": (t0 + timedelta(seconds=1)).isoformat(), "seq": 2,
                                                  "values": {"etco2": 4.9}, "units": {"etco2": "kPa"}}))  # fmt: skip
        await pub(broker.port, topic, vitals(t0 + timedelta(seconds=2), 3, spo2=150, hr=-5))
        await pub(
            broker.port, topic, vitals(t0 + timedelta(seconds=2), 3, spo2=150, hr=-5)
        )  # again
        await pub(broker.port, topic, vitals(t0 + timedelta(seconds=1.5), 1, hr=71))  # older
        await pub(broker.port, f"{ROOT}/rooms/OR9/vitals/mon-9", vitals(t0, 1, hr=70))
        await pub(broker.port, f"{ROOT}/rooms/IR1/devices/mon-7/status", "asleep")
        await pub(broker.port, topic, vitals(t0 + timedelta(seconds=3), 4, hr=72, spo2=96))

        # The service is still there: it answers a command and takes the good sample.
        reply = await watch.send("nurse1", {"id": "r-1", "action": "resync"})
        assert reply["ok"] is True

        def counted(t: str, body: object) -> bool:
            if t != f"{ROOT}/rooms/IR1/state" or not isinstance(body, dict):
                return False
            faults = body["counters"]["faults"].get("mon-7", {})
            return (
                faults.get("out_of_order") == 1
                and body["vitals"].get("spo2", {}).get("value") == 96
            )

        state = await watch.wait_for(counted)
        assert state["counters"]["faults"]["mon-7"] == {
            "malformed": 1, "oversize": 1, "unknown_parameter": 1, "wrong_unit": 1,
            "implausible": 2, "duplicate": 1, "out_of_order": 1, "malformed_status": 1,
        }  # fmt: skip
        assert state["case"]["case_id"] == case_id and state["case"]["phase"] == "checked_in"
        assert state["devices"]["mon-7"]["last_seq"] == 4
        kinds = {a["kind"] for a in state["alarms"]}
        assert {
            "malformed_payload",
            "oversize_payload",
            "etco2_wrong_unit",
            "implausible_spo2",
            "implausible_hr",
        } <= kinds

        raised = {b["kind"] for b in watch.on("alarms/IR1") if b["event"] == "raised"}
        assert "implausible_spo2" in raised and "oversize_payload" in raised

        status = await watch.wait_for(
            lambda t, b: (
                t == f"{ROOT}/status"
                and isinstance(b, dict)
                and b.get("ingest", {}).get("unknown_rooms")
            ),
            within_s=15,
        )
        assert status["online"] is True and status["ingest"]["unknown_rooms"] == {"OR9": 1}
        assert status["ingest"]["handler_errors"] == 0
        assert run.runner.handler_errors == 0


@pytest.mark.asyncio
async def test_a_monitor_that_drops_off_raises_device_offline_from_its_last_will(
    broker: Broker, tmp_path: Path
) -> None:
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        pytest.skip("mosquitto_sub is not installed")
    settings = settings_for(broker, tmp_path)
    status = f"{ROOT}/rooms/IR2/devices/mon-2/status"
    async with running(settings), watching(broker) as watch:
        await pub(broker.port, status, "online", retain=True)
        # A "monitor" whose last will says offline; killed without a goodbye.
        monitor = await asyncio.create_subprocess_exec(
            binary, "-h", "127.0.0.1", "-p", str(broker.port), "-t", f"{ROOT}/none", "-k", "5",
            "--will-topic", status, "--will-payload", "offline", "--will-retain", "--will-qos", "1",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await asyncio.sleep(0.5)
            monitor.send_signal(signal.SIGKILL)
        finally:
            await asyncio.wait_for(monitor.wait(), 10)
        offline = await watch.wait_for(
            lambda t, b: t == f"{ROOT}/alarms/IR2" and b.get("kind") == "device_offline",
            within_s=15,
        )
        assert offline["event"] == "raised" and "mon-2" in offline["message"]
        state = await watch.wait_for(
            lambda t, b: (
                t == f"{ROOT}/rooms/IR2/state"
                and b["devices"].get("mon-2", {}).get("online") is False
            )
        )
        assert any(a["kind"] == "device_offline" for a in state["alarms"])
