"""The durable queue of instances to forward to the PACS (table in suite/store/dicom.py; rows
are added with their index row, suite/store/dicom_instances.py `record_instance`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.database import Database
from suite.store.dicom import ForwardRow


@dataclass(frozen=True, slots=True)
class ForwardItem:
    """A queued instance due to be sent."""

    id: int
    sop_class_uid: str
    transfer_syntax: str
    path: str
    """Relative to `<data_dir>/dicom`."""


@dataclass(frozen=True, slots=True)
class Sent:
    """How sending one queued instance went."""

    row_id: int
    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class QueueState:
    waiting: int
    failing: int
    sent: int
    oldest_waiting: datetime | None
    last_error: str


async def due(db: Database, *, destination: str, now: datetime, limit: int) -> list[ForwardItem]:
    """Up to `limit` unsent instances for `destination` whose next attempt is due, the longest
    due first."""

    async def read(session: AsyncSession) -> list[ForwardItem]:
        rows = await session.exec(
            select(ForwardRow)
            .where(
                col(ForwardRow.sent_at).is_(None),
                ForwardRow.destination == destination,
                col(ForwardRow.next_attempt_at) <= now,
            )
            .order_by(col(ForwardRow.next_attempt_at), col(ForwardRow.id))
            .limit(limit)
        )
        return [ForwardItem(r.id or 0, r.sop_class_uid, r.transfer_syntax, r.path) for r in rows]

    async with db.session() as session:
        return await read(session)


async def record_attempts(
    db: Database,
    results: Sequence[Sent],
    *,
    now: datetime,
    retry_delay_s: Callable[[int], float],
) -> None:
    """Mark accepted instances sent; count a failed attempt on the others and put their next
    attempt `retry_delay_s(attempts)` seconds from `now`."""
    chosen = tuple(results)

    async def job(session: AsyncSession) -> None:
        for result in chosen:
            row = await session.get(ForwardRow, result.row_id)
            if row is None:
                continue
            if result.ok:
                row.sent_at = now
                row.last_error = ""
            else:
                row.attempts += 1
                row.next_attempt_at = now + timedelta(seconds=retry_delay_s(row.attempts))
                row.last_error = result.error[:400]
            session.add(row)

    await db.write(job)


async def next_due(db: Database, *, destination: str) -> datetime | None:
    """When the next unsent instance for `destination` is due (aware, UTC); None when none."""

    async def read(session: AsyncSession) -> datetime | None:
        found: datetime | None = (
            await session.exec(
                select(func.min(ForwardRow.next_attempt_at)).where(
                    col(ForwardRow.sent_at).is_(None),
                    ForwardRow.destination == destination,
                )
            )
        ).first()
        return found

    async with db.session() as session:
        nxt = await read(session)
    if nxt is not None and nxt.tzinfo is None:  # SQLite hands back naive UTC
        nxt = nxt.replace(tzinfo=UTC)
    return nxt


async def queue_state(db: Database, *, destination: str | None = None) -> QueueState:
    """How the forward queue stands (for `procsuite dicom queue` and the status)."""
    waiting_q = col(ForwardRow.sent_at).is_(None)
    scope: list[Any] = [ForwardRow.destination == destination] if destination else []

    async def read(session: AsyncSession) -> QueueState:
        async def count(*where: Any) -> int:
            found = (
                await session.exec(
                    select(func.count()).select_from(ForwardRow).where(*scope, *where)
                )
            ).first()
            return int(found or 0)

        waiting = await count(waiting_q)
        failing = await count(waiting_q, col(ForwardRow.attempts) > 0)
        sent = await count(col(ForwardRow.sent_at).is_not(None))
        oldest = (
            await session.exec(select(func.min(ForwardRow.created_at)).where(*scope, waiting_q))
        ).first()
        worst = (
            await session.exec(
                select(ForwardRow)
                .where(*scope, waiting_q, col(ForwardRow.attempts) > 0)
                .order_by(col(ForwardRow.attempts).desc())
                .limit(1)
            )
        ).first()
        return QueueState(
            waiting=waiting,
            failing=failing,
            sent=sent,
            oldest_waiting=oldest,
            last_error=worst.last_error if worst else "",
        )

    async with db.session() as session:
        return await read(session)
