"""The audit trail: who did what, when, from where — read from the records that already
carry it.

Nothing here writes. Every case command is an event in `case_events` (actor, source, at);
every alarm acknowledgement and limit adjustment is an event in `alarm_events` (user, at);
actions that leave neither (HL7 replay, DICOM assignment, configuration change) are written
to `audit_log` by whoever does them (`suite.store.audit_log.record`). `audit_trail` merges
the three into one list in time order, for `procsuite audit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.alarms import AlarmEventRow
from suite.store.audit_log import AuditLogRow
from suite.store.tables import CaseEventRow

# Alarm events done by a person (the others are the engine's own raised / cleared ...).
PERSON_ALARM_EVENTS = ("acknowledged", "audio_paused", "limit_adjusted")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    user: str
    source: str
    action: str
    subject: str
    """The case (`case <id>`) or alarm (`alarm <id> in <room>`) acted on."""
    detail: dict[str, Any]


def _aware(value: datetime) -> datetime:
    # SQLite gives timestamps back without their zone; they were stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def audit_trail(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    user: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Entries in time order: from `since` the first `limit`, otherwise the latest `limit`."""
    newest_first = since is None
    cases = select(CaseEventRow)
    alarms = select(AlarmEventRow).where(
        col(AlarmEventRow.event).in_(PERSON_ALARM_EVENTS) | col(AlarmEventRow.user).is_not(None)
    )
    actions = select(AuditLogRow)
    if since is not None:
        cases = cases.where(col(CaseEventRow.at) >= since)
        alarms = alarms.where(col(AlarmEventRow.at) >= since)
        actions = actions.where(col(AuditLogRow.at) >= since)
    if user is not None:
        cases = cases.where(CaseEventRow.actor == user)
        alarms = alarms.where(AlarmEventRow.user == user)
        actions = actions.where(AuditLogRow.user == user)
    case_order = col(CaseEventRow.at).desc() if newest_first else col(CaseEventRow.at)
    alarm_order = col(AlarmEventRow.at).desc() if newest_first else col(AlarmEventRow.at)
    action_order = col(AuditLogRow.at).desc() if newest_first else col(AuditLogRow.at)
    entries = [
        AuditEntry(
            at=_aware(r.at),
            user=r.actor,
            source=r.source,
            action=r.kind,
            subject=f"case {r.case_id}",
            detail=dict(r.payload),
        )
        for r in await session.exec(cases.order_by(case_order).limit(limit))
    ]
    entries += [
        AuditEntry(
            at=_aware(r.at),
            user=r.user or "system",
            source="mqtt",
            action=f"alarm_{r.event}",
            subject=f"alarm {r.alarm_id} in {r.room}",
            detail=dict(r.payload),
        )
        for r in await session.exec(alarms.order_by(alarm_order).limit(limit))
    ]
    entries += [
        AuditEntry(
            at=_aware(r.at), user=r.user, source=r.source, action=r.action,
            subject=r.subject, detail=dict(r.detail),
        )
        for r in await session.exec(actions.order_by(action_order).limit(limit))
    ]  # fmt: skip
    entries.sort(key=lambda e: e.at, reverse=newest_first)
    entries = entries[:limit]
    if newest_first:
        entries.reverse()
    return entries


def entry_line(entry: AuditEntry) -> str:
    """One line for the terminal (times in this machine's zone)."""
    return (
        f"{entry.at.astimezone():%Y-%m-%d %H:%M:%S}  {entry.user:<16} {entry.source:<7}"
        f" {entry.action:<24} {entry.subject}"
    )
