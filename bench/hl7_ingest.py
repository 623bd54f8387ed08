"""HL7 ingest: messages per second with the ACK after the durable commit, over one connection
and over ten, next to a bare python-hl7 asyncio MLLP server that parses and ACKs without
storing (the ceiling of this stack), in the same run.

The server side runs in this process (SQLite in a temporary directory, the HL7 listener as the
service builds it); the senders run in a child process so their CPU does not count against
the server's event loop. Workloads: ADT^A04 (new patients), ORM^O01 for another procedure
(stored and answered "ignored"), ORM^O01 for a kyphoplasty (a new case each, for patients
registered by an untimed ADT^A04 first, as in a hospital).

    .venv/bin/python -m bench hl7_ingest       (HL7_BENCH_N=... to change the message count,
                                                HL7_BENCH_ROUNDS=... the rounds, 3)

One round's ratio moves by ±25 % on the shared 2-core machine, so every workload runs
`ROUNDS` times, each round timing procsuite and then the ceiling, and the figure reported
is the round with the median ratio (every round is kept under `rounds`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import machine, save

N_ONE = int(os.environ.get("HL7_BENCH_N", "1500"))
N_TEN = 2 * N_ONE
ROUNDS = int(os.environ.get("HL7_BENCH_ROUNDS", "3"))


def _adt(i: int, tag: str) -> bytes:
    return (
        f"MSH|^~\\&|HIS|HOSP|PROCSUITE|IR|20261124080000||ADT^A04^ADT_A01|{tag}R{i}|P|2.5.1\r"
        f"EVN|A04|20261124080000\r"
        f"PID|1||{tag}M{i}^^^HOSP^MR||BENCH^PATIENT{i}||19440506|F\r"
        f"PV1|1|O|IR^IR1\rAL1|1|DA|^LATEX\r"
    ).encode()


def _orm(i: int, tag: str, *, ours: bool) -> bytes:
    service = "22513^KYPHOPLASTY THORACIC^CPT" if ours else "71045^CHEST XRAY^CPT"
    return (
        f"MSH|^~\\&|HIS|HOSP|PROCSUITE|IR|20261124080000||ORM^O01|{tag}{i}|P|2.3.1\r"
        f"PID|1||{tag}M{i}^^^HOSP^MR||BENCH^PATIENT{i}||19440506|F\r"
        f"PV1|1|O|IR^IR1\r"
        f"ORC|NW|P{tag}{i}|{tag}A{i}||||^^^202611241000||20261124080000|||1234^WHO^DOC\r"
        f"OBR|1|P{tag}{i}|{tag}A{i}|{service}|||||||||T12, L1|||1234^WHO^DOC||{tag}A{i}\r"
    ).encode()


WORKLOADS: dict[str, Callable[[int, str], bytes]] = {
    "ADT^A04": _adt,
    "ORM^O01 other procedure": lambda i, t: _orm(i, t, ours=False),
    "ORM^O01 kyphoplasty (new case)": lambda i, t: _orm(i, t, ours=True),
}


# ---- the sending side (child process) ---------------------------------------------------------


async def _connection(port: int, messages: list[bytes], acks: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for m in messages:
            writer.write(b"\x0b" + m + b"\x1c\r")
            await writer.drain()
            acks.append(await reader.readuntil(b"\x1c\r"))
    finally:
        writer.close()
        await writer.wait_closed()


async def _send_all(port: int, batches: list[list[bytes]]) -> tuple[float, int, int]:
    acks: list[bytes] = []
    start = time.perf_counter()
    await asyncio.gather(*(_connection(port, b, acks) for b in batches))
    elapsed = time.perf_counter() - start
    accepted = sum(1 for a in acks if b"MSA|AA|" in a)
    return elapsed, len(acks), accepted


def _sender(port: int, batches: list[list[bytes]], out: Any) -> None:
    out.send(asyncio.run(_send_all(port, batches)))


def send_from_child(port: int, messages: list[bytes], connections: int) -> tuple[float, int, int]:
    batches = [messages[i::connections] for i in range(connections)]
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_sender, args=(port, batches, child))
    proc.start()
    result: tuple[float, int, int] = parent.recv()
    proc.join()
    return result


# ---- the servers ------------------------------------------------------------------------------


async def _ceiling_server() -> Any:
    """python-hl7's asyncio MLLP server: parse, ACK, store nothing."""
    from hl7.mllp import start_hl7_server

    async def client(reader: Any, writer: Any) -> None:
        try:
            while True:
                message = await reader.readmessage()
                writer.writemessage(message.create_ack())
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    return await start_hl7_server(client, "127.0.0.1", 0, encoding="utf-8")


async def _measure(port: int, workload: str, tag: str, n: int, connections: int) -> float:
    make = WORKLOADS[workload]
    if "new case" in workload:
        # As in a hospital, the patients were registered (ADT^A04) before they were ordered
        # for; that part is not timed.
        await asyncio.to_thread(send_from_child, port, [_adt(i, tag) for i in range(n)], 10)
    messages = [make(i, tag) for i in range(n)]
    elapsed, answered, accepted = await asyncio.to_thread(
        send_from_child, port, messages, connections
    )
    if answered != n or accepted != n:
        raise RuntimeError(f"{workload}: {answered} answered, {accepted} AA of {n}")
    return n / elapsed


async def run() -> dict[str, Any]:
    from adapters.hl7.component import hl7_components
    from adapters.hl7.listener import Hl7Listener
    from suite.app.case_service import CaseService
    from suite.app.context import ServiceContext
    from suite.bus import Bus
    from suite.settings import Settings
    from suite.store import migrate
    from suite.store.database import Database

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hl7bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        await migrate.upgrade(url)
        db = Database.from_url(url)
        writer = asyncio.create_task(db.run())
        settings = Settings(data_dir=Path(tmp), hl7_port=0, rooms=["IR1", "IR2"])
        bus = Bus()
        cases = CaseService(db, bus, clock=lambda: datetime.now(UTC))
        ctx = ServiceContext(settings=settings, db=db, bus=bus, cases=cases)
        listener = next(c for c in hl7_components(ctx) if isinstance(c, Hl7Listener))
        task = asyncio.create_task(listener.run())
        await listener.ready.wait()
        ceiling = await _ceiling_server()
        ceiling_port = ceiling.sockets[0].getsockname()[1]
        try:
            for w_index, workload in enumerate(WORKLOADS):
                for connections, n in ((1, N_ONE), (10, N_TEN)):
                    key = f"{workload} / {connections} connection{'s' if connections > 1 else ''}"
                    rounds: list[tuple[float, float]] = []
                    for r in range(ROUNDS):
                        tag = f"W{w_index}C{connections}R{r}"
                        stored = await _measure(listener.port, workload, tag, n, connections)
                        bare = await _measure(ceiling_port, workload, "X" + tag, n, connections)
                        rounds.append((stored, bare))
                    stored, bare = sorted(rounds, key=lambda sb: sb[0] / sb[1])[len(rounds) // 2]
                    results[key] = {
                        "messages": n,
                        "procsuite_msg_per_s": round(stored),
                        "ceiling_msg_per_s": round(bare),
                        "ratio_to_ceiling": round(stored / bare, 2),
                        "rounds": [
                            {"procsuite": round(s), "ceiling": round(b), "ratio": round(s / b, 2)}
                            for s, b in rounds
                        ],
                    }
                    print(
                        f"{key:<55} {stored:8.0f} msg/s  ceiling {bare:8.0f}  ({stored / bare:.0%})"
                        f"  rounds: {', '.join(f'{s / b:.2f}' for s, b in rounds)}"
                    )
            results["store_batches"] = db.batches
            results["store_jobs"] = db.jobs
        finally:
            ceiling.close()
            await ceiling.wait_closed()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            db.close()
            await writer
            await db.dispose()
    return results


def main() -> None:
    figures = asyncio.run(run())
    save("hl7_ingest", {"machine": machine(), "results": figures})
