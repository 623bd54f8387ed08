"""The simulated HIS's inbound interface: an MLLP server for procsuite's outbound messages.

`HisReceiver` (default port 2576) takes procsuite's order status and result messages,
answers ACK AA, and keeps them in memory (the latest `keep`; older ones are dropped from
memory, never from the journal) and optionally in a JSONL journal. It can be told to be
down (not listening), slow (a delay before each ACK) or failing (AE for the next N
messages, or for a while), to show how procsuite's outbox retries and quarantines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hl7.mllp import InvalidBlockError, start_hl7_server

from simulators.clock import SimClock
from simulators.hl7_messages import Identity, Received, ack_for, read_header

log = logging.getLogger(__name__)

ENCODING = "utf-8"
MAX_MESSAGE_BYTES = 1_048_576


@dataclass(frozen=True, slots=True)
class Message:
    """A message procsuite sent us, and how we answered."""

    at: datetime
    kind: str
    control_id: str
    ack: str
    duplicate: bool
    text: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


@dataclass
class Behaviour:
    """How the receiver answers. Change it at any time (tests, the demo, the CLI)."""

    down: bool = False
    down_until: datetime | None = None  # back up at this (simulated) time
    slow_s: float = 0.0  # simulated seconds before each ACK
    ae_next: int = 0  # answer AE to this many messages
    ae_until: datetime | None = None  # answer AE until then


@dataclass
class ReceiverStats:
    received: int = 0
    acks: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    connections: int = 0


class HisReceiver:
    """The HIS's inbound MLLP server. `await run(stop)` serves until `stop` is set."""

    def __init__(
        self,
        *,
        clock: SimClock,
        host: str = "127.0.0.1",
        port: int = 2576,
        ident: Identity | None = None,
        journal: Path | None = None,
        keep: int = 10_000,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.clock = clock
        self.host = host
        self.port = port
        self.ident = ident or Identity()
        self.journal = journal
        self.behaviour = behaviour or Behaviour()
        self.messages: deque[Message] = deque(maxlen=keep)
        self.stats = ReceiverStats()
        self.listening = asyncio.Event()
        self.closed = asyncio.Event()  # set while not listening (down, or not started)
        self.closed.set()
        # Control ids answered AA, oldest first, at most `keep` (to flag repeats): bounded.
        self._seen: dict[str, None] = {}
        self._keep = keep
        self._changed = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._writers: set[Any] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._count = 0

    # ---- control --------------------------------------------------------------------------

    def go_down(self, *, for_s: float | None = None) -> None:
        """Stop listening and drop open connections (until `come_up`, or for `for_s`)."""
        self.behaviour.down = True
        self.behaviour.down_until = self.clock.now() + timedelta(seconds=for_s) if for_s else None
        self._changed.set()

    def come_up(self) -> None:
        self.behaviour.down = False
        self.behaviour.down_until = None
        self._changed.set()

    def answer_ae(self, *, count: int = 0, for_s: float | None = None) -> None:
        """Answer AE to the next `count` messages and/or for `for_s` simulated seconds."""
        self.behaviour.ae_next = count
        self.behaviour.ae_until = self.clock.now() + timedelta(seconds=for_s) if for_s else None

    def set_slow(self, seconds: float) -> None:
        self.behaviour.slow_s = max(0.0, seconds)

    # ---- serving ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Listen while not down; follow behaviour changes; return when `stop` is set."""
        server = None
        try:
            while not stop.is_set():
                b = self.behaviour
                if b.down and b.down_until is not None and self.clock.now() >= b.down_until:
                    self.come_up()
                if not b.down and server is None:
                    server = await start_hl7_server(
                        self._serve,
                        self.host,
                        self.port,
                        encoding=ENCODING,
                        limit=MAX_MESSAGE_BYTES,
                    )
                    self.closed.clear()
                    self.listening.set()
                    log.info("HIS receiver listening on %s:%d", self.host, self.port)
                elif b.down and server is not None:
                    await self._close(server)
                    server = None
                    log.info("HIS receiver down (not listening on %d)", self.port)
                self._changed.clear()
                # Poll `stop` (an event we cannot wait on together with ours without extra
                # tasks) ten times a second; a behaviour change wakes us at once.
                timeout = 0.1
                if b.down and b.down_until is not None:
                    left = (b.down_until - self.clock.now()).total_seconds() / self.clock.speed
                    timeout = min(timeout, max(0.0, left))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._changed.wait()
        finally:
            if server is not None:
                await self._close(server)

    async def _close(self, server: asyncio.AbstractServer) -> None:
        self.listening.clear()
        server.close()
        for writer in list(self._writers):
            writer.close()
        await server.wait_closed()
        if self._handlers:
            # The connection handlers see their streams closed and end; wait for them.
            await asyncio.wait(list(self._handlers), timeout=5.0)
        self.closed.set()

    async def _serve(self, reader: Any, writer: Any) -> None:
        self.stats.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while True:
                try:
                    block = await reader.readblock()
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except (InvalidBlockError, ValueError) as exc:
                    log.warning("HIS receiver: bad MLLP block (%s); closing the connection", exc)
                    return
                try:
                    reply = await self._answer(block)
                except Exception:
                    # A listener never dies of one message: count it, keep its head, hang up.
                    self.stats.unreadable += 1
                    log.exception("HIS receiver: could not answer a message %r", block[:60])
                    return
                writer.writeblock(reply.encode(ENCODING))
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    def _code_now(self) -> str:
        b = self.behaviour
        if b.ae_next > 0:
            b.ae_next -= 1
            return "AE"
        if b.ae_until is not None and self.clock.now() < b.ae_until:
            return "AE"
        return "AA"

    async def _answer(self, block: bytes) -> str:
        text = block.decode(ENCODING, "replace")
        self._count += 1
        control = f"R{self.clock.now():%y%m%d%H%M%S}{self._count:05d}"
        try:
            header: Received | None = read_header(text)
        except ValueError as exc:
            self.stats.unreadable += 1
            log.warning("HIS receiver: unreadable message (%s)", exc)
            return ack_for(
                None,
                code="AR",
                ident=self.ident,
                control_id=control,
                at=self.clock.now(),
                text=str(exc)[:80],
            )
        assert header is not None
        code = self._code_now()
        if self.behaviour.slow_s:
            await self.clock.sleep(self.behaviour.slow_s)
        duplicate = header.control_id in self._seen
        if code == "AA":
            self._seen[header.control_id] = None
            if len(self._seen) > self._keep:
                del self._seen[next(iter(self._seen))]
        message = Message(self.clock.now(), header.kind, header.control_id, code, duplicate, text)
        self._record(message)
        async with self._arrived:
            self._arrived.notify_all()
        note = "simulated HIS application error" if code == "AE" else ""
        return ack_for(
            header, code=code, ident=self.ident, control_id=control, at=self.clock.now(), text=note
        )

    def _record(self, message: Message) -> None:
        self.messages.append(message)
        self.stats.received += 1
        self.stats.acks[message.ack] = self.stats.acks.get(message.ack, 0) + 1
        log.info("HIS received %s %s -> %s", message.kind, message.control_id, message.ack)
        if self.journal is not None:
            with self.journal.open("a", encoding="utf-8") as out:
                out.write(json.dumps(message.to_json(), ensure_ascii=False) + "\n")

    async def wait_for(
        self, predicate: Callable[[list[Message]], bool], *, timeout_s: float
    ) -> list[Message]:
        """Wait (bounded by `timeout_s` real seconds) until `predicate(messages)` holds."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: predicate(list(self.messages)))
        return list(self.messages)
