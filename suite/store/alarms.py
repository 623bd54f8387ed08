"""Alarms: one row per alarm (its current view) and the append-only log of its events.

Events reach the log from each instance's local alarm journal (suite/store/alarm_wal.py,
suite/store/alarm_journaled.py), once each: `event_uid` is the journal's id of the event.
The alarm topic is published from that journal, not from here; `unpublished` and
`mark_published` remain for the log's older rows and for tests of the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, func, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.alarms.model import (
    Alarm,
    AlarmEscalated,
    AlarmSource,
    AlarmState,
    Category,
    Priority,
)
from suite.store.tables import BigId


def _when(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value (SQLite hands those back) is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class AlarmRow(SQLModel, table=True):
    """The latest view of one alarm."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_room_state", "room", "state"),)

    alarm_id: str = Field(primary_key=True, max_length=64)
    room: str = Field(max_length=64)
    case_id: str | None = Field(default=None, index=True, max_length=64)
    kind: str = Field(max_length=64)
    category: str = Field(max_length=16)
    priority: str = Field(max_length=8)
    message: str = Field(max_length=500)
    rule: str = Field(max_length=64)
    device: str = Field(default="", max_length=64)
    parameter: str = Field(default="", max_length=32)
    # {"samples": [[iso, value]...], "readings": [[param, iso, value]...], "baseline": [[param, value]...]}
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    latching: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    origin: str = Field(default="engine", max_length=16)
    state: str = Field(max_length=16)
    condition_active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    raised_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    acknowledged_by: str | None = Field(default=None, max_length=128)
    acknowledged_at: datetime | None = _when()
    condition_ended_at: datetime | None = _when()
    cleared_at: datetime | None = _when()
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AlarmEventRow(SQLModel, table=True):
    """One lifecycle event of an alarm (or a limit adjustment), as published on the wire."""

    __tablename__ = "alarm_events"
    __table_args__ = (Index("ix_alarm_events_unpublished", "published_at", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    # the local journal's id of the event (None: stored before the journal existed)
    event_uid: str | None = Field(default=None, max_length=40, unique=True)
    alarm_id: str = Field(index=True, max_length=64)
    room: str = Field(index=True, max_length=64)
    case_id: str | None = Field(default=None, index=True, max_length=64)
    event: str = Field(max_length=32)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    user: str | None = Field(default=None, max_length=128)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    published_at: datetime | None = _when()


@dataclass(frozen=True, slots=True)
class EventRecord:
    """What the alarm service stores for one event: the wire payload and where it belongs."""

    alarm_id: str
    room: str
    case_id: str | None
    event: str
    at: datetime
    user: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An alarm event with its place in the log (`event_id`, for order and de-duplication)."""

    event_id: int
    room: str
    payload: dict[str, Any]


def _alarm_values(alarm: Alarm, *, origin: str, now: datetime) -> dict[str, Any]:
    return {
        "alarm_id": alarm.alarm_id,
        "room": alarm.room,
        "case_id": alarm.case_id,
        "kind": alarm.kind,
        "category": alarm.category.value,
        "priority": alarm.priority.value,
        "message": alarm.message[:500],
        "rule": alarm.source.rule,
        "device": alarm.source.device,
        "parameter": alarm.source.parameter,
        "evidence": {
            "samples": [list(e) for e in alarm.source.evidence],
            "readings": [list(r) for r in alarm.source.readings],
            "baseline": [list(b) for b in alarm.source.baseline],
        },
        "latching": alarm.latching,
        "origin": origin,
        "state": alarm.state.value,
        "condition_active": alarm.condition_active,
        "raised_at": utc(alarm.raised_at),
        "acknowledged_by": alarm.acknowledged_by,
        "acknowledged_at": _utc_or_none(alarm.acknowledged_at),
        "condition_ended_at": None,
        "cleared_at": _utc_or_none(alarm.cleared_at),
        "updated_at": utc(now),
    }


async def save(
    session: AsyncSession,
    *,
    alarms: Iterable[tuple[Alarm, str, datetime | None]],
    events: Sequence[EventRecord],
    now: datetime,
) -> list[int]:
    """Upsert the alarms' views ((alarm, origin, condition ended at)) and append `events`.

    Returns the new event ids, in order.
    """
    for alarm, origin, ended_at in alarms:
        values = _alarm_values(alarm, origin=origin, now=now)
        values["condition_ended_at"] = _utc_or_none(ended_at)
        row = await session.get(AlarmRow, alarm.alarm_id)
        if row is None:
            session.add(AlarmRow(**values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
            session.add(row)
    rows = [
        AlarmEventRow(
            alarm_id=e.alarm_id,
            room=e.room,
            case_id=e.case_id,
            event=e.event,
            at=utc(e.at),
            user=e.user,
            payload=e.payload,
            recorded_at=utc(now),
        )
        for e in events
    ]
    session.add_all(rows)
    await session.flush()
    return [int(r.id or 0) for r in rows]


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _alarm(row: AlarmRow) -> Alarm:
    detail = row.evidence or {}
    source = AlarmSource(
        rule=row.rule,
        device=row.device,
        parameter=row.parameter,
        evidence=tuple((str(t), _num(v)) for t, v in detail.get("samples", [])),
        readings=tuple((str(p), str(t), _num(v)) for p, t, v in detail.get("readings", [])),
        baseline=tuple((str(p), float(v)) for p, v in detail.get("baseline", [])),
    )
    return Alarm(
        alarm_id=row.alarm_id,
        room=row.room,
        kind=row.kind,
        category=Category(row.category),
        priority=Priority(row.priority),
        message=row.message,
        source=source,
        raised_at=utc(row.raised_at),
        latching=row.latching,
        case_id=row.case_id,
        state=AlarmState(row.state),
        condition_active=row.condition_active,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=_utc_or_none(row.acknowledged_at),
        cleared_at=_utc_or_none(row.cleared_at),
    )


async def open_alarms(
    session: AsyncSession, *, rooms: Iterable[str] | None = None
) -> list[tuple[Alarm, str]]:
    """Every alarm not yet cleared, with its origin ("engine" or "bus"), oldest first."""
    query = select(AlarmRow).where(AlarmRow.state != AlarmState.CLEARED.value)
    if rooms is not None:
        query = query.where(col(AlarmRow.room).in_(list(rooms)))
    rows = list(await session.exec(query.order_by(col(AlarmRow.raised_at))))
    opened = [(_alarm(r), r.origin) for r in rows]
    escalated = await _last_escalations(session, [a.alarm_id for a, _ in opened])
    for alarm, _ in opened:
        at = escalated.get(alarm.alarm_id)
        if at is not None:
            # The alarm's history holds its last escalation, so the engine's escalation
            # clock carries on from there instead of restarting at raised_at.
            alarm.history = [
                AlarmEscalated(alarm.alarm_id, alarm.room, at, priority=alarm.priority)
            ]
    return opened


async def _last_escalations(session: AsyncSession, alarm_ids: list[str]) -> dict[str, datetime]:
    """When each of these alarms was last escalated (absent: never)."""
    found: dict[str, datetime] = {}
    for start in range(0, len(alarm_ids), 500):
        chunk = alarm_ids[start : start + 500]
        rows = await session.exec(
            select(AlarmEventRow.alarm_id, func.max(AlarmEventRow.at))
            .where(col(AlarmEventRow.alarm_id).in_(chunk), AlarmEventRow.event == "escalated")
            .group_by(col(AlarmEventRow.alarm_id))
        )
        found.update({alarm_id: utc(at) for alarm_id, at in rows})
    return found


async def list_alarms(
    session: AsyncSession,
    *,
    room: str | None = None,
    case_id: str | None = None,
    include_cleared: bool = False,
    limit: int = 500,
) -> list[Alarm]:
    """Alarms for people: newest first, active ones only unless `include_cleared`."""
    query = select(AlarmRow)
    if room is not None:
        query = query.where(AlarmRow.room == room)
    if case_id is not None:
        query = query.where(AlarmRow.case_id == case_id)
    if not include_cleared:
        query = query.where(AlarmRow.state != AlarmState.CLEARED.value)
    rows = await session.exec(query.order_by(col(AlarmRow.raised_at).desc()).limit(limit))
    return [_alarm(r) for r in rows]


async def events_for(
    session: AsyncSession, *, alarm_id: str | None = None, case_id: str | None = None
) -> list[AlarmEventRow]:
    """The logged events of one alarm or one case, in order."""
    query = select(AlarmEventRow)
    if alarm_id is not None:
        query = query.where(AlarmEventRow.alarm_id == alarm_id)
    if case_id is not None:
        query = query.where(AlarmEventRow.case_id == case_id)
    return list(await session.exec(query.order_by(col(AlarmEventRow.id))))


async def unpublished(
    session: AsyncSession, *, rooms: Iterable[str], after_id: int = 0, limit: int = 500
) -> list[StoredEvent]:
    """Events not yet acknowledged by the broker, in id order (the outbox)."""
    rows = await session.exec(
        select(AlarmEventRow)
        .where(
            col(AlarmEventRow.published_at).is_(None),
            col(AlarmEventRow.id) > after_id,
            col(AlarmEventRow.room).in_(list(rooms)),
        )
        .order_by(col(AlarmEventRow.id))
        .limit(limit)
    )
    return [StoredEvent(int(r.id or 0), r.room, r.payload) for r in rows]


async def mark_published(session: AsyncSession, ids: Sequence[int], *, at: datetime) -> None:
    if ids:
        await session.exec(
            update(AlarmEventRow)
            .where(col(AlarmEventRow.id).in_(list(ids)))
            .values(published_at=utc(at))
        )


async def last_calm(session: AsyncSession, room: str) -> datetime | None:
    """When the room's last physiological alarm condition ended (None: never had one)."""
    ended = func.coalesce(AlarmRow.condition_ended_at, AlarmRow.cleared_at)
    value = (
        await session.exec(
            select(func.max(ended)).where(
                AlarmRow.room == room, AlarmRow.category == Category.PHYSIOLOGICAL.value
            )
        )
    ).one()
    return _utc_or_none(value)


async def limits_for(session: AsyncSession, case_id: str) -> list[dict[str, Any]]:
    """The limit adjustments recorded for a case (wire payloads), oldest first."""
    rows = await session.exec(
        select(AlarmEventRow)
        .where(AlarmEventRow.case_id == case_id, AlarmEventRow.event == "limit_adjusted")
        .order_by(col(AlarmEventRow.id))
    )
    return [r.payload for r in rows]


async def room_of(session: AsyncSession, alarm_id: str) -> str | None:
    """The room of an alarm (None: no such alarm)."""
    query = select(AlarmRow.room).where(col(AlarmRow.alarm_id) == alarm_id)
    return (await session.exec(query)).first()
