"""Leases in the shared database: which procsuite instance serves a room, or the site-wide
duties (the HL7 sender, the PACS forwarder, commands that name no room), and until when.

A lease is a row with an owner, an expiry and an epoch. Its owner renews it; anyone may take
it once it has expired, which raises the epoch. Every change is one conditional UPDATE that
names the row's current owner and epoch, so two instances racing for the same lease cannot
both win. `check` fences a write: inside the writer's transaction it locks the row (FOR SHARE
on PostgreSQL; SQLite serialises writers anyway) and refuses when the lease has moved on.

Times come from the caller (each instance's wall clock): instances must keep their clocks in
step (NTP) to well within the lease time (docs/operations.md "Scale out").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.database import StoreError
from suite.store.tables import utc_column

SITE = "site"
"""The lease of the site-wide duties."""


def room_lease(room: str) -> str:
    return f"room:{room}"


class LeaseRow(SQLModel, table=True):
    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=64)
    """`room:<room>` or `site`."""
    owner: str = Field(max_length=64)
    """The instance id (`lease.instance_id`) holding it."""
    epoch: int
    """Raised each time the lease changes hands: a write fenced with an old epoch fails."""
    expires_at: datetime = utc_column()
    acquired_at: datetime = utc_column()
    home: str | None = Field(default=None, max_length=64)
    """The instance whose own rooms include this room (None: nobody's or the site lease)."""
    wanted_by: str | None = Field(default=None, max_length=64)
    """The home instance asking for its room back from the instance that took it over."""


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    owner: str
    epoch: int
    expires_at: datetime
    home: str | None = None
    wanted_by: str | None = None

    def live(self, now: datetime) -> bool:
        return self.expires_at > now


class LeaseLost(StoreError):
    """This instance no longer holds the lease a write needed."""

    def __init__(self, name: str, holder: str | None) -> None:
        where = f"it is held by {holder}" if holder else "nobody holds it"
        super().__init__(f"lease {name} has moved on ({where})")
        self.name = name
        self.holder = holder


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _lease(row: LeaseRow) -> Lease:
    return Lease(row.name, row.owner, row.epoch, _utc(row.expires_at), row.home, row.wanted_by)


async def all_leases(session: AsyncSession) -> list[Lease]:
    rows = await session.exec(select(LeaseRow).order_by(col(LeaseRow.name)))
    return [_lease(r) for r in rows]


async def get(session: AsyncSession, name: str) -> Lease | None:
    row = await session.get(LeaseRow, name)
    return _lease(row) if row is not None else None


async def acquire(
    session: AsyncSession,
    name: str,
    *,
    owner: str,
    now: datetime,
    ttl_s: float,
    home: str | None = None,
) -> Lease | None:
    """Take or renew `name` for `owner`; the lease now held, or None when another instance
    holds it and it has not expired."""
    expires = now + timedelta(seconds=ttl_s)
    row = await session.get(LeaseRow, name)
    if row is None:
        try:
            async with session.begin_nested():
                await session.exec(
                    insert(LeaseRow).values(
                        name=name, owner=owner, epoch=1, expires_at=expires,
                        acquired_at=now, home=home,
                    )
                )  # fmt: skip
        except IntegrityError:
            return None  # another instance created it first
        return Lease(name, owner, 1, expires, home)
    current = _lease(row)
    if current.owner != owner and current.live(now):
        return None
    epoch = current.epoch if current.owner == owner else current.epoch + 1
    values: dict[str, object] = {"owner": owner, "epoch": epoch, "expires_at": expires}
    if current.owner != owner:
        values["acquired_at"] = now
    if current.wanted_by == owner:
        values["wanted_by"] = None
    if home is not None:
        values["home"] = home
    changed = await session.exec(
        update(LeaseRow)
        .where(
            col(LeaseRow.name) == name,
            col(LeaseRow.owner) == current.owner,
            col(LeaseRow.epoch) == current.epoch,
        )
        .values(**values)
    )
    if changed.rowcount != 1:
        return None  # it changed hands between our read and our update
    session.expire_all()
    return Lease(
        name, owner, epoch, expires, home or current.home,
        None if current.wanted_by == owner else current.wanted_by,
    )  # fmt: skip


async def release(session: AsyncSession, lease: Lease, *, now: datetime) -> bool:
    """Give `lease` up at once (a clean stop, or a room handed back to its home instance)."""
    changed = await session.exec(
        update(LeaseRow)
        .where(
            col(LeaseRow.name) == lease.name,
            col(LeaseRow.owner) == lease.owner,
            col(LeaseRow.epoch) == lease.epoch,
        )
        .values(expires_at=now)
    )
    return bool(changed.rowcount == 1)


async def want_back(session: AsyncSession, name: str, *, by: str) -> None:
    """The home instance of a room asks the instance holding it to hand it back."""
    await session.exec(
        update(LeaseRow)
        .where(col(LeaseRow.name) == name, col(LeaseRow.owner) != by)
        .values(wanted_by=by)
    )


async def check(session: AsyncSession, lease: Lease) -> None:
    """Fence a write: raises `LeaseLost` unless `lease` is still held with its epoch.

    Locks the row until the transaction ends, so a takeover waits for this write to commit
    and the next write under the old epoch fails.
    """
    row = (
        await session.exec(
            select(LeaseRow).where(col(LeaseRow.name) == lease.name).with_for_update(read=True)
        )
    ).first()
    if row is None or row.owner != lease.owner or row.epoch != lease.epoch:
        raise LeaseLost(lease.name, row.owner if row is not None else None)
