"""The PCD-01 listener on the wire: framing garbage and oversize frames cost one connection
(or one message), never the listener; MLLP over TLS, and a PCD-04 alert manager over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.devices.pcd01.codec import LocationMap
from adapters.devices.pcd01.listener import Pcd01Listener
from adapters.devices.pcd01.processor import Pcd01Processor
from simulators.pcd01_gateway import encode_oru
from tests.devices.conftest import device_settings, eventually, listener, msa, send_all, serving
from tests.hl7.receiver import Receiver
from tests.hl7.test_tls import make_cert, plain_send, tls_send
from tests.peers import free_port, port_is_free, stop_as_it_starts_listening


def good(control_id: str) -> bytes:
    return encode_oru(location="IR^IR1^1", device="m1", at=datetime.now(UTC),
                      values={"spo2": 96}, control_id=control_id)  # fmt: skip


@pytest.mark.asyncio
async def test_garbage_and_oversize_cost_one_connection_not_the_listener(tmp_path: Path) -> None:
    settings = device_settings(tmp_path, pcd01={"enabled": True, "port": 0,
                                                "max_frame_bytes": 4096})  # fmt: skip
    async with serving(settings) as service:
        lst = listener(service)
        port = lst.port
        # bytes outside any frame: the connection is closed, nothing answered
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        writer.close()
        # an oversize frame: AR naming the size, and the same connection goes on
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        big = good("big").replace(b"PID|||", b"PID|||" + b"X" * 10_000)
        writer.write(b"\x0b" + big + b"\x1c\r" + b"\x0b" + good("after") + b"\x1c\r")
        await writer.drain()
        async with asyncio.timeout(10):
            first = await reader.readuntil(b"\x1c\r")
            second = await reader.readuntil(b"\x1c\r")
        writer.close()
        assert b"MSA|AR|big" in first and b"exceeds 4096" in first
        assert b"MSA|AA|after" in second
        assert lst.framing["unframed"] == 1 and lst.framing["oversize"] == 1
        answers = await send_all(port, good("still-alive"))
        assert msa(answers[0]) == ("AA", "still-alive")


@pytest.mark.asyncio
async def test_pcd01_over_tls_and_pcd04_to_a_tls_alert_manager(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "procsuite")
    am_cert, am_key = make_cert(tmp_path, "acm")
    am_port = free_port()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(am_cert, am_key)
    receiver = Receiver(am_port, tls=server_ctx)
    await receiver.start()
    settings = device_settings(
        tmp_path,
        pcd01={"enabled": True, "port": 0, "tls_cert_file": str(cert), "tls_key_file": str(key)},
        pcd04={"host": "127.0.0.1", "port": am_port, "tls": True, "tls_ca_file": str(am_cert),
               "retry_initial_s": 0.05, "retry_max_s": 0.2, "poll_s": 0.1},
    )  # fmt: skip
    client = ssl.create_default_context(cafile=str(cert))
    try:
        async with serving(settings) as service:
            assert service.ctx is not None
            port = listener(service).port
            ack = await tls_send(port, good("tls1").decode(), client)
            assert b"MSA|AA|tls1" in ack
            with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError,
                                     asyncio.IncompleteReadError):  # fmt: skip
                plain = await plain_send(port, good("plain1").decode())
                assert b"MSA|AA" not in plain
            service.ctx.alarms.technical("IR1", "m1", kind="tls_probe", message="tls probe alarm")
            await eventually(lambda: any("tls probe alarm" in str(m) for m in receiver.messages()))
    finally:
        await receiver.stop()


@pytest.mark.asyncio
async def test_a_listener_stopped_as_it_starts_listening_lets_go_of_its_port(
    tmp_path: Path,
) -> None:
    # A service stopped while it starts must not leave the monitors' port held.
    async with serving(device_settings(tmp_path, pcd01={"enabled": True, "port": 0})) as service:
        ctx = service.ctx
        assert ctx is not None and ctx.samples is not None
        processor = Pcd01Processor(
            samples=ctx.samples, locations=LocationMap(frozenset(ctx.served), {}), db=ctx.db,
            clock=ctx.clock, application="PROCSUITE", facility="IR",
        )  # fmt: skip
        port = free_port()
        fresh = Pcd01Listener(
            processor, host="127.0.0.1", port=port, max_frame_bytes=65_536,
            frame_timeout_s=5.0, max_connections=4, tls=None,
        )  # fmt: skip
        await stop_as_it_starts_listening(fresh.run(), port)
        assert port_is_free(port)
