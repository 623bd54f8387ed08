"""HL7 tables: the inbound message log, the outbound outbox, patients from ADT, orders from HL7.

- `hl7_inbound`: every message received, raw, with the ACK we answered and what it did. The
  (sending application, sending facility, MSH-10) triple is unique: a repeated message is
  recognised and answered with the stored ACK instead of being applied twice.
- `hl7_outbox`: every message we send, written in the same transaction as the case events
  that cause it; the sender delivers them in `seq` order per destination.
- `hl7_patients`: the patient registry kept from ADT (A01/A04 register, A08 update, A40 merge).
- `hl7_orders`: the HL7 identity of each order that became a case (placer / filler numbers,
  service code, ordering provider as sent), so status and results go back under the same keys.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    update,
)
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.tables import BigId, utc_column


class Hl7InboundRow(SQLModel, table=True):
    """One received message (or one unframed burst of bytes) and the ACK it got."""

    __tablename__ = "hl7_inbound"
    __table_args__ = (
        UniqueConstraint(
            "sending_application",
            "sending_facility",
            "accepted_control_id",
            name="uq_hl7_inbound_key",
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    received_at: datetime = utc_column()
    peer: str = Field(default="", max_length=64)
    sending_application: str = Field(default="", max_length=64)
    sending_facility: str = Field(default="", max_length=64)
    control_id: str = Field(default="", max_length=64)
    # MSH-10 again, only for messages answered AA: the key that recognises a repeat (an AE /
    # AR answer is not remembered, so a corrected message with the same ID is processed).
    accepted_control_id: str | None = Field(default=None, max_length=64)
    message_type: str = Field(default="", max_length=32)
    version: str = Field(default="", max_length=16)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ack_code: str | None = Field(default=None, max_length=2)
    ack_text: str = Field(default="", sa_column=Column(String(1024), nullable=False))
    ack_raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    result: str = Field(default="", max_length=32)
    case_id: str | None = Field(default=None, max_length=64)
    repeats: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


class Hl7OutboxRow(SQLModel, table=True):
    """One outbound message: pending until the receiver answers AA, quarantined on AE / AR
    (or when it keeps failing), sent once AA came back."""

    __tablename__ = "hl7_outbox"
    __table_args__ = (Index("ix_hl7_outbox_dest_status_seq", "destination", "status", "seq"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    destination: str = Field(max_length=128)
    seq: int
    case_id: str = Field(index=True, max_length=64)
    accession: str = Field(default="", max_length=64)
    message_type: str = Field(max_length=32)
    control_id: str = Field(max_length=64)
    # What to send: the case and the version of its event log the message reports on. The
    # bytes are built from it once, before the first attempt, and never change afterwards.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    raw: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    last_error: str = Field(default="", sa_column=Column(String(1024), nullable=False))
    ack_code: str | None = Field(default=None, max_length=2)
    ack_raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    sent_at: datetime | None = utc_column(nullable=True)


class Hl7PatientRow(SQLModel, table=True):
    """A patient as the hospital system last described it (ADT), or as an order named it."""

    __tablename__ = "hl7_patients"

    mrn: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=256)
    birth_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    sex: str = Field(default="U", max_length=1)
    allergies: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    identifiers: str = Field(default="", sa_column=Column(String(512), nullable=False))
    merged_into: str | None = Field(default=None, max_length=64)
    updated_at: datetime = utc_column()


class Hl7OrderRow(SQLModel, table=True):
    """The HL7 keys of an order that became a case, as the placer sent them."""

    __tablename__ = "hl7_orders"

    accession: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(index=True, max_length=64)
    placer_order: str = Field(default="", max_length=64)
    filler_order: str = Field(default="", max_length=64)
    service_code: str = Field(default="", max_length=64)
    service_text: str = Field(default="", max_length=256)
    service_system: str = Field(default="", max_length=32)
    ordering_provider: str = Field(default="", max_length=256)
    patient_ids: str = Field(default="", sa_column=Column(String(512), nullable=False))
    visit_number: str = Field(default="", max_length=64)
    sending_application: str = Field(default="", max_length=64)
    sending_facility: str = Field(default="", max_length=64)
    updated_at: datetime = utc_column()


OUTBOX_PENDING = "pending"
OUTBOX_SENT = "sent"
OUTBOX_QUARANTINED = "quarantined"


# ---- queries --------------------------------------------------------------------------------


async def recent_keys(session: AsyncSession, limit: int) -> list[tuple[str, str, str, int]]:
    """The (application, facility, control id, row id) of the last `limit` inbound messages."""
    rows = await session.exec(
        select(
            Hl7InboundRow.sending_application,
            Hl7InboundRow.sending_facility,
            Hl7InboundRow.accepted_control_id,
            Hl7InboundRow.id,
        )
        .where(col(Hl7InboundRow.accepted_control_id).is_not(None))
        .order_by(col(Hl7InboundRow.id).desc())
        .limit(limit)
    )
    return [(a, f, c or "", i or 0) for a, f, c, i in rows]


async def inbound_by_key(
    session: AsyncSession, application: str, facility: str, control_id: str
) -> Hl7InboundRow | None:
    rows = await session.exec(
        select(Hl7InboundRow).where(
            Hl7InboundRow.sending_application == application,
            Hl7InboundRow.sending_facility == facility,
            Hl7InboundRow.accepted_control_id == control_id,
        )
    )
    return rows.first()


async def recent_inbound(session: AsyncSession, limit: int) -> list[Hl7InboundRow]:
    rows = await session.exec(
        select(Hl7InboundRow).order_by(col(Hl7InboundRow.id).desc()).limit(limit)
    )
    return list(rows)


async def recent_outbound(
    session: AsyncSession, limit: int, *, status: str | None = None
) -> list[Hl7OutboxRow]:
    query = select(Hl7OutboxRow).order_by(col(Hl7OutboxRow.id).desc()).limit(limit)
    if status is not None:
        query = query.where(Hl7OutboxRow.status == status)
    rows = await session.exec(query)
    return list(rows)


async def next_pending(session: AsyncSession, destination: str) -> Hl7OutboxRow | None:
    """The head of the destination's queue: the pending message with the lowest seq."""
    rows = await session.exec(
        select(Hl7OutboxRow)
        .where(Hl7OutboxRow.destination == destination, Hl7OutboxRow.status == OUTBOX_PENDING)
        .order_by(col(Hl7OutboxRow.seq), col(Hl7OutboxRow.id))
        .limit(1)
    )
    return rows.first()


async def next_seq(session: AsyncSession, destination: str) -> int:
    rows = await session.exec(
        select(func.max(Hl7OutboxRow.seq)).where(Hl7OutboxRow.destination == destination)
    )
    return int(rows.first() or 0) + 1


async def set_outbox(session: AsyncSession, row_id: int, **values: Any) -> int:
    """Update one outbox row; returns how many rows matched."""
    result = await session.exec(
        update(Hl7OutboxRow).where(col(Hl7OutboxRow.id) == row_id).values(**values)
    )
    return int(result.rowcount)


async def order_for(session: AsyncSession, accession: str) -> Hl7OrderRow | None:
    return await session.get(Hl7OrderRow, accession)
