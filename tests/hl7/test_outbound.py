"""Outbound: status and results reach a real MLLP receiver, in order, once, whatever happens
to the receiver or to procsuite in between; the messages pass hl7apy's strict validation."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from adapters.hl7.sender import ALARM_KIND
from suite.domain import commands as c
from suite.domain.alarms.model import AlarmCleared, AlarmRaised, Category
from suite.domain.envelope import Source
from suite.domain.values import Procedure
from suite.store import hl7 as store
from suite.store.vitals import insert_samples, sample_row
from tests.hl7 import samples
from tests.hl7.conftest import Stack, eventually, make_settings, msa, run_stack, send
from tests.hl7.receiver import Receiver
from tests.peers import free_port
from tests.scenarios import full_case


def outbound_settings(tmp_path: Any, port: int, **extra: Any) -> Any:
    return make_settings(
        tmp_path,
        outbound_host="127.0.0.1",
        outbound_port=port,
        retry_initial_s=0.05,
        retry_max_s=0.2,
        ack_timeout_s=2.0,
        outage_alarm_after_s=0.0,
        poll_s=0.1,
        **extra,
    )


async def schedule(stack: Stack, *, accession: str = "ACC0001", levels: str = "T12, L1") -> str:
    acks = await send(
        stack.port, samples.adt("A04"), samples.orm(accession=accession, levels=levels)
    )
    assert [msa(a)[0] for a in acks] == ["AA", "AA"], [msa(a) for a in acks]
    case = stack.cases.by_accession(accession)
    assert case is not None
    return case.case_id


async def drive(stack: Stack, case_id: str, *, until: type | None = None) -> None:
    """Log every step of a kyphoplasty on T12 and L1 (dose after the image), with vitals."""
    for command in full_case(stack.clock(), procedure=Procedure.KYPHOPLASTY, levels=("T12", "L1")):
        if until is not None and isinstance(command, until):
            return
        stack.clock.now = command.at
        await stack.cases.execute(case_id, command, actor="tech1", source=Source.TUI)
        if isinstance(command, c.LinkImage):
            dose = c.RecordDose(
                at=command.at, fluoro_time_s=245.0, dap_gy_cm2=12.5, air_kerma_mgy=88.0,
                source="RDSR",
            )  # fmt: skip
            await stack.cases.execute(case_id, dose, actor="XA1", source=Source.DICOM)
        if isinstance(command, c.CheckIn):
            await add_vitals(stack, case_id)


async def add_vitals(stack: Stack, case_id: str) -> None:
    start = stack.clock()
    rows = [
        sample_row(
            room="IR1",
            device="mon1",
            case_id=case_id,
            at=start + timedelta(minutes=m),
            received_at=start + timedelta(minutes=m),
            seq=m,
            values={"hr": 70.0 + m, "spo2": 97.0, "nibp_sys": 130.0, "nibp_dia": 80.0, "rr": 14.0},
        )  # fmt: skip
        for m in range(3)
    ]

    async def job(session: Any) -> None:
        await insert_samples(session, rows)

    await stack.db.write(job)


async def outbox(stack: Stack) -> list[store.Hl7OutboxRow]:
    async with stack.db.session() as session:
        rows = await store.recent_outbound(session, 100)
    return sorted(rows, key=lambda r: r.seq)


def strict(text: str) -> Any:
    """Parse with hl7apy's strict reference; ORU must validate. (hl7apy's validate() wrongly
    fails every ORM^O01 over the RQD choice group, a known hl7apy bug: for ORM the groups are
    checked by hand.)"""
    message = parse_message(
        text.replace("\n", "\r"), find_groups=True, validation_level=VALIDATION_LEVEL.STRICT
    )
    if message.name == "ORU_R01":
        assert message.validate() is True
    else:
        order = message.orm_o01_order
        assert order.orc.orc_1.value == "SC"
        detail = order.orm_o01_order_detail.orm_o01_obrrqdrq1rxoodsodt_suppgrp
        assert detail.obr.obr_4.value
        assert message.orm_o01_patient.pid.pid_3.value
        assert message.orm_o01_patient.orm_o01_patient_visit.pv1.pv1_2.value == "O"
    return message


@pytest.mark.asyncio
async def test_a_full_case_sends_status_and_one_oru_with_the_summary_and_vitals(
    sqlite_url, tmp_path, clock
):
    receiver = Receiver(free_port())
    await receiver.start()
    try:
        async with run_stack(sqlite_url, outbound_settings(tmp_path, receiver.port), clock) as st:
            case_id = await schedule(st)
            await drive(st, case_id)
            await eventually(lambda: len(receiver.applied) == 3, what="3 messages delivered")
            rows = await eventually(lambda: _all_sent(st, 3), what="3 marked sent")
    finally:
        await receiver.stop()
    assert [r.message_type for r in rows] == ["ORM^O01", "ORM^O01", "ORU^R01"]
    assert all(r.status == "sent" and r.ack_code == "AA" for r in rows)
    assert receiver.applied == [r.control_id for r in rows]  # in order, each once
    status_ip, status_cm, oru = (m.replace("\r", "\n") for m in receiver.received)
    assert "ORC|SC|PLACC0001|ACC0001||IP|" in status_ip
    assert "ORC|SC|PLACC0001|ACC0001||CM|" in status_cm
    strict(status_ip)
    message = strict(oru)
    obx = {
        (o.obx_3.obx_3_1.value, o.obx_4.value): o.obx_5.value
        for o in message.oru_r01_patient_result.oru_r01_order_observation.oru_r01_observation
        for o in [o.obx]
    }
    assert obx[("PROCEDURE", "")] == "kyphoplasty"
    assert obx[("OUTCOME", "")] == "completed"
    assert obx[("LEVELS", "")] == "T12, L1"
    assert obx[("CEMENT_VOLUME", "T12")] == "4"
    assert obx[("CEMENT_LEAKAGE", "L1")] == "none"
    assert obx[("BALLOON_PRESSURE", "T12")] == "180"
    assert obx[("IMAGING_CHECK", "")] == "satisfactory"
    assert obx[("113730", "")] == "245"  # fluoroscopy time, s
    assert obx[("113722", "")] == "12.5"  # DAP, Gy.cm2
    assert obx[("PHASE_START", "cement_injection")]
    assert ("8867-4", "") in obx and ("59408-5", "") in obx and ("8480-6", "") in obx
    assert "PID|1||MRN0001^^^HOSP^MR~99MRN0001^^^NATIONAL^NI||TEST^ANNA||19440506|F" in oru
    assert "OBR|1|PLACC0001|ACC0001|22513^KYPHOPLASTY THORACIC^CPT|" in oru


@pytest.mark.asyncio
async def test_receiver_down_and_a_restart_lose_nothing_and_send_nothing_twice(
    sqlite_url, tmp_path, clock
):
    port = free_port()
    settings = outbound_settings(tmp_path, port)
    async with run_stack(sqlite_url, settings, clock) as first:
        alarms = first.bus.subscribe("test-alarms", AlarmRaised, AlarmCleared)
        case_id = await schedule(first)
        await drive(first, case_id, until=c.Discharge)
        sender = first.component("hl7-sender")
        await eventually(lambda: sender.stats.failures >= 3, what="failed attempts")
        raised = [alarms.get_nowait() for _ in range(alarms.queue.qsize())]
        assert [type(a) for a in raised] == [AlarmRaised]  # one alarm for the outage
        assert raised[0].kind == ALARM_KIND and raised[0].category is Category.TECHNICAL
        rows = await outbox(first)
        assert [r.status for r in rows] == ["pending"]
        assert rows[0].attempts == 0  # never reached the receiver: an outage, not a failure
    # procsuite restarts; the case is discharged while the receiver is still down
    async with run_stack(sqlite_url, settings, clock) as second:
        clock.advance(3600)
        await second.cases.execute(
            case_id, c.Discharge(at=clock()), actor="nurse1", source=Source.TUI
        )
        await asyncio.sleep(0.3)
        receiver = Receiver(port)
        await receiver.start()
        try:
            await eventually(lambda: len(receiver.received) == 3, what="3 messages delivered")
            rows = await eventually(lambda: _all_sent(second, 3), what="3 marked sent")
            await asyncio.sleep(0.3)  # nothing more comes
        finally:
            await receiver.stop()
    assert len(receiver.received) == 3
    assert receiver.applied == [r.control_id for r in rows]
    kinds = [str(m.segment("MSH")(9)) for m in receiver.messages()]
    assert kinds == ["ORM^O01^ORM_O01", "ORM^O01^ORM_O01", "ORU^R01^ORU_R01"]
    assert [r.status for r in rows] == ["sent", "sent", "sent"]


@pytest.mark.asyncio
async def test_the_outage_alarm_is_cleared_when_delivery_resumes(sqlite_url, tmp_path, clock):
    port = free_port()
    async with run_stack(sqlite_url, outbound_settings(tmp_path, port), clock) as st:
        alarms = st.bus.subscribe("test-alarms", AlarmRaised, AlarmCleared)
        case_id = await schedule(st)
        await st.cases.execute(case_id, c.CheckIn(at=clock()), actor="t", source=Source.TUI)
        raised = await asyncio.wait_for(alarms.get(), 5)
        assert isinstance(raised, AlarmRaised) and raised.room == "*"
        receiver = Receiver(port)
        await receiver.start()
        try:
            cleared = await asyncio.wait_for(alarms.get(), 5)
        finally:
            await receiver.stop()
    assert isinstance(cleared, AlarmCleared) and cleared.alarm_id == raised.alarm_id
    assert alarms.queue.empty()


@pytest.mark.asyncio
async def test_a_rejected_message_is_quarantined_and_the_queue_goes_on(sqlite_url, tmp_path, clock):
    receiver = Receiver(free_port(), answer="AE")
    await receiver.start()
    try:
        async with run_stack(sqlite_url, outbound_settings(tmp_path, receiver.port), clock) as st:
            case_id = await schedule(st)
            await st.cases.execute(case_id, c.CheckIn(at=clock()), actor="t", source=Source.TUI)
            clock.advance(60)
            await st.cases.execute(
                case_id,
                c.AbortCase(at=clock(), reason="patient unwell"),
                actor="t",
                source=Source.TUI,
            )
            await eventually(lambda: len(receiver.received) == 3, what="3 attempts")
            rows = await eventually(lambda: _all_quarantined(st), what="every message quarantined")
    finally:
        await receiver.stop()
    assert [r.message_type for r in rows] == ["ORM^O01", "ORM^O01", "ORU^R01"]
    assert all(r.ack_code == "AE" for r in rows)
    assert "DC" in receiver.received[1].split("\r")[3]  # ORC-5 discontinued


async def _all_quarantined(st: Stack) -> list[store.Hl7OutboxRow] | None:
    rows = await outbox(st)
    if len(rows) == 3 and all(r.status == "quarantined" for r in rows):
        return rows
    return None


@pytest.mark.asyncio
async def test_a_message_that_never_gets_a_usable_ack_is_quarantined_after_max_attempts(
    sqlite_url, tmp_path, clock
):
    replies: list[bytes] = []

    async def confused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                frame = await reader.readuntil(b"\x1c\r")
                replies.append(frame)
                writer.write(b"\x0bHELLO, I AM NOT AN ACK\x1c\r")  # framed, but no MSA
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(confused, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = outbound_settings(tmp_path, port, max_attempts=3)
    try:
        async with run_stack(sqlite_url, settings, clock) as st:
            case_id = await schedule(st)
            await st.cases.execute(case_id, c.CheckIn(at=clock()), actor="t", source=Source.TUI)
            rows = await eventually(lambda: _quarantined_rows(st), what="quarantine")
    finally:
        server.close()
        await server.wait_closed()
    assert rows[0].attempts == 3 and len(replies) == 3
    assert "3 attempts without an ACK" in rows[0].last_error
    assert "not an ACK" in rows[0].last_error


async def _quarantined_rows(st: Stack) -> list[store.Hl7OutboxRow] | None:
    rows = await outbox(st)
    return rows if rows and rows[0].status == "quarantined" else None


async def _all_sent(st: Stack, count: int) -> list[store.Hl7OutboxRow] | None:
    rows = await outbox(st)
    return rows if len(rows) == count and all(r.status == "sent" for r in rows) else None
