"""What IT sees of the HL7 interface (the `hl7` section of the service status on MQTT,
docs/mqtt.md "Service status"): read-only queries of the HL7 store plus the running
listener's and sender's counters. Bounded: the latest `recent` inbound messages and at most
`quarantine_max` quarantined ones, with the totals beside them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.hl7.listener import Hl7Listener
from adapters.hl7.sender import Hl7Sender
from suite.app.context import StatusSection
from suite.store import hl7 as store
from suite.store.database import Database

TEXT_MAX = 200  # ACK texts and errors are cut to this many characters
RAW_MAX = 1500  # raw messages and ACKs in the status (the IT view's detail) are cut here


def _raw(value: bytes | None) -> str:
    """A raw HL7 message as text (segments separated by \\r), cut to RAW_MAX characters."""
    return (value or b"").decode("utf-8", "replace")[:RAW_MAX]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def stored_status(
    session: AsyncSession, *, recent: int = 20, quarantine_max: int = 20
) -> dict[str, Any]:
    """Inbound messages with their ACKs (newest first), outbox counts by state and the
    quarantined outbound messages with the reason (oldest first)."""
    inbound_rows = await session.exec(
        select(store.Hl7InboundRow).order_by(col(store.Hl7InboundRow.id).desc()).limit(recent)
    )
    inbound = [
        {
            "id": r.id,
            "received_at": _iso(r.received_at),
            "peer": r.peer,
            "type": r.message_type,
            "control_id": r.control_id,
            "ack": r.ack_code,
            "ack_text": r.ack_text[:TEXT_MAX],
            "result": r.result,
            "case_id": r.case_id,
            "repeats": r.repeats,
            "raw": _raw(r.raw),
            "ack_raw": _raw(r.ack_raw),
        }
        for r in inbound_rows
    ]
    outbound_rows = await session.exec(
        select(store.Hl7OutboxRow).order_by(col(store.Hl7OutboxRow.id).desc()).limit(recent)
    )
    outbound = [
        {
            "id": r.id,
            "at": _iso(r.updated_at),
            "type": r.message_type,
            "control_id": r.control_id,
            "status": r.status,
            "ack": r.ack_code,
            "attempts": r.attempts,
            "reason": r.last_error[:TEXT_MAX],
            "case_id": r.case_id,
            "accession": r.accession,
            "destination": r.destination,
            "raw": _raw(r.raw),
            "ack_raw": _raw(r.ack_raw),
        }
        for r in outbound_rows
    ]
    inbound_total = (
        await session.exec(select(func.count()).select_from(store.Hl7InboundRow))
    ).one()
    by_status = dict(
        (
            await session.exec(
                select(store.Hl7OutboxRow.status, func.count()).group_by(
                    col(store.Hl7OutboxRow.status)
                )
            )
        ).all()
    )
    quarantined_rows = await session.exec(
        select(store.Hl7OutboxRow)
        .where(store.Hl7OutboxRow.status == store.OUTBOX_QUARANTINED)
        .order_by(col(store.Hl7OutboxRow.id))
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
            "at": _iso(r.updated_at),
        }
        for r in quarantined_rows
    ]
    return {
        "inbound": {"total": int(inbound_total), "recent": inbound},
        "outbox": {
            "pending": int(by_status.get(store.OUTBOX_PENDING, 0)),
            "sent": int(by_status.get(store.OUTBOX_SENT, 0)),
            "quarantined": int(by_status.get(store.OUTBOX_QUARANTINED, 0)),
            "recent": outbound,
        },
        "quarantine": quarantine,
    }


def live_status(components: Iterable[object]) -> dict[str, Any]:
    """The running listener's and sender's state (absent when that part is not configured)."""
    found: dict[str, Any] = {}
    for component in components:
        if isinstance(component, Hl7Listener):
            heard = component.stats
            found["listener"] = {
                "port": component.port,
                "connections": heard.connections,
                "refused": heard.refused,
                "framing_errors": heard.unframed + heard.truncated + heard.oversize + heard.endless,
                "timeouts": heard.timeout + heard.idle,
            }
        elif isinstance(component, Hl7Sender):
            sent = component.stats
            found["sender"] = {
                "destination": component.destination,
                "sent": sent.sent,
                "failures": sent.failures,
                "quarantined": sent.quarantined,
            }
            found["outage"] = component.outage()
    return found


def status_section(db: Database, *, recent: int = 20) -> StatusSection:
    """The "hl7" section of the service status: stored messages and the running parts."""

    async def section(components: list[Any]) -> dict[str, Any]:
        async with db.session() as session:
            found = await stored_status(session, recent=recent, quarantine_max=recent)
        found.update(live_status(components))
        return found

    return section
