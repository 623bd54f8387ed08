"""The device gateways through the composition root: a service with the PCD-01 listener and /
or the PCD-04 sender, no broker (the MQTT client keeps retrying, the sample path runs), and a
python-hl7 MLLP client for the gateway side."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hl7
from hl7.mllp import open_hl7_connection

from adapters.devices.pcd01.listener import Pcd01Listener
from procsuite.bootstrap import Service
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.settings import Settings, load_settings
from tests.peers import free_port
from tests.scenarios import schedule

FAST_ALARMS: dict[str, Any] = {
    "limits": {"spo2": {"low": 90, "delay_s": 2, "hysteresis": 2, "clear_delay_s": 1}},
    "stale_feed_s": 600,
    "clock_skew_s": 3600,
}


def device_settings(tmp_path: Path, **devices: Any) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var",
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",  # no broker: MQTT keeps retrying
        site="t",
        rooms=["IR1", "IR2"],
        users={"nurse1": "nurse"},
        dicom={"enabled": False},
        hl7={"enabled": False},
        alarms={"config": FAST_ALARMS},
        devices=devices,
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Service]:
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(30):
            await service.ready.wait()
            for comp in components(service, Pcd01Listener):
                await comp.ready.wait()
        yield service
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task


def components(service: Service, kind: type) -> list[Any]:
    assert service.ctx is not None
    return [comp for comp in service.ctx.components if isinstance(comp, kind)]


def listener(service: Service) -> Pcd01Listener:
    return components(service, Pcd01Listener)[0]


async def send_all(port: int, *messages: bytes) -> list[hl7.Message]:
    """Send each message with python-hl7's MLLP client on one connection; the answers."""
    reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="utf-8")
    answers = []
    try:
        for raw in messages:
            writer.writemessage(raw.decode("utf-8"))  # as sent, even when not HL7
            await writer.drain()
            async with asyncio.timeout(20):
                answers.append(await reader.readmessage())
    finally:
        writer.close()
        await writer.wait_closed()
    return answers


def msa(answer: hl7.Message) -> tuple[str, str]:
    seg = answer.segment("MSA")
    return str(seg(1)), str(seg(2))


def errs(answer: hl7.Message) -> list[str]:
    """The ERR segments' text (ERR-8) and location (ERR-2)."""
    out = []
    for seg in answer:
        if str(seg(0)) == "ERR":
            out.append(f"{seg(2)} {seg(3)} {answer.unescape(str(seg(8)))}")
    return out


async def open_case(service: Service, room: str, accession: str) -> str:
    assert service.ctx is not None
    cases = service.ctx.cases
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


async def eventually(check: Any, *, timeout_s: float = 20.0, step_s: float = 0.05) -> Any:
    """Poll `check()` (sync or async) until it returns something truthy."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(step_s)
