"""Garbage on the socket never blocks other connections or the listener: each bad client is
dealt with (answered AR, or closed), counted, and logged, while a good client is served."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
import pytest_asyncio

from adapters.hl7.journal import Journal
from adapters.hl7.listener import Hl7Listener
from suite.store import hl7 as store
from tests.hl7 import samples
from tests.hl7.conftest import Stack, eventually, make_settings, msa, run_stack, send
from tests.peers import free_port, port_is_free, stop_as_it_starts_listening


@pytest_asyncio.fixture
async def strict_stack(sqlite_url, tmp_path, clock):
    settings = make_settings(
        tmp_path, max_frame_bytes=65_536, frame_timeout_s=0.5, max_connections=3
    )
    async with run_stack(sqlite_url, settings, clock) as s:
        yield s


async def served_meanwhile(stack: Stack, count: int = 5) -> None:
    """A good client gets every ACK while the bad one misbehaves."""
    messages = [samples.adt("A04", mrn=f"GOOD{i}") for i in range(count)]
    acks = await send(stack.port, *messages, wait_s=5)
    assert [msa(a)[0] for a in acks] == ["AA"] * count


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(5):
        return await reader.read()


@contextlib.asynccontextmanager
async def connection(port: int) -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def framing_rows(stack: Stack) -> list[store.Hl7InboundRow]:
    async with stack.db.session() as session:
        rows = await store.recent_inbound(session, 50)
    return [r for r in rows if r.result == "framing"]


@pytest.mark.asyncio
async def test_bytes_without_mllp_framing_close_only_that_connection(strict_stack, caplog):
    caplog.set_level(logging.WARNING, logger="adapters.hl7.listener")
    async with connection(strict_stack.port) as (reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nHost: procsuite\r\n\r\n")
        await writer.drain()
        await served_meanwhile(strict_stack)
        assert await closed_by_server(reader) == b""  # nothing answered, connection closed
    assert strict_stack.listener.stats.unframed == 1
    assert len([r for r in caplog.records if "outside an MLLP frame" in r.getMessage()]) == 1
    rows = await framing_rows(strict_stack)
    assert len(rows) == 1 and rows[0].raw.startswith(b"GET / HTTP/1.1")


@pytest.mark.asyncio
async def test_a_frame_of_megabytes_is_answered_ar_and_the_connection_goes_on(strict_stack):
    huge = samples.adt("A04", control="HUGE1").encode() + b"NTE|1||" + b"x" * (3 * 1024 * 1024)
    async with connection(strict_stack.port) as (reader, writer):
        writer.write(b"\x0b" + huge[: len(huge) // 2])
        await writer.drain()
        await served_meanwhile(strict_stack)
        writer.write(huge[len(huge) // 2 :] + b"\x1c\r")
        await writer.drain()
        async with asyncio.timeout(5):
            ack = (await reader.readuntil(b"\x1c\r"))[1:-2]
        code, control, text = msa(ack)
        assert (code, control) == ("AR", "HUGE1")
        assert "exceeds the maximum of 65536 bytes" in text
        # the same connection carries on with the next message
        writer.write(b"\x0b" + samples.adt("A04", control="AFTER").encode() + b"\x1c\r")
        await writer.drain()
        async with asyncio.timeout(5):
            ack = (await reader.readuntil(b"\x1c\r"))[1:-2]
        assert msa(ack)[:2] == ("AA", "AFTER")
    assert strict_stack.listener.stats.oversize == 1
    async with strict_stack.db.session() as session:
        rows = await store.recent_inbound(session, 20)
    kept = next(r for r in rows if r.ack_code == "AR")
    assert len(kept.raw) == 65_536  # the head is kept for IT, not megabytes


@pytest.mark.asyncio
async def test_a_sender_stopping_half_way_is_closed_and_others_are_served(strict_stack):
    async with connection(strict_stack.port) as (reader, writer):
        writer.write(b"\x0b" + samples.adt("A04").encode()[:60])
        await writer.drain()
        await served_meanwhile(strict_stack)
        assert await closed_by_server(reader) == b""
    assert strict_stack.listener.stats.timeout == 1
    await served_meanwhile(strict_stack, 1)


@pytest.mark.asyncio
async def test_a_connection_dropped_inside_a_frame_is_counted(strict_stack):
    async with connection(strict_stack.port) as (_reader, writer):
        writer.write(b"\x0bMSH|^~\\&|HIS")
        await writer.drain()
    await eventually(lambda: strict_stack.listener.stats.truncated == 1, what="truncated")
    await served_meanwhile(strict_stack, 1)


@pytest.mark.asyncio
async def test_connections_beyond_the_limit_are_refused_not_queued(strict_stack):
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(connection(strict_stack.port))
        await eventually(lambda: strict_stack.listener.stats.connections == 3, what="3 open")
        async with connection(strict_stack.port) as (reader, _writer):
            assert await closed_by_server(reader) == b""
        assert strict_stack.listener.stats.refused == 1
    # once those are gone, new senders are served again
    await eventually(lambda: len(strict_stack.listener._clients) == 0, what="closed")
    await served_meanwhile(strict_stack, 1)


@pytest.mark.asyncio
async def test_a_failing_database_is_answered_ar_not_aa(stack):
    stack.db.close()  # the store stops taking writes: nothing can be made durable
    acks = await send(stack.port, samples.adt("A04", control="NODB"))
    code, control, text = msa(acks[0])
    assert (code, control) == ("AR", "NODB")
    assert "could not be stored" in text


@pytest.mark.asyncio
async def test_a_listener_stopped_as_it_starts_listening_lets_go_of_its_port(
    stack: Stack,
) -> None:
    # A service stopped while it starts (a restart loop, a failed sibling component) must not
    # leave its HL7 port held: the next start would find it taken.
    port = free_port()
    fresh = Hl7Listener(
        stack.listener.processor, Journal(stack.db, memory=100), host="127.0.0.1", port=port,
        max_frame_bytes=65_536, frame_timeout_s=5.0, max_connections=4,
    )  # fmt: skip
    await stop_as_it_starts_listening(fresh.run(), port)
    assert port_is_free(port)
