"""Vital-sign samples: one row per monitor message, one nullable column per parameter.

Rows are written in bulk (`insert_samples`, Core executemany) by the vitals recorder; reads
serve the case timeline, trends (`procsuite vitals show`) and the HL7 report
(`summary_for_case`: per-minute medians).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.alarms.parameters import Param
from suite.store.tables import BigId, utc_column

# The parameter columns, in the order of the Param enum; a test checks they match it.
PARAM_COLUMNS: tuple[str, ...] = (
    "hr",
    "spo2",
    "nibp_sys",
    "nibp_dia",
    "nibp_map",
    "rr",
    "etco2",
    "temp",
)


def utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value (SQLite hands those back) is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _value_column() -> Any:
    return Field(default=None, sa_column=Column(Float, nullable=True))


class VitalSampleRow(SQLModel, table=True):
    """One message of one monitor: device time, sequence number and the values it carried."""

    __tablename__ = "vital_samples"
    __table_args__ = (
        Index("ix_vital_samples_case_at", "case_id", "at"),
        Index("ix_vital_samples_room_at", "room", "at"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    room: str = Field(max_length=64)
    device: str = Field(max_length=64)
    case_id: str | None = Field(default=None, max_length=64)
    at: datetime = utc_column()
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    hr: float | None = _value_column()
    spo2: float | None = _value_column()
    nibp_sys: float | None = _value_column()
    nibp_dia: float | None = _value_column()
    nibp_map: float | None = _value_column()
    rr: float | None = _value_column()
    etco2: float | None = _value_column()
    temp: float | None = _value_column()


_TABLE: Any = VitalSampleRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class StoredSample:
    room: str
    device: str
    case_id: str | None
    at: datetime
    seq: int | None
    values: dict[Param, float | None]


def sample_row(
    *,
    room: str,
    device: str,
    case_id: str | None,
    at: datetime,
    received_at: datetime,
    seq: int | None,
    values: dict[str, float | None],
) -> dict[str, Any]:
    """The parameters of one insert (values keyed by parameter name; missing ones are NULL)."""
    # SQLite keeps the wall time and drops the zone: every time is stored in UTC.
    if at.tzinfo is not UTC:
        at = utc(at)
    if received_at.tzinfo is not UTC:
        received_at = utc(received_at)
    row: dict[str, Any] = dict.fromkeys(PARAM_COLUMNS)
    row.update(values)
    row.update(room=room, device=device, case_id=case_id, at=at, received_at=received_at, seq=seq)
    return row


async def insert_samples(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert many samples in one executemany; returns how many."""
    if rows:
        # Core executemany on the table: the ORM's bulk path costs half as much again per row.
        await session.exec(insert(_TABLE), params=list(rows))
    return len(rows)


# The columns of a row tuple (`sample_tuple`), in order.
ROW_COLUMNS: tuple[str, ...] = (
    "room",
    "device",
    "case_id",
    "at",
    "received_at",
    "seq",
    *PARAM_COLUMNS,
)
SampleTuple = tuple[Any, ...]

_SQLITE_INSERT = (
    f"INSERT INTO vital_samples ({', '.join(ROW_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in ROW_COLUMNS)})"
)


def sample_tuple(
    *,
    room: str,
    device: str,
    case_id: str | None,
    at: datetime,
    received_at: datetime,
    seq: int | None,
    values: Mapping[Any, float | None],
) -> SampleTuple:
    """`sample_row` as a tuple in `ROW_COLUMNS` order, what the vitals recorder queues (a
    third of the cost of the dict). `values` is keyed by parameter name (a `Param` is one)."""
    if at.tzinfo is not UTC:
        at = utc(at)
    if received_at.tzinfo is not UTC:
        received_at = utc(received_at)
    return (room, device, case_id, at, received_at, seq, *map(values.get, PARAM_COLUMNS))


def sqlite_time(value: datetime) -> str:
    """A UTC time as SQLAlchemy's SQLite DATETIME stores it ("2026-11-24 09:00:00.000000"):
    tests/mqtt/test_store.py checks it against SQLAlchemy's own bind processor."""
    return value.isoformat(" ", "microseconds")[:26]


def sqlite_rows(rows: Sequence[SampleTuple]) -> list[SampleTuple]:
    """The rows with their two times as `sqlite_time` texts. The text up to the second is
    made once per second of time seen (a batch's samples share a few seconds), which halves
    the cost of formatting each time whole."""
    seconds: dict[tuple[int, int, int, int, int, int], str] = {}
    out: list[SampleTuple] = []
    append = out.append
    for row in rows:
        texts = []
        for t in (row[3], row[4]):
            key = (t.second, t.minute, t.hour, t.day, t.month, t.year)
            head = seconds.get(key)
            if head is None:
                head = seconds[key] = sqlite_time(t)[:19]
            texts.append("%s.%06d" % (head, t.microsecond))  # noqa: UP031 (the fastest here)
        append((*row[:3], *texts, *row[5:]))
    return out


async def insert_sample_tuples(session: AsyncSession, rows: Sequence[SampleTuple]) -> int:
    """Insert many `sample_tuple` rows in one executemany; returns how many.

    On SQLite the rows go to the driver's executemany as they are, with the two times as the
    texts SQLAlchemy would bind: SQLAlchemy's per-row parameter processing cost the event
    loop about 7 us a row, this about 1 us. Other databases take the Core insert."""
    if not rows:
        return 0
    conn = await session.connection()
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql(_SQLITE_INSERT, sqlite_rows(rows))
    else:
        await session.exec(
            insert(_TABLE), params=[dict(zip(ROW_COLUMNS, r, strict=True)) for r in rows]
        )
    return len(rows)


def _stored(row: VitalSampleRow) -> StoredSample:
    values = {Param(name): getattr(row, name) for name in PARAM_COLUMNS}
    return StoredSample(row.room, row.device, row.case_id, utc(row.at), row.seq, values)


async def samples(
    session: AsyncSession,
    *,
    room: str | None = None,
    case_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[StoredSample]:
    """Stored samples in device-time order, filtered by room, case and [since, until)."""
    query = select(VitalSampleRow)
    if room is not None:
        query = query.where(VitalSampleRow.room == room)
    if case_id is not None:
        query = query.where(VitalSampleRow.case_id == case_id)
    if since is not None:
        query = query.where(col(VitalSampleRow.at) >= utc(since))
    if until is not None:
        query = query.where(col(VitalSampleRow.at) < utc(until))
    query = query.order_by(col(VitalSampleRow.at), col(VitalSampleRow.id))
    if limit is not None:
        query = query.limit(limit)
    return [_stored(r) for r in await session.exec(query)]


async def count(session: AsyncSession, *, room: str | None = None) -> int:
    from sqlalchemy import func

    query = select(func.count()).select_from(VitalSampleRow)
    if room is not None:
        query = query.where(VitalSampleRow.room == room)
    return int((await session.exec(query)).one())


async def summary_for_case(
    session: AsyncSession, case_id: str
) -> list[tuple[Param, datetime, float]]:
    """Per-minute medians of every parameter of a case: (parameter, minute start, median).

    Ordered by minute, then parameter in table order; minutes without a reading of a parameter
    are left out. Times are the devices' times, truncated to the minute (UTC kept as stored).
    """
    cols = [col(getattr(VitalSampleRow, name)) for name in PARAM_COLUMNS]
    query = (
        select(col(VitalSampleRow.at), *cols)
        .where(VitalSampleRow.case_id == case_id)
        .order_by(col(VitalSampleRow.at))
    )
    buckets: dict[datetime, list[list[float]]] = {}
    rows: Any = await session.exec(query)
    for row in rows:
        minute = utc(row[0]).replace(second=0, microsecond=0)
        bucket = buckets.setdefault(minute, [[] for _ in PARAM_COLUMNS])
        for i, value in enumerate(row[1:]):
            if value is not None:
                bucket[i].append(value)
    result: list[tuple[Param, datetime, float]] = []
    for minute in sorted(buckets):
        for name, values in zip(PARAM_COLUMNS, buckets[minute], strict=True):
            if values:
                result.append((Param(name), minute, float(statistics.median(values))))
    return result
