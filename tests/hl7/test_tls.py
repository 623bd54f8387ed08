"""MLLP over TLS, both ways: the listener with a server certificate (and client certificates
when asked), the sender verifying the receiver's certificate."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from pathlib import Path

import pytest

from suite.domain import commands as c
from suite.domain.envelope import Source
from tests.hl7 import samples
from tests.hl7.conftest import eventually, make_settings, msa, run_stack
from tests.hl7.receiver import Receiver
from tests.peers import free_port, missing


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command-line tool)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    except FileNotFoundError:
        missing("openssl")
    return cert, key


async def tls_send(port: int, message: str, context: ssl.SSLContext) -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
    )
    try:
        writer.write(b"\x0b" + message.encode() + b"\x1c\r")
        await writer.drain()
        async with asyncio.timeout(10):
            return (await reader.readuntil(b"\x1c\r"))[1:-2]
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def plain_send(port: int, message: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"\x0b" + message.encode() + b"\x1c\r")
        async with asyncio.timeout(5):
            return await reader.readuntil(b"\x1c\r")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


@pytest.mark.asyncio
async def test_the_listener_speaks_tls_and_can_require_client_certificates(
    sqlite_url, tmp_path, clock
):
    server_cert, server_key = make_cert(tmp_path, "server")
    client_cert, client_key = make_cert(tmp_path, "client")
    settings = make_settings(
        tmp_path, tls_cert_file=server_cert, tls_key_file=server_key,
        tls_client_ca_file=client_cert,
    )  # fmt: skip
    async with run_stack(sqlite_url, settings, clock) as st:
        context = ssl.create_default_context(cafile=str(server_cert))
        context.load_cert_chain(client_cert, client_key)
        ack = await tls_send(st.port, samples.adt("A04"), context)
        assert msa(ack)[0] == "AA"
        anonymous = ssl.create_default_context(cafile=str(server_cert))
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await tls_send(st.port, samples.adt("A04", mrn="X2"), anonymous)
        # a plain-text sender is not served either, and the listener goes on
        with pytest.raises(
            (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError, TimeoutError)
        ):
            await plain_send(st.port, samples.adt("A04", mrn="X3"))
        assert msa(await tls_send(st.port, samples.adt("A04", mrn="X4"), context))[0] == "AA"


@pytest.mark.asyncio
async def test_the_sender_delivers_over_tls_to_a_verified_receiver(sqlite_url, tmp_path, clock):
    cert, key = make_cert(tmp_path, "his")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    receiver = Receiver(free_port(), tls=server)
    await receiver.start()
    settings = make_settings(
        tmp_path, outbound_host="127.0.0.1", outbound_port=receiver.port, outbound_tls=True,
        outbound_tls_ca_file=cert, retry_initial_s=0.05, poll_s=0.1,
    )  # fmt: skip
    try:
        async with run_stack(sqlite_url, settings, clock) as st:
            from tests.hl7.conftest import send

            await send(st.port, samples.orm())
            case = st.cases.by_accession("ACC0001")
            assert case is not None
            await st.cases.execute(
                case.case_id, c.CheckIn(at=clock()), actor="t", source=Source.TUI
            )
            await eventually(lambda: len(receiver.applied) == 1, what="delivery over TLS")
    finally:
        await receiver.stop()
