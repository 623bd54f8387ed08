"""Device gateway tables: the PCD-01 inbound journal and the PCD-04 outbound outbox.

- `pcd01_messages`: every ORU^R01 a gateway sent (raw), with the ACK it got, the room it
  mapped to, how many samples it gave and how many observations procsuite does not read.
- `pcd04_messages`: one row per alarm event (`event_id` of `alarm_events`, unique: an event
  is queued once), the ORU^R40 built for it (NULL when the event is not sent, e.g. a limit
  change), and when the alert manager accepted it. Rows are delivered in `id` order, which is
  the order of the alarm events, so each alarm's messages arrive in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, Text, func, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.alarms import AlarmEventRow, utc
from suite.store.tables import BigId, utc_column


class Pcd01MessageRow(SQLModel, table=True):
    """One PCD-01 message received and what became of it."""

    __tablename__ = "pcd01_messages"

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    received_at: datetime = utc_column(index=True)
    peer: str = Field(default="", max_length=64)
    sending_application: str = Field(default="", max_length=64)
    control_id: str = Field(default="", index=True, max_length=64)
    location: str = Field(default="", max_length=128)
    room: str | None = Field(default=None, index=True, max_length=64)
    devices: str = Field(default="", max_length=256)
    ack_code: str = Field(max_length=2)
    error: str = Field(default="", max_length=500)
    samples: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    unknown_codes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # {device: {param: [low, high]}}: the monitor's own limits (OBX-7)
    limits: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    raw: str = Field(sa_column=Column(Text, nullable=False))


class Pcd04MessageRow(SQLModel, table=True):
    """One alarm event and the ORU^R40 it became (if any)."""

    __tablename__ = "pcd04_messages"

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    event_id: int = Field(sa_column=Column(BigId, nullable=False, unique=True))
    alarm_id: str = Field(index=True, max_length=64)
    room: str = Field(max_length=64)
    phase: str = Field(default="", max_length=16)  # start, update, escalate, end ("" = none)
    control_id: str = Field(default="", max_length=64)
    message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    queued_at: datetime = utc_column()
    sent_at: datetime | None = utc_column(nullable=True, index=True)
    ack_code: str = Field(default="", max_length=4)
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str = Field(default="", max_length=500)


# ---- PCD-01 journal ---------------------------------------------------------------------


async def add_pcd01(session: AsyncSession, *, rows: Sequence[Pcd01MessageRow]) -> None:
    session.add_all(rows)


async def list_pcd01(
    session: AsyncSession,
    *,
    limit: int = 50,
    room: str | None = None,
    control_id: str | None = None,
    ack_code: str | None = None,
) -> list[Pcd01MessageRow]:
    """The latest journal rows, newest first, optionally of one room / control id / answer."""
    query = select(Pcd01MessageRow)
    if room is not None:
        query = query.where(col(Pcd01MessageRow.room) == room)
    if control_id is not None:
        query = query.where(col(Pcd01MessageRow.control_id) == control_id)
    if ack_code is not None:
        query = query.where(col(Pcd01MessageRow.ack_code) == ack_code)
    query = query.order_by(col(Pcd01MessageRow.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


# ---- PCD-04 outbox ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlarmEventItem:
    """An alarm event to turn into a PCD-04 message."""

    event_id: int
    alarm_id: str
    room: str
    event: str
    payload: dict[str, Any]


async def last_queued_event(session: AsyncSession) -> int | None:
    """The highest alarm event id already in the outbox (None: the outbox is new)."""
    return (await session.exec(select(func.max(Pcd04MessageRow.event_id)))).one()


async def first_event_since(session: AsyncSession, since: datetime) -> int:
    """The id before the first alarm event recorded at or after `since` (where a new outbox
    starts)."""
    found = (
        await session.exec(
            select(func.min(AlarmEventRow.id)).where(col(AlarmEventRow.recorded_at) >= utc(since))
        )
    ).one()
    if found is not None:
        return int(found) - 1
    last = (await session.exec(select(func.max(AlarmEventRow.id)))).one()
    return int(last or 0)


async def alarm_events_after(
    session: AsyncSession, event_id: int, *, limit: int = 500
) -> list[AlarmEventItem]:
    rows = (
        await session.exec(
            select(AlarmEventRow)
            .where(col(AlarmEventRow.id) > event_id)
            .order_by(col(AlarmEventRow.id))
            .limit(limit)
        )
    ).all()
    return [AlarmEventItem(int(r.id or 0), r.alarm_id, r.room, r.event, r.payload) for r in rows]


async def phases_sent(session: AsyncSession, alarm_ids: Sequence[str]) -> dict[str, list[str]]:
    """The phases already queued per alarm, in order (to tell a first "end" from a second)."""
    if not alarm_ids:
        return {}
    rows = (
        await session.exec(
            select(Pcd04MessageRow.alarm_id, Pcd04MessageRow.phase)
            .where(col(Pcd04MessageRow.alarm_id).in_(alarm_ids))
            .order_by(col(Pcd04MessageRow.id))
        )
    ).all()
    out: dict[str, list[str]] = {}
    for alarm_id, phase in rows:
        if phase:
            out.setdefault(alarm_id, []).append(phase)
    return out


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What an alarm event becomes: its phase, control id and message."""

    phase: str
    control_id: str
    message: str


async def queue_alarm_events(
    session: AsyncSession,
    *,
    build: Callable[[AlarmEventItem, list[str]], Outgoing | None],
    start_since: datetime,
    now: datetime,
    limit: int = 500,
) -> tuple[int, int]:
    """Queue the alarm events after the outbox's cursor (one batch), each built by `build`
    (given the event and the phases queued before for its alarm; None: not sent).

    A new outbox starts with the events recorded since `start_since`. Returns (events read,
    messages queued).
    """
    last = await last_queued_event(session)
    if last is None:
        last = await first_event_since(session, start_since)
    events = await alarm_events_after(session, last, limit=limit)
    if not events:
        return 0, 0
    sent = await phases_sent(session, sorted({e.alarm_id for e in events}))
    rows = []
    for e in events:
        phases = sent.setdefault(e.alarm_id, [])
        row = Pcd04MessageRow(event_id=e.event_id, alarm_id=e.alarm_id, room=e.room, queued_at=now)
        out = build(e, phases)
        if out is not None:
            phases.append(out.phase)
            row.phase, row.control_id, row.message = out.phase, out.control_id, out.message
        rows.append(row)
    session.add_all(rows)
    return len(events), sum(1 for r in rows if r.message is not None)


async def next_unsent(session: AsyncSession) -> Pcd04MessageRow | None:
    """The oldest message not yet accepted by the alert manager."""
    query = (
        select(Pcd04MessageRow)
        .where(col(Pcd04MessageRow.sent_at).is_(None))
        .where(col(Pcd04MessageRow.message).is_not(None))
        .order_by(col(Pcd04MessageRow.id))
        .limit(1)
    )
    return (await session.exec(query)).first()


async def mark_pcd04(
    session: AsyncSession,
    row_id: int,
    *,
    sent_at: datetime | None,
    ack_code: str,
    error: str = "",
) -> None:
    """Record an attempt: `sent_at` set when the alert manager accepted the message."""
    await session.exec(
        update(Pcd04MessageRow)
        .where(col(Pcd04MessageRow.id) == row_id)
        .values(
            sent_at=None if sent_at is None else utc(sent_at),
            ack_code=ack_code,
            last_error=error[:500],
            attempts=Pcd04MessageRow.attempts + 1,
        )
    )


async def list_pcd04(session: AsyncSession, *, limit: int = 50) -> list[Pcd04MessageRow]:
    query = (
        select(Pcd04MessageRow)
        .where(col(Pcd04MessageRow.message).is_not(None))
        .order_by(col(Pcd04MessageRow.id).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def pcd04_backlog(session: AsyncSession) -> int:
    query = (
        select(func.count())
        .select_from(Pcd04MessageRow)
        .where(col(Pcd04MessageRow.sent_at).is_(None))
        .where(col(Pcd04MessageRow.message).is_not(None))
    )
    return int((await session.exec(query)).one())
