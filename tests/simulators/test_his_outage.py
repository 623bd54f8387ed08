"""The simulated HIS down, then back: procsuite's reaction end to end.

The HIS receiver is told to be down (not listening) while a case is checked in: procsuite's
order status waits in its outbox, the `hl7_outbound_down` technical alarm is raised, and
when the HIS comes back the message arrives (once, acknowledged) and the alarm clears.
(The AE answer that quarantines a message is in test_against_procsuite.py.)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from procsuite.bootstrap import Service
from simulators.clock import SimClock
from simulators.day_list import DayCase
from simulators.his import HisSender
from simulators.his_receiver import HisReceiver
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.settings import load_settings
from suite.store.alarms import AlarmRow
from suite.store.hl7 import Hl7OutboxRow
from tests.peers import Mosquitto, free_port

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


async def until(check: Any, *, what: str, timeout_s: float = 20.0) -> Any:
    async with asyncio.timeout(timeout_s):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.05)
    raise AssertionError(what)


@pytest.mark.asyncio
async def test_a_his_that_is_down_gets_the_message_when_it_is_back_and_the_alarm_clears(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = SimClock(start=T0, speed=1.0)
    his_in = HisReceiver(clock=clock, port=free_port())
    his_in.go_down()
    stop_his = asyncio.Event()
    his_task = asyncio.create_task(his_in.run(stop_his))
    settings = load_settings(
        data_dir=tmp_path / "var", mqtt_url=mosquitto.url, rooms=["IR1"], dicom_port=free_port(),
        hl7_port=free_port(), dicom={"enabled": False},
        hl7={"outbound_host": "127.0.0.1", "outbound_port": his_in.port, "retry_initial_s": 0.1,
             "retry_max_s": 0.3, "outage_alarm_after_s": 0.5, "time_zone": "UTC"},
    )  # fmt: skip
    service = Service(settings, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(30):
            await service.ready.wait()
        assert service.ctx is not None
        ctx = service.ctx

        async def rows(model: Any, *where: Any) -> list[Any]:
            async with ctx.db.session() as session:
                return list(await session.exec(select(model).where(*where)))

        case = DayCase(
            mrn="MRN0001", name="Keller^Ruth", birth_date=None, sex="F", accession="ACC1",
            procedure="kyphoplasty", levels=("T12", "L1"), room="IR1",
            scheduled_at=T0 + timedelta(hours=1),
        )  # fmt: skip
        async with HisSender(clock=clock, port=settings.hl7_port) as his_out:
            sent = await his_out.send_day([case])
        assert [s.ack.code for s in sent] == ["AA", "AA"]
        found = ctx.cases.by_accession("ACC1")
        assert found is not None
        await ctx.cases.execute(
            found.case_id, c.CheckIn(at=clock.now()), actor="nurse1", source=Source.TUI
        )

        down = await until(
            lambda: rows(AlarmRow, AlarmRow.kind == "hl7_outbound_down"),
            what="the outage alarm",
        )
        assert down[0].category == "technical" and down[0].state == "active"
        pending = await rows(Hl7OutboxRow)
        assert [r.status for r in pending] == ["pending"] and pending[0].accession == "ACC1"
        assert his_in.stats.received == 0

        his_in.come_up()
        messages = await his_in.wait_for(lambda ms: len(ms) >= 1, timeout_s=20)
        assert len(messages) == 1 and messages[0].ack == "AA" and "|IP|" in messages[0].text
        await until(
            lambda: rows(
                AlarmRow, AlarmRow.kind == "hl7_outbound_down", AlarmRow.state == "cleared"
            ),
            what="the outage alarm cleared once delivery resumed",
        )
        assert [r.status for r in await rows(Hl7OutboxRow)] == ["sent"]
        assert not any(m.duplicate for m in his_in.messages)
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task
        stop_his.set()
        async with asyncio.timeout(10):
            await his_task
