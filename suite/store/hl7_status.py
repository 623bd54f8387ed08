"""What IT sees of the stored HL7 traffic (the `hl7` section of the service status on MQTT,
docs/mqtt.md "Service status"): read-only and bounded — the latest `recent` inbound messages
and at most `quarantine_max` quarantined ones, with the totals beside them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.clock import iso
from suite.store.hl7 import (
    OUTBOX_PENDING,
    OUTBOX_QUARANTINED,
    OUTBOX_SENT,
    Hl7InboundRow,
    Hl7OutboxRow,
)

TEXT_MAX = 200  # ACK texts and errors are cut to this many characters


def _aware(value: datetime) -> datetime:
    # SQLite gives timestamps back without their zone; they were stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def stored_status(
    session: AsyncSession, *, recent: int = 20, quarantine_max: int = 20
) -> dict[str, Any]:
    """Inbound messages with their ACKs (newest first), outbox counts by state and the
    quarantined outbound messages with the reason (oldest first)."""
    inbound_rows = await session.exec(
        select(Hl7InboundRow).order_by(col(Hl7InboundRow.id).desc()).limit(recent)
    )
    inbound = [
        {
            "id": r.id,
            "received_at": iso(_aware(r.received_at)),
            "peer": r.peer,
            "type": r.message_type,
            "control_id": r.control_id,
            "ack": r.ack_code,
            "ack_text": r.ack_text[:TEXT_MAX],
            "result": r.result,
            "case_id": r.case_id,
            "repeats": r.repeats,
        }
        for r in inbound_rows
    ]
    inbound_total = (await session.exec(select(func.count()).select_from(Hl7InboundRow))).one()
    by_status = dict(
        (
            await session.exec(
                select(Hl7OutboxRow.status, func.count()).group_by(col(Hl7OutboxRow.status))
            )
        ).all()
    )
    quarantined_rows = await session.exec(
        select(Hl7OutboxRow)
        .where(Hl7OutboxRow.status == OUTBOX_QUARANTINED)
        .order_by(col(Hl7OutboxRow.id))
        .limit(quarantine_max)
    )
    quarantine = [
        {
            "id": r.id,
            "type": r.message_type,
            "case_id": r.case_id,
            "accession": r.accession,
            "ack": r.ack_code,
            "reason": r.last_error[:TEXT_MAX],
            "attempts": r.attempts,
            "at": iso(_aware(r.updated_at)),
        }
        for r in quarantined_rows
    ]
    return {
        "inbound": {"total": int(inbound_total), "recent": inbound},
        "outbox": {
            "pending": int(by_status.get(OUTBOX_PENDING, 0)),
            "sent": int(by_status.get(OUTBOX_SENT, 0)),
            "quarantined": int(by_status.get(OUTBOX_QUARANTINED, 0)),
        },
        "quarantine": quarantine,
    }
