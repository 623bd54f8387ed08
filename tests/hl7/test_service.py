"""Through the composition root: `procsuite serve` runs the HL7 listener and sender, the outage
alarm reaches the alarm store, and after a restart the same alarm is cleared on delivery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.hl7.listener import Hl7Listener
from adapters.hl7.sender import ALARM_KIND, Hl7Sender
from procsuite.bootstrap import Service
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.settings import Settings, load_settings
from suite.store.alarms import open_alarms
from tests.hl7 import samples
from tests.hl7.conftest import eventually, msa, send
from tests.hl7.receiver import Receiver
from tests.peers import free_port


def settings_for(tmp_path: Any, outbound_port: int) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var",
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",  # no broker: the MQTT side keeps retrying
        rooms=["IR1", "IR2"],
        dicom={"enabled": False},
        hl7_port=0,
        hl7={
            "outbound_host": "127.0.0.1",
            "outbound_port": outbound_port,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.2,
            "outage_alarm_after_s": 0,
            "poll_s": 0.1,
        },
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Service]:
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(30):
            await service.ready.wait()
            assert service.ctx is not None
            await listener(service).ready.wait()
        yield service
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task


def listener(service: Service) -> Hl7Listener:
    assert service.ctx is not None
    return next(c for c in service.ctx.components if isinstance(c, Hl7Listener))


async def open_outage_alarms(service: Service) -> list[Any]:
    assert service.ctx is not None
    async with service.ctx.db.session() as session:
        found = await open_alarms(session)
    return [a for a, _ in found if a.kind == ALARM_KIND]


@pytest.mark.asyncio
async def test_the_service_runs_hl7_and_its_outage_alarm_survives_a_restart(tmp_path):
    port = free_port()
    settings = settings_for(tmp_path, port)
    async with serving(settings) as service:
        assert service.ctx is not None
        assert any(isinstance(comp, Hl7Sender) for comp in service.ctx.components)
        acks = await send(listener(service).port, samples.adt("A04"), samples.orm())
        assert [msa(a)[0] for a in acks] == ["AA", "AA"]
        case = service.ctx.cases.by_accession("ACC0001")
        assert case is not None
        await service.ctx.cases.execute(
            case.case_id, c.CheckIn(at=service.ctx.clock()), actor="t", source=Source.TUI
        )
        alarms = await eventually(lambda: open_outage_alarms(service), what="the stored alarm")
        assert len(alarms) == 1 and alarms[0].room == "*"
    receiver = Receiver(port)
    await receiver.start()
    try:
        async with serving(settings) as service:
            await eventually(lambda: len(receiver.applied) == 1, what="the status delivered")
            await eventually(lambda: _none(open_outage_alarms(service)), what="the alarm cleared")
    finally:
        await receiver.stop()


async def _none(found: Any) -> bool:
    return not await found
