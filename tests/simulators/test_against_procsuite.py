"""Each simulator against procsuite itself: one `Service` (the composition root, with its
MQTT, DICOM and HL7 adapters) on free loopback ports, a real mosquitto, and a simulated
clock shared by the service and the simulators, so device times agree with service time.

Shows procsuite's reaction to each simulator: cases scheduled and cancelled by the HIS,
order status delivered to (or quarantined by) the HIS receiver, a procedure's images and
dose linked to its case, and technical alarms from the monitor on the alarm topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from sqlmodel import select

from procsuite.bootstrap import Service
from simulators.clock import SimClock
from simulators.day_list import DayCase
from simulators.dicom_objects import Equipment
from simulators.fluoro_session import Plan, perform
from simulators.his import HisSender
from simulators.his_receiver import HisReceiver
from simulators.modality import Modality, Peer
from simulators.monitor import Monitor
from simulators.monitor_model import MonitorModel
from simulators.scenarios import parse_all
from simulators.worklist import pick
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.domain.values import Phase
from suite.settings import load_settings
from suite.store.hl7 import Hl7OutboxRow
from tests.peers import Mosquitto, free_port, wait_port

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], *, timeout_s: float = 20.0, what: str = ""
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def procsuite(
    tmp_path: Path, broker: Mosquitto, clock: SimClock, **settings: Any
) -> AsyncIterator[Service]:
    chosen = load_settings(
        data_dir=tmp_path / "var",
        mqtt_url=broker.url,
        site="main",
        rooms=["IR1", "IR2"],
        dicom_port=free_port(),
        hl7_port=free_port(),
        dicom={"stations": {"IR1": "FLUORO1", "IR2": "FLUORO2"}, "timezone": "UTC"},
        hl7={"time_zone": "UTC", **settings.pop("hl7", {})},
        **settings,
    )
    service = Service(chosen, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(30):
            await service.ready.wait()
        for port in (chosen.dicom_port, chosen.hl7_port):
            await asyncio.to_thread(wait_port, port, timeout_s=20)
        yield service
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task


def day_case(at: datetime, *, accession: str = "ACC1", room: str = "IR1") -> DayCase:
    return DayCase(
        mrn="MRN0001", name="Keller^Ruth", birth_date=None, sex="F", accession=accession,
        procedure="kyphoplasty", levels=("T12", "L1"), room=room, scheduled_at=at,
    )  # fmt: skip


@pytest.mark.asyncio
async def test_the_his_schedules_and_cancels_cases_and_receives_their_status(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = SimClock(start=START, speed=1.0)
    his_in = HisReceiver(clock=clock, port=free_port(), journal=tmp_path / "his.jsonl")
    stop_his = asyncio.Event()
    his_task = asyncio.create_task(his_in.run(stop_his))
    outbound = {
        "outbound_host": "127.0.0.1",
        "outbound_port": his_in.port,
        "retry_initial_s": 0.1,
        "retry_max_s": 0.2,
    }
    try:
        async with procsuite(tmp_path, mosquitto, clock, hl7=outbound) as service:
            assert service.ctx is not None
            cases = service.ctx.cases
            first, second = (
                day_case(START + timedelta(hours=1)),
                day_case(START + timedelta(hours=2), accession="ACC2", room="IR2"),
            )
            async with HisSender(clock=clock, port=service.settings.hl7_port) as his_out:
                sent = await his_out.send_day([first, second])
                assert [s.ack.code for s in sent] == ["AA"] * 4, [s.ack for s in sent]
                case = cases.by_accession("ACC1")
                assert case is not None
                assert (case.procedure.value, [str(v) for v in case.order.levels], case.room) == (
                    "kyphoplasty",
                    ["T12", "L1"],
                    "IR1",
                )
                assert case.scheduled_at == first.scheduled_at
                assert case.patient.name == "Keller^Ruth"
                # procsuite tells the HIS when the patient is checked in (ORM^O01, ORC-5 IP)
                await cases.execute(
                    case.case_id, c.CheckIn(at=clock.now()), actor="nurse1", source=Source.TUI
                )
                messages = await his_in.wait_for(
                    lambda ms: any(m.kind.startswith("ORM") for m in ms), timeout_s=20
                )
                status = next(m for m in messages if m.kind.startswith("ORM"))
                assert status.ack == "AA" and "|IP|" in status.text and "ACC1" in status.text
                # the HIS cancels the second order
                cancelled = await his_out.cancel(second)
                assert cancelled.ack.code == "AA"
                again = cases.by_accession("ACC2")
                assert again is not None and again.phase is Phase.CANCELLED
    finally:
        stop_his.set()
        async with asyncio.timeout(10):
            await his_task


@pytest.mark.asyncio
async def test_an_ae_from_the_his_quarantines_procsuites_message(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = SimClock(start=START, speed=1.0)
    his_in = HisReceiver(clock=clock, port=free_port())
    his_in.answer_ae(count=1)
    stop_his = asyncio.Event()
    his_task = asyncio.create_task(his_in.run(stop_his))
    outbound = {
        "outbound_host": "127.0.0.1",
        "outbound_port": his_in.port,
        "retry_initial_s": 0.1,
        "retry_max_s": 0.2,
    }
    try:
        async with procsuite(tmp_path, mosquitto, clock, hl7=outbound) as service:
            assert service.ctx is not None
            async with HisSender(clock=clock, port=service.settings.hl7_port) as his_out:
                await his_out.send_day([day_case(START + timedelta(hours=1))])
            case = service.ctx.cases.by_accession("ACC1")
            assert case is not None
            await service.ctx.cases.execute(
                case.case_id, c.CheckIn(at=clock.now()), actor="nurse1", source=Source.TUI
            )
            await his_in.wait_for(lambda ms: len(ms) >= 1, timeout_s=20)

            async def quarantined() -> list[Hl7OutboxRow]:
                async with service.ctx.db.session() as session:  # type: ignore[union-attr]
                    rows = await session.exec(
                        select(Hl7OutboxRow).where(Hl7OutboxRow.status == "quarantined")
                    )
                    return list(rows)

            rows = await eventually(quarantined, what="the outbox row quarantined after AE")
            assert rows[0].ack_code == "AE" and rows[0].accession == "ACC1"
            assert [m.ack for m in his_in.messages] == ["AE"]
    finally:
        stop_his.set()
        async with asyncio.timeout(10):
            await his_task


@pytest.mark.asyncio
async def test_the_modality_performs_a_scheduled_case_and_procsuite_links_images_and_dose(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = SimClock(start=START, speed=300.0)
    async with procsuite(tmp_path, mosquitto, clock) as service:
        assert service.ctx is not None
        async with HisSender(clock=clock, port=service.settings.hl7_port) as his_out:
            await his_out.send_day([day_case(START + timedelta(minutes=30))])
        unit = Modality(
            clock=clock,
            peer=Peer(port=service.settings.dicom_port, ae_title=service.settings.dicom.ae_title),
            equipment=Equipment(ae_title="FLUORO1", station_name="FLUORO1"),
            zone=UTC,
        )
        items = await unit.query_worklist(on=START.date())
        item = pick(items, room="IR1")
        assert item is not None and item.accession == "ACC1", items
        assert item.requested_procedure_description == "Kyphoplasty T12, L1"
        step = await perform(unit, item, Plan(levels=("T12", "L1"), kyphoplasty=True, pace_s=30))
        case_id = service.ctx.cases.by_accession("ACC1").case_id  # type: ignore[union-attr]

        def linked() -> Any:
            case = service.ctx.cases.get(case_id)  # type: ignore[union-attr]
            return case if case and len(case.images) == len(step.ctx.images) and case.dose else None

        case = await eventually(linked, what="every image linked and the dose recorded")
        assert {i.sop_instance_uid for i in case.images} == {sop for _cls, sop in step.ctx.images}
        assert case.dose.dap_gy_cm2 == pytest.approx(step.ledger.dap_gym2 * 10_000, rel=1e-3)
        assert case.dose.air_kerma_mgy == pytest.approx(step.ledger.kerma_gy * 1000, rel=1e-3)
        assert case.dose.fluoro_time_s == pytest.approx(step.ledger.fluoro_time_s, abs=1)


@pytest.mark.asyncio
async def test_monitor_problems_reach_the_alarm_topic_as_technical_alarms(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = SimClock(start=START, speed=20.0)
    raised: list[dict[str, Any]] = []
    got = asyncio.Event()
    ready = asyncio.Event()

    async def watch() -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            await client.subscribe("procsuite/main/alarms/IR1", qos=1)
            ready.set()
            async for message in client.messages:
                data = json.loads(message.payload)
                if data.get("event") == "raised":
                    raised.append(data)
                    got.set()

    async with procsuite(tmp_path, mosquitto, clock) as service:
        watcher = asyncio.create_task(watch())
        try:
            async with asyncio.timeout(10):
                await ready.wait()
            model = MonitorModel(
                start_at=clock.now(),
                scenarios=parse_all(["sensor_off@5+40", "offline@60+20"]),
                seed=2,
            )
            monitor = Monitor(
                model,
                room="IR1",
                device="mon1",
                clock=clock,
                site=service.settings.site,
                mqtt_url=mosquitto.url,
            )
            await monitor.run(duration_s=85)

            def kinds() -> set[str]:
                return {r.get("kind", "") for r in raised}

            await eventually(
                lambda: {"spo2_sensor_off", "device_offline"} <= kinds(),
                what=f"alarms, got {kinds()}",
            )
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    by_kind = {r["kind"]: r for r in raised}
    assert by_kind["spo2_sensor_off"]["source"]["device"] == "mon1"
    assert "spo2_low" not in by_kind  # a probe off is not a desaturation
