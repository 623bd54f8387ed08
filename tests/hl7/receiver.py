"""A test MLLP receiver (a hospital system's inbound interface) built on python-hl7's own
asyncio MLLP server: an implementation independent of procsuite's framing code.

It answers every message with an ACK (AA unless told otherwise), remembers what it got in
order, and, like a real interface engine, recognises a repeated control ID (it answers it
AA again but does not count it as applied).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import hl7
from hl7.mllp import start_hl7_server


class Receiver:
    def __init__(self, port: int, *, answer: str = "AA", tls: Any = None) -> None:
        self.port = port
        self.answer = answer
        self.tls = tls
        self.received: list[str] = []  # every message as received (text), repeats included
        self.applied: list[str] = []  # control IDs applied, in order, each once
        self._server: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[Any] = set()
        self.arrived = asyncio.Event()

    async def start(self) -> None:
        self._server = await start_hl7_server(
            self._client, "127.0.0.1", self.port, encoding="utf-8", ssl=self.tls
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _client(self, reader: Any, writer: Any) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                try:
                    message = await reader.readmessage()
                except asyncio.IncompleteReadError:
                    return
                text = str(message)
                self.received.append(text)
                control_id = str(message.segment("MSH")(10))
                if self.answer == "AA" and control_id not in self.applied:
                    self.applied.append(control_id)
                self.arrived.set()
                ack = message.create_ack(self.answer, message_id=f"R{len(self.received)}")
                writer.writemessage(ack)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    def messages(self, kind: str | None = None) -> list[hl7.Message]:
        parsed = [hl7.parse(t) for t in self.received]
        if kind is None:
            return parsed
        return [m for m in parsed if str(m.segment("MSH")(9)).startswith(kind)]
