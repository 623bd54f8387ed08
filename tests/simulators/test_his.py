"""The simulated HIS over MLLP: its messages (checked with hl7apy), its sender against a
python-hl7 asyncio MLLP peer, and its receiver in its down / slow / AE modes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import hl7
import pytest
from hl7.mllp import open_hl7_connection, start_hl7_server
from hl7apy.parser import parse_message

from simulators.clock import SimClock
from simulators.day_list import DayCase, default_day, load_day, save_day
from simulators.his import HisError, HisSender
from simulators.his_receiver import HisReceiver
from simulators.hl7_messages import Identity, adt_a04, orm_cancel, orm_new, parse_ack
from tests.peers import free_port

ZONE = timezone(timedelta(hours=1))
DAY = date(2026, 11, 24)
AT = datetime(2026, 11, 24, 7, 30, tzinfo=ZONE)


def cases() -> list[DayCase]:
    return default_day(DAY, rooms=["IR1", "IR2"], per_room=1, zone=ZONE)


# ---- the messages -------------------------------------------------------------------------------


def test_messages_parse_with_hl7apy_and_carry_what_procsuite_reads() -> None:
    kypho = next(c for c in cases() if c.procedure == "kyphoplasty")
    adt = parse_message(adt_a04(kypho, ident=Identity(), control_id="1", at=AT), find_groups=True)
    assert adt.msh.msh_9.to_er7() == "ADT^A04^ADT_A01"
    assert adt.pid.pid_3.cx_1.to_er7() == kypho.mrn and adt.pid.pid_3.cx_5.to_er7() == "MR"
    assert adt.pid.pid_5.to_er7() == kypho.name
    assert adt.pv1.pv1_3.pl_2.to_er7() == kypho.room
    orm = parse_message(orm_new(kypho, ident=Identity(), control_id="2", at=AT), find_groups=True)
    order = orm.orm_o01_order
    assert order.orc.orc_1.to_er7() == "NW"
    obr = order.orm_o01_order_detail.orm_o01_obrrqdrq1rxoodsodt_suppgrp.obr
    assert obr.obr_4.ce_1.to_er7() in ("22513", "22514")
    assert obr.obr_13.to_er7() == ", ".join(kypho.levels)
    assert obr.obr_18.to_er7() == kypho.accession
    assert obr.obr_36.to_er7() == kypho.scheduled_at.strftime("%Y%m%d%H%M%S%z")
    cancel = parse_message(
        orm_cancel(kypho, ident=Identity(), control_id="3", at=AT), find_groups=True
    )
    assert cancel.orm_o01_order.orc.orc_1.to_er7() == "CA"
    assert cancel.orm_o01_order.orc.orc_16.to_er7() == "^Patient request"


def test_names_with_delimiters_are_escaped_not_split() -> None:
    case = DayCase(
        mrn="M|1", name="O&Brien^Mary", birth_date=None, sex="F", accession="ACC9",
        procedure="vertebroplasty", levels=("L1",), room="IR1", scheduled_at=AT,
    )  # fmt: skip
    text = adt_a04(case, ident=Identity(), control_id="9", at=AT)
    pid = hl7.parse(text).segment("PID")
    assert str(pid(3)).startswith("M\\F\\1^")
    assert str(pid(5)) == "O\\T\\Brien^Mary"


def test_day_lists_round_trip_through_json(tmp_path: Path) -> None:
    day = default_day(DAY, rooms=["IR1", "IR2"], per_room=2, zone=ZONE)
    assert len({c.accession for c in day}) == 4 and {c.room for c in day} == {"IR1", "IR2"}
    assert {c.procedure for c in day} == {"vertebroplasty", "kyphoplasty"}
    save_day(tmp_path / "day.json", day)
    assert load_day(tmp_path / "day.json") == day


# ---- the sender -----------------------------------------------------------------------------------


@dataclass
class MllpPeer:
    """A python-hl7 asyncio MLLP server standing in for procsuite's listener."""

    port: int
    answer: Callable[[hl7.Message, int], str | None]
    got: list[hl7.Message] = field(default_factory=list)


@contextlib.asynccontextmanager
async def mllp_peer(answer: Callable[[hl7.Message, int], str | None]) -> AsyncIterator[MllpPeer]:
    peer = MllpPeer(free_port(), answer)
    handlers: set[asyncio.Task[None]] = set()

    async def serve(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while True:
                try:
                    message = await reader.readmessage()
                except asyncio.IncompleteReadError:
                    return
                peer.got.append(message)
                reply = peer.answer(message, len(peer.got))
                if reply is None:  # hang up without answering
                    return
                writer.writemessage(reply)
                await writer.drain()
        finally:
            writer.close()
            handlers.discard(task)

    server = await start_hl7_server(serve, "127.0.0.1", peer.port, encoding="utf-8")
    try:
        yield peer
    finally:
        server.close()
        await server.wait_closed()
        if handlers:
            await asyncio.wait(handlers, timeout=5)


def ack(message: hl7.Message, code: str = "AA", control: str | None = None) -> str:
    answer = message.create_ack(ack_code=code, message_id="ACK1")
    if control is not None:
        answer.segment("MSA")[2] = control
    return str(answer)


@pytest.mark.asyncio
async def test_send_day_registers_then_orders_each_case_and_reads_the_acks() -> None:
    async with (
        mllp_peer(lambda m, _n: ack(m)) as peer,
        HisSender(clock=SimClock(), port=peer.port, timeout_s=5) as sender,
    ):
        sent = await sender.send_day(cases())
    assert [s.kind for s in sent] == ["ADT^A04", "ORM^O01 NW"] * 2
    assert all(s.ack.code == "AA" and s.ack.accepted for s in sent)
    assert [str(m.segment("MSH")(9)) for m in peer.got] == [
        "ADT^A04^ADT_A01",
        "ORM^O01^ORM_O01",
    ] * 2
    assert [str(m.segment("MSH")(10)) for m in peer.got] == [s.control_id for s in sent]
    assert len({s.control_id for s in sent}) == 4


@pytest.mark.asyncio
async def test_an_ae_answer_is_reported_not_hidden() -> None:
    async with (
        mllp_peer(lambda m, n: ack(m, "AE" if n == 2 else "AA")) as peer,
        HisSender(clock=SimClock(), port=peer.port, timeout_s=5) as sender,
    ):
        sent = await sender.send_day(cases()[:1])
    assert [s.ack.code for s in sent] == ["AA", "AE"]
    assert not sent[1].ack.accepted


@pytest.mark.asyncio
async def test_a_dropped_connection_is_reopened_and_the_message_sent_again() -> None:
    async with (
        mllp_peer(lambda m, n: None if n == 1 else ack(m)) as peer,
        HisSender(clock=SimClock(), port=peer.port, timeout_s=5, retry_s=0.01) as sender,
    ):
        sent = await sender.register(cases()[0])
    assert sent.ack.code == "AA"
    assert len(peer.got) == 2 and str(peer.got[0]) == str(peer.got[1])  # the same message again


@pytest.mark.asyncio
async def test_an_ack_for_another_message_is_an_error() -> None:
    async with (
        mllp_peer(lambda m, _n: ack(m, control="SOMETHING-ELSE")) as peer,
        HisSender(clock=SimClock(), port=peer.port, timeout_s=5) as sender,
    ):
        with pytest.raises(HisError, match="ACK answers control id 'SOMETHING-ELSE'"):
            await sender.register(cases()[0])


@pytest.mark.asyncio
async def test_nobody_listening_fails_after_the_attempts() -> None:
    async with HisSender(
        clock=SimClock(), port=free_port(), timeout_s=1, attempts=2, retry_s=0.01
    ) as sender:
        with pytest.raises(HisError, match="no ACK from 127.0.0.1:\\d+ after 2 attempts"):
            await sender.register(cases()[0])


# ---- the receiver ----------------------------------------------------------------------------------

ORU = (
    "MSH|^~\\&|PROCSUITE|IR|HIS|HOSPITAL|20261124101500+0100||ORU^R01^ORU_R01|{id}|P|2.5.1|||||| UNICODE UTF-8\r"
    "PID|1||MRN010001^^^HOSP^MR||Keller^Ruth\r"
    "OBR|1|PACC1|ACC1|22513^Kyphoplasty^C4\r"
    "OBX|1|NM|59408-5^SpO2^LN||97|%|||||F\r"
)


@contextlib.asynccontextmanager
async def receiver(tmp_path: Path, *, speed: float = 1.0) -> AsyncIterator[HisReceiver]:
    his = HisReceiver(clock=SimClock(speed=speed), port=free_port(), journal=tmp_path / "his.jsonl")
    stop = asyncio.Event()
    task = asyncio.create_task(his.run(stop))
    try:
        async with asyncio.timeout(5):
            await his.listening.wait()
        yield his
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task


async def send(port: int, *texts: str, read_timeout: float = 5.0) -> list[str]:
    reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="utf-8")
    replies = []
    try:
        for text in texts:
            writer.writeblock(text.encode())
            await writer.drain()
            async with asyncio.timeout(read_timeout):
                replies.append((await reader.readblock()).decode())
    finally:
        writer.close()
        await writer.wait_closed()
    return replies


@pytest.mark.asyncio
async def test_receiver_acks_keeps_and_journals_procsuites_messages(tmp_path: Path) -> None:
    async with receiver(tmp_path) as his:
        (reply,) = await send(his.port, ORU.format(id="OUT1"))
    answer = parse_ack(reply)
    assert (answer.code, answer.control_id) == ("AA", "OUT1")
    assert parse_message(reply).msh.msh_9.to_er7() == "ACK^R01^ACK"
    (kept,) = his.messages
    assert (kept.kind, kept.control_id, kept.ack, kept.duplicate) == (
        "ORU^R01^ORU_R01",
        "OUT1",
        "AA",
        False,
    )
    assert "OBX|1|NM|59408-5" in kept.text
    (line,) = (tmp_path / "his.jsonl").read_text().splitlines()
    assert json.loads(line)["control_id"] == "OUT1"


@pytest.mark.asyncio
async def test_receiver_answers_ae_to_the_next_n_messages_then_aa(tmp_path: Path) -> None:
    async with receiver(tmp_path) as his:
        his.answer_ae(count=2)
        replies = await send(his.port, *(ORU.format(id=f"OUT{i}") for i in (1, 1, 1, 1)))
    answers = [parse_ack(r) for r in replies]
    assert [a.code for a in answers] == ["AE", "AE", "AA", "AA"]
    assert answers[0].error_code == "207" and "simulated" in answers[0].text
    assert [m.duplicate for m in his.messages] == [False, False, False, True]
    assert his.stats.acks == {"AE": 2, "AA": 2}


@pytest.mark.asyncio
async def test_receiver_answers_ae_for_a_while(tmp_path: Path) -> None:
    async with receiver(tmp_path, speed=100.0) as his:
        his.answer_ae(for_s=3600)
        (first,) = await send(his.port, ORU.format(id="A"))
        his.answer_ae(for_s=0.0)
        (second,) = await send(his.port, ORU.format(id="B"))
    assert (parse_ack(first).code, parse_ack(second).code) == ("AE", "AA")


@pytest.mark.asyncio
async def test_a_slow_receiver_makes_the_sender_wait_for_its_ack(tmp_path: Path) -> None:
    async with receiver(tmp_path, speed=100.0) as his:
        his.set_slow(30.0)  # 30 simulated seconds = 0.3 s here
        reader, writer = await open_hl7_connection("127.0.0.1", his.port, encoding="utf-8")
        try:
            writer.writeblock(ORU.format(id="SLOW").encode())
            await writer.drain()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01):
                    await reader.readblock()
            async with asyncio.timeout(10):
                reply = (await reader.readblock()).decode()
        finally:
            writer.close()
            await writer.wait_closed()
    assert parse_ack(reply).code == "AA"


@pytest.mark.asyncio
async def test_a_down_receiver_refuses_connections_until_it_comes_up(tmp_path: Path) -> None:
    async with receiver(tmp_path, speed=100.0) as his:
        his.go_down()
        async with asyncio.timeout(5):
            await his.closed.wait()
        with pytest.raises(ConnectionRefusedError):
            await send(his.port, ORU.format(id="X"))
        his.go_down(for_s=20)  # 0.2 s here, then up by itself
        async with asyncio.timeout(10):
            await his.listening.wait()
        (reply,) = await send(his.port, ORU.format(id="Y"))
    assert parse_ack(reply).code == "AA"
    assert [m.control_id for m in his.messages] == ["Y"]


@pytest.mark.asyncio
async def test_an_unreadable_message_gets_ar(tmp_path: Path) -> None:
    async with receiver(tmp_path) as his:
        (reply,) = await send(his.port, "this is not HL7\r")
    assert parse_ack(reply).code == "AR"
    assert his.stats.unreadable == 1 and list(his.messages) == []
