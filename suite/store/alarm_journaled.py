"""Alarm events from the local alarm journal into the central store, each exactly once.

The journal (suite/store/alarm_wal.py) holds each event as JSON: its record (the wire payload
and where it belongs) and the alarm's view after it. `save_journaled` appends the events the
log does not have yet (by `event_uid`) in journal order and brings the alarms' rows to the
view of their latest new event; an event already stored (a retry after a crash between the
commit and the journal's cursor) is skipped, so a retry never doubles a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.alarms.model import Alarm
from suite.store.alarms import AlarmEventRow, AlarmRow, EventRecord, _alarm_values, utc

_TIMES = ("raised_at", "acknowledged_at", "condition_ended_at", "cleared_at")


@dataclass(frozen=True, slots=True)
class Journaled:
    """One event as the journal holds it."""

    uid: str
    record: dict[str, Any]
    alarm: dict[str, Any] | None


def record_json(record: EventRecord) -> dict[str, Any]:
    return {
        "alarm_id": record.alarm_id,
        "room": record.room,
        "case_id": record.case_id,
        "event": record.event,
        "at": utc(record.at).isoformat(),
        "user": record.user,
        "payload": record.payload,
    }


def alarm_json(alarm: Alarm, *, origin: str, ended_at: datetime | None) -> dict[str, Any]:
    """The alarm's row after an event, in JSON form (without `updated_at`)."""
    values = _alarm_values(alarm, origin=origin, now=alarm.raised_at)
    del values["updated_at"]
    values["condition_ended_at"] = ended_at
    for key in _TIMES:
        value = values[key]
        values[key] = None if value is None else utc(value).isoformat()
    return values


def _row_values(alarm: dict[str, Any], now: datetime) -> dict[str, Any]:
    values = dict(alarm)
    for key in _TIMES:
        value = values.get(key)
        values[key] = None if value is None else datetime.fromisoformat(value)
    values["updated_at"] = utc(now)
    return values


async def save_journaled(
    session: AsyncSession, entries: Sequence[Journaled], *, now: datetime
) -> list[tuple[int, str, dict[str, Any]]]:
    """Store the entries the log does not have yet; returns (event id, room, payload) of the
    new rows, in order."""
    uids = [e.uid for e in entries]
    existing = set(
        await session.exec(
            select(AlarmEventRow.event_uid).where(col(AlarmEventRow.event_uid).in_(uids))
        )
    )
    new = [e for e in entries if e.uid not in existing]
    views: dict[str, dict[str, Any]] = {}
    for entry in new:
        if entry.alarm is not None:
            views[entry.alarm["alarm_id"]] = entry.alarm
    for alarm_id, alarm in views.items():
        values = _row_values(alarm, now)
        row = await session.get(AlarmRow, alarm_id)
        if row is None:
            session.add(AlarmRow(**values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
            session.add(row)
    rows = [
        AlarmEventRow(
            event_uid=e.uid,
            alarm_id=e.record["alarm_id"],
            room=e.record["room"],
            case_id=e.record["case_id"],
            event=e.record["event"],
            at=utc(datetime.fromisoformat(e.record["at"])),
            user=e.record["user"],
            payload=e.record["payload"],
            recorded_at=utc(now),
        )
        for e in new
    ]
    session.add_all(rows)
    await session.flush()
    return [(int(r.id or 0), r.room, r.payload) for r in rows]
