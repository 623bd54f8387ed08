"""The HL7 outbox: queueing outbound messages with the case events that cause them, reading
what a queued message is built from, and recording each delivery attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.case import Case
from suite.domain.envelope import Recorded
from suite.store import cases as case_store
from suite.store.database import StoreError, is_outage
from suite.store.hl7 import (
    OUTBOX_PENDING,
    Hl7OrderRow,
    Hl7OutboxRow,
    next_seq,
    order_for,
    set_outbox,
)

log = logging.getLogger(__name__)

# A part of a case transaction (the signature of `suite.app.case_service.TransactionHook`).
CasePart = Callable[[AsyncSession, Sequence[Recorded], Case], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Queued:
    """One outbound message to queue: its type, MSH-10, and what the sender builds it from."""

    message_type: str
    control_id: str
    payload: dict[str, Any]


# Which messages a case's new events cause (the HL7 adapter's triggers).
Planner = Callable[[Sequence[Recorded]], list[Queued]]


def outbox_hook(destination: str, *, plan: Planner, clock: Callable[[], datetime]) -> CasePart:
    """A case-service transaction hook that queues, for `destination`, the messages `plan`
    finds in each command's events (only for cases whose order came over HL7)."""

    async def hook(session: AsyncSession, records: Sequence[Recorded], case: Case) -> None:
        found = plan(records)
        if found:
            await enqueue(
                session,
                destination=destination,
                case_id=case.case_id,
                accession=case.order.accession,
                messages=found,
                now=clock(),
            )

    return hook


async def enqueue(
    session: AsyncSession,
    *,
    destination: str,
    case_id: str,
    accession: str,
    messages: Sequence[Queued],
    now: datetime,
) -> int:
    """Queue `messages` at the end of `destination`'s order; returns how many (none when the
    case's order did not come over HL7: the receiver would not know it)."""
    if not messages:
        return 0
    if await order_for(session, accession) is None:
        log.debug("hl7: case %s has no HL7 order; nothing to send", case_id)
        return 0
    seq = await next_seq(session, destination)
    rows: list[dict[str, Any]] = []
    for message in messages:
        rows.append(
            {
                "destination": destination,
                "seq": seq,
                "case_id": case_id,
                "accession": accession,
                "message_type": message.message_type,
                "control_id": message.control_id,
                "payload": message.payload,
                "raw": b"",
                "status": OUTBOX_PENDING,
                "attempts": 0,
                "last_error": "",
                "created_at": now,
                "updated_at": now,
            }
        )
        seq += 1
    await session.exec(insert(Hl7OutboxRow), params=rows)
    return len(rows)


async def rendering_input(
    session: AsyncSession, case_id: str, accession: str
) -> tuple[list[Recorded], Hl7OrderRow | None]:
    """What a queued message is built from: the case's events and its order's HL7 keys."""
    records = await case_store.load(session, case_id)
    return records, await order_for(session, accession)


async def outbox_row(session: AsyncSession, row_id: int) -> Hl7OutboxRow | None:
    """Outbound message `row_id` (None: no such row)."""
    return await session.get(Hl7OutboxRow, row_id)


async def update(session: AsyncSession, row_id: int, **values: Any) -> int:
    """Update outbound message `row_id`; returns how many rows matched.

    A statement the database refuses comes out as `StoreError` (an outage stays the
    driver's error, for the writer to tell apart).
    """
    try:
        return await set_outbox(session, row_id, **values)
    except SQLAlchemyError as exc:
        if is_outage(exc):
            raise
        raise StoreError(f"outbound #{row_id} not updated: {exc}") from exc


async def requeue(
    session: AsyncSession, row_id: int, *, control_id: str, raw: bytes, now: datetime
) -> int:
    """Put outbound message `row_id` back in its destination's queue, in its old place, to go
    as `raw` under `control_id`, with a fresh attempt count; returns how many rows matched."""
    return await update(
        session,
        row_id,
        status=OUTBOX_PENDING,
        attempts=0,
        last_error="",
        ack_code=None,
        ack_raw=None,
        sent_at=None,
        control_id=control_id,
        raw=raw,
        updated_at=now,
    )
