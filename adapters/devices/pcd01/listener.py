"""The PCD-01 listener: an asyncio MLLP server on its own port (optionally TLS), one task per
gateway connection, each message answered before the next is read.

A framing error, an oversize frame or a stalled sender costs only that connection (an
oversize frame is answered AR and the connection goes on); a message that cannot be used is
answered AE / AR by the processor. Nothing a gateway sends ends the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from typing import Any

from adapters.devices.ack import AckError, build_ack
from adapters.devices.pcd01.processor import Pcd01Processor, guess_addressing
from suite.mllp import FrameError, FrameReader, Oversize, frame

log = logging.getLogger(__name__)


class Pcd01Listener:
    """The `pcd01-listener` component: serves MLLP on `host:port` until cancelled."""

    name = "pcd01-listener"
    kind = "pcd01"

    def __init__(
        self,
        processor: Pcd01Processor,
        *,
        host: str,
        port: int,
        max_frame_bytes: int = 1_048_576,
        frame_timeout_s: float = 30.0,
        max_connections: int = 64,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.processor = processor
        self.host = host
        self.port = port
        self.max_frame_bytes = max_frame_bytes
        self.frame_timeout_s = frame_timeout_s
        self.max_connections = max_connections
        self.tls = tls
        self.ready = asyncio.Event()
        self.connections = 0
        self.refused = 0
        self.framing: Counter[str] = Counter()
        self._clients: set[asyncio.Task[Any]] = set()

    def status(self) -> dict[str, Any]:
        """Counters for the IT view."""
        s = self.processor.stats
        return {
            "kind": "pcd01",
            "port": self.port,
            "connections_open": len(self._clients),
            "connections": self.connections,
            "received": s.received,
            "accepted": s.accepted,
            "errors": s.errors,
            "rejected": s.rejected,
            "samples": s.samples,
            "unknown_codes": s.unknown_codes,
            "framing": dict(self.framing),
            # the monitors' own limits (OBX-7), shown beside procsuite's: room -> device -> ...
            "monitor_limits": _by_room(self.processor.limits),
        }

    async def run(self) -> None:
        try:
            server = await asyncio.start_server(
                self._client, self.host, self.port, ssl=self.tls,
                ssl_handshake_timeout=self.frame_timeout_s if self.tls else None,
                start_serving=False,  # served inside the try below (see the HL7 listener)
            )  # fmt: skip
        except OSError as exc:
            log.error("pcd01: cannot listen on %s:%d: %s", self.host, self.port, exc)
            raise
        self.port = server.sockets[0].getsockname()[1]
        log.info(
            "pcd01: listening on %s:%d%s", self.host, self.port, " with TLS" if self.tls else ""
        )
        try:
            await server.start_serving()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.processor.run_journal(), name="pcd01-journal")
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
            log.info("pcd01: listener stopped")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        try:
            if len(self._clients) > self.max_connections:
                self.refused += 1
                if self.refused & (self.refused - 1) == 0:  # 1, 2, 4, 8, ...
                    log.warning(
                        "pcd01: refused %s: %d connections open", peer, self.max_connections
                    )
                return
            self.connections += 1
            await self._serve(reader, writer, peer)
        except (ConnectionError, TimeoutError, ssl.SSLError) as exc:
            log.info("pcd01: connection from %s ended: %s", peer, exc or type(exc).__name__)
        except Exception:  # a bug must cost one connection, not the listener
            log.exception("pcd01: connection from %s failed", peer)
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError):
                async with asyncio.timeout(2):
                    await writer.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        frames = FrameReader(
            reader, max_frame_bytes=self.max_frame_bytes, frame_timeout_s=self.frame_timeout_s
        )
        while True:
            try:
                item = await frames.next()
            except FrameError as exc:
                self.framing[exc.kind] += 1
                log.warning("pcd01: closing %s: %s", peer, exc)
                return
            if item is None:
                return
            if isinstance(item, Oversize):
                self.framing["oversize"] += 1
                text = f"message of {item.size} bytes exceeds {self.max_frame_bytes}"
                ack = build_ack(
                    guess_addressing(item.head), code="AR", errors=(AckError("", "207", text),),
                    control_id="PSOVERSIZE", now=self.processor.clock(),
                    application=self.processor.application, facility=self.processor.facility,
                )  # fmt: skip
            else:
                ack = self.processor.handle(item, peer=peer)
            writer.write(frame(ack))
            async with asyncio.timeout(self.frame_timeout_s):
                await writer.drain()


def _by_room(limits: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for (room, device), values in sorted(limits.items()):
        out.setdefault(room, {})[device] = values
    return out
