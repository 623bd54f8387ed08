"""The simulated hospital information system on HL7 v2 over MLLP (python-hl7 streams):
its outbound interface. The inbound one (procsuite's status and results) is his_receiver.py.

`HisSender` sends ADT^A04 and ORM^O01 (NW, CA) for the day's list to procsuite (default
127.0.0.1:2575) over one MLLP connection, waits for each ACK (bounded), checks it answers
the right control id, and reconnects and resends on a broken connection (at most
`attempts` times; a message is never sent again once it has been acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any

from hl7.mllp import InvalidBlockError, open_hl7_connection

from simulators.clock import SimClock
from simulators.day_list import DayCase
from simulators.hl7_messages import (
    Ack,
    AckError,
    Identity,
    adt_a04,
    orm_cancel,
    orm_new,
    parse_ack,
)

log = logging.getLogger(__name__)

ENCODING = "utf-8"
MAX_MESSAGE_BYTES = 1_048_576


class HisError(Exception):
    """The HIS could not deliver a message (no connection, no ACK, a wrong ACK)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """One message sent and the ACK it got."""

    kind: str
    accession: str
    control_id: str
    ack: Ack


class HisSender:
    """The HIS's outbound MLLP interface. Use as `async with HisSender(...) as his:`."""

    def __init__(
        self,
        *,
        clock: SimClock,
        host: str = "127.0.0.1",
        port: int = 2575,
        ident: Identity | None = None,
        timeout_s: float = 10.0,
        attempts: int = 3,
        retry_s: float = 1.0,
    ) -> None:
        self.clock = clock
        self.host = host
        self.port = port
        self.ident = ident or Identity()
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.retry_s = retry_s
        self._streams: tuple[Any, Any] | None = None
        self._count = 0
        self._run = os.urandom(2).hex()

    async def __aenter__(self) -> HisSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._streams is not None:
            _reader, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    def next_control_id(self) -> str:
        """MSH-10: unique per message (time, run, counter), at most 20 characters."""
        self._count += 1
        return f"H{self.clock.now():%y%m%d%H%M%S}{self._run}{self._count:03d}"[:20]

    async def _connect(self) -> tuple[Any, Any]:
        if self._streams is None:
            async with asyncio.timeout(self.timeout_s):
                self._streams = await open_hl7_connection(
                    self.host, self.port, encoding=ENCODING, limit=MAX_MESSAGE_BYTES
                )
        return self._streams

    async def send(self, text: str, *, control_id: str) -> Ack:
        """Send one message and return its ACK; `HisError` after `attempts` failures."""
        last = "no attempt"
        for attempt in range(1, self.attempts + 1):
            try:
                reader, writer = await self._connect()
                writer.writeblock(text.encode(ENCODING))
                await writer.drain()
                async with asyncio.timeout(self.timeout_s):
                    reply = await reader.readblock()
            except (
                OSError,
                TimeoutError,
                asyncio.IncompleteReadError,
                InvalidBlockError,
                ValueError,
            ) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.warning(
                    "HIS -> %s:%d attempt %d/%d failed (%s)",
                    self.host,
                    self.port,
                    attempt,
                    self.attempts,
                    last,
                )
                await self.close()
                if attempt < self.attempts:
                    await asyncio.sleep(self.retry_s)
                continue
            try:
                ack = parse_ack(reply.decode(ENCODING, "replace"))
            except AckError as exc:
                raise HisError(
                    f"{self.host}:{self.port} answered something that is not an ACK: {exc}"
                ) from None
            if ack.control_id != control_id:
                raise HisError(f"ACK answers control id {ack.control_id!r}, sent {control_id!r}")
            return ack
        raise HisError(
            f"no ACK from {self.host}:{self.port} after {self.attempts} attempts ({last})"
        )

    async def register(self, case: DayCase) -> Sent:
        """ADT^A04 for the case's patient."""
        control = self.next_control_id()
        ack = await self.send(
            adt_a04(case, ident=self.ident, control_id=control, at=self.clock.now()),
            control_id=control,
        )
        return Sent("ADT^A04", case.accession, control, ack)

    async def order(self, case: DayCase) -> Sent:
        """ORM^O01 NW: the case's order."""
        control = self.next_control_id()
        ack = await self.send(
            orm_new(case, ident=self.ident, control_id=control, at=self.clock.now()),
            control_id=control,
        )
        return Sent("ORM^O01 NW", case.accession, control, ack)

    async def cancel(self, case: DayCase, *, reason: str = "Patient request") -> Sent:
        """ORM^O01 CA: cancel the case's order."""
        control = self.next_control_id()
        text = orm_cancel(
            case, ident=self.ident, control_id=control, at=self.clock.now(), reason=reason
        )
        ack = await self.send(text, control_id=control)
        return Sent("ORM^O01 CA", case.accession, control, ack)

    async def send_day(self, cases: list[DayCase], *, pace_s: float = 0.0) -> list[Sent]:
        """Register and order every case, `pace_s` simulated seconds apart."""
        sent: list[Sent] = []
        for i, case in enumerate(cases):
            if i and pace_s:
                await self.clock.sleep(pace_s)
            sent.append(await self.register(case))
            sent.append(await self.order(case))
        return sent
