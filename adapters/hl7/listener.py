"""The inbound MLLP listener: an asyncio server, one task per connection, optional TLS.

Each connection reads one frame at a time (`FrameReader`, bounded), hands it to the
`InboundProcessor` and writes back its ACK. Nothing one connection sends can stall another:
framing garbage, a megabyte frame or a sender that stops half-way costs only that connection,
which is closed; each case is counted and logged once. Connections beyond the limit, from an
address not on the allow-list or beyond the per-address cap are closed at once
(suite/peers.py); a connection that completes no message within the idle timeout, or whose
frame takes longer than the frame timeout from first to last byte, is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from adapters.hl7.inbound import InboundProcessor
from adapters.hl7.journal import Journal
from suite.mllp import FrameError, FrameReader, Oversize, frame
from suite.peers import NOT_ALLOWED, PeerGate, PeerLimits, address_allowed

log = logging.getLogger(__name__)


@dataclass
class ListenerStats:
    connections: int = 0
    refused: int = 0
    unframed: int = 0
    timeout: int = 0
    truncated: int = 0
    oversize: int = 0
    endless: int = 0
    idle: int = 0
    not_allowed: int = 0
    peer_cap: int = 0


class Hl7Listener:
    """The `hl7-listener` component: serves MLLP on `host:port` until cancelled."""

    name = "hl7-listener"

    def __init__(
        self,
        processor: InboundProcessor,
        journal: Journal,
        *,
        host: str,
        port: int,
        max_frame_bytes: int,
        frame_timeout_s: float,
        max_connections: int,
        limits: PeerLimits | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.processor = processor
        self.journal = journal
        self.host = host
        self.port = port
        self.max_frame_bytes = max_frame_bytes
        self.frame_timeout_s = frame_timeout_s
        self.max_connections = max_connections
        self.tls = tls
        self.limits = limits or PeerLimits(per_peer=max_connections)
        networks = self.limits.allowed
        self.gate = PeerGate(
            per_peer=self.limits.per_peer, allowed=lambda ip: address_allowed(networks, ip)
        )
        self.stats = ListenerStats()
        self.ready = asyncio.Event()
        self._clients: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        remembered = await self.journal.load()
        try:
            server = await asyncio.start_server(
                self._client,
                self.host,
                self.port,
                ssl=self.tls,
                ssl_handshake_timeout=self.frame_timeout_s if self.tls else None,
                # Served from inside the try below: asyncio's start_server yields once after
                # it starts serving, and a stop arriving there would leave the port open.
                start_serving=False,
            )
        except OSError as exc:
            log.error("hl7: cannot listen on %s:%d: %s", self.host, self.port, exc)
            raise
        self.port = server.sockets[0].getsockname()[1]
        log.info(
            "hl7: listening on %s:%d%s (%d recent control IDs remembered)",
            self.host,
            self.port,
            " with TLS" if self.tls else "",
            remembered,
        )
        try:
            await server.start_serving()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.journal.run(), name="hl7-journal")
                self.ready.set()
                await asyncio.Event().wait()
        finally:
            server.close()
            clients = list(self._clients)
            for task in clients:
                task.cancel()
            await asyncio.gather(*clients, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await server.wait_closed()
            log.info("hl7: listener stopped")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        ip = str(address[0]) if isinstance(address, tuple) else str(address)
        admitted = False
        try:
            refusal = self.gate.admit(ip)
            if refusal is not None:
                count = getattr(self.stats, refusal) + 1
                setattr(self.stats, refusal, count)
                if count & (count - 1) == 0:  # 1, 2, 4, 8, ...
                    why = (
                        "not on hl7.allowed_peers"
                        if refusal == NOT_ALLOWED
                        else f"already {self.limits.per_peer} connections from that address"
                    )
                    log.warning("hl7: refused %s: %s (refused so far: %d)", peer, why, count)
                return
            admitted = True
            if len(self._clients) > self.max_connections:
                self.stats.refused += 1
                if self.stats.refused & (self.stats.refused - 1) == 0:  # 1, 2, 4, 8, ...
                    log.warning(
                        "hl7: refused %s: %d connections already open (refused so far: %d)",
                        peer,
                        self.max_connections,
                        self.stats.refused,
                    )
                return
            self.stats.connections += 1
            await self._serve(reader, writer, peer)
        except (ConnectionError, TimeoutError, ssl.SSLError) as exc:
            log.info("hl7: connection from %s ended: %s", peer, exc or type(exc).__name__)
        except Exception:  # a bug must cost one connection, not the listener
            log.exception("hl7: connection from %s failed", peer)
        finally:
            if admitted:
                self.gate.release(ip)
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError):
                async with asyncio.timeout(2):
                    await writer.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        frames = FrameReader(
            reader,
            max_frame_bytes=self.max_frame_bytes,
            frame_timeout_s=self.frame_timeout_s,
            idle_timeout_s=self.limits.idle_timeout_s,
        )
        while True:
            try:
                item = await frames.next()
            except FrameError as exc:
                setattr(self.stats, exc.kind, getattr(self.stats, exc.kind) + 1)
                log.warning("hl7: closing %s: %s", peer, exc)
                await self.processor.record_framing_error(exc.sample, str(exc), peer=peer)
                return
            if item is None:
                return
            if isinstance(item, Oversize):
                self.stats.oversize += 1
                log.warning(
                    "hl7: %s sent a frame of %d bytes (limit %d): answered AR",
                    peer,
                    item.size,
                    self.max_frame_bytes,
                )
                ack = await self.processor.reject_oversize(
                    item.head, item.size, self.max_frame_bytes, peer=peer
                )
            else:
                try:
                    ack = await self.processor.handle(item, peer=peer)
                except Exception:  # a bug must cost one message, not the listener
                    log.exception("hl7: processing a message from %s failed", peer)
                    ack = self.processor.internal_error(item, peer=peer)
            # One write per ACK: some senders (mllp_send) read the reply with a single recv.
            writer.write(frame(ack))
            async with asyncio.timeout(self.frame_timeout_s):
                await writer.drain()
