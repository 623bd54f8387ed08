"""The audit log of actions that leave no case or alarm event: an HL7 message replayed, a
DICOM instance assigned to a case by hand, a configuration change. Append-only; written in
the same transaction as the action (`record` inside the action's `Database.write` job)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.tables import BigId, utc_column


class AuditLogRow(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    at: datetime = utc_column(index=True)
    user: str = Field(max_length=128, index=True)
    source: str = Field(max_length=16)
    """cli, mqtt (the dashboard's command channel), system."""
    action: str = Field(max_length=64)
    """e.g. hl7_replay, dicom_assign, config_change."""
    subject: str = Field(max_length=200)
    """What was acted on: `hl7 outbound #17`, `instance 1.2.3...`, `setting mqtt.devices`."""
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


async def record(
    session: AsyncSession,
    *,
    at: datetime,
    user: str,
    source: str,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry (in the caller's transaction; no patient names in `detail`)."""
    if at.tzinfo is None:
        raise ValueError("audit time must be timezone-aware")
    session.add(
        AuditLogRow(
            at=at.astimezone(UTC), user=user, source=source, action=action,
            subject=subject[:200], detail=detail or {},
        )
    )  # fmt: skip
    await session.flush()
