"""Replaying an outbound HL7 message: the one use case behind `procsuite hl7 replay`
(adapters/hl7/cli.py) and the `hl7_replay` command of the MQTT channel (IT's terminal).

The message is queued again with a new control ID (MSH-10), in its old place in the
destination's order, so it goes before newer pending messages. The audit entry is written in
the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from suite.errors import DomainError
from suite.store import audit_log, hl7_outbox
from suite.store import hl7 as store
from suite.store.database import Database


class ReplayRefused(DomainError):
    """The message cannot be replayed; the text says why ("no outbound message #7")."""

    rule = "hl7-replay"


@dataclass(frozen=True, slots=True)
class Replayed:
    message_id: int
    message_type: str
    control_id: str


def with_control_id(raw: bytes, control_id: str) -> bytes:
    """`raw` with MSH-10 replaced (a receiver that keeps control IDs must not drop a replay)."""
    text = raw.decode("utf-8")
    first, sep, rest = text.partition("\r")
    fields = first.split("|")
    fields[9] = control_id
    return ("|".join(fields) + sep + rest).encode("utf-8")


async def replay_outbound(
    db: Database,
    row_id: int,
    *,
    now: datetime,
    user: str,
    source: str,
    new_control_id: Callable[[], str] = lambda: uuid.uuid4().hex[:20],
) -> Replayed:
    """Queue outbound message `row_id` (quarantined or sent) again with a new control ID;
    returns what was queued.

    Raises `ReplayRefused` when there is no such message or it is still waiting to be sent.
    """
    row = await db.read(lambda s: hl7_outbox.outbox_row(s, row_id))
    if row is None:
        raise ReplayRefused(f"no outbound message #{row_id}")
    if row.status == store.OUTBOX_PENDING:
        raise ReplayRefused(f"outbound message #{row_id} is already waiting to be sent")
    control_id = new_control_id()
    raw = with_control_id(row.raw, control_id) if row.raw else b""
    message_type = row.message_type

    async def job(session: AsyncSession) -> None:
        await hl7_outbox.requeue(session, row_id, control_id=control_id, raw=raw, now=now)
        await audit_log.record(
            session, at=now, user=user, source=source, action="hl7_replay",
            subject=f"hl7 outbound #{row_id}",
            detail={"message_type": message_type, "control_id": control_id},
        )  # fmt: skip

    await db.write(job)
    return Replayed(row_id, message_type, control_id)
