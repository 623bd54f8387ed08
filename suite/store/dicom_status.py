"""The stored part of what IT sees of the DICOM interface (the `dicom` section of the service
status on MQTT, docs/mqtt.md "Service status"): read-only counts of the DICOM store. Bounded:
at most `unmatched_max` unmatched instances (the newest), with the total beside them. The
running adapter's part is adapters/dicom/status.py `live_status`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.clock import iso
from suite.store.database import Database
from suite.store.dicom import DicomInstanceRow, ForwardRow


def _iso(value: datetime | None) -> str | None:
    # SQLite hands back naive UTC; PostgreSQL an aware time.
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return iso(value)


async def _count(session: AsyncSession, query: Any) -> int:
    return int((await session.exec(query)).one())


async def stored_status(db: Database, *, unmatched_max: int = 20) -> dict[str, Any]:
    """Stored instance counts, the instances matched to no case (newest first) and the
    PACS forward queue (instances not yet accepted by the PACS)."""
    async with db.session() as session:
        return await _read(session, unmatched_max=unmatched_max)


async def _read(session: AsyncSession, *, unmatched_max: int) -> dict[str, Any]:
    count = select(func.count()).select_from(DicomInstanceRow)
    unmatched_where = col(DicomInstanceRow.case_id).is_(None)
    rows = await session.exec(
        select(DicomInstanceRow)
        .where(unmatched_where)
        .order_by(col(DicomInstanceRow.id).desc())
        .limit(unmatched_max)
    )
    unmatched = [
        {
            "sop_instance_uid": r.sop_instance_uid,
            "patient_id": r.patient_id,
            "accession": r.accession,
            "modality": r.modality,
            "received_at": _iso(r.received_at),
        }
        for r in rows
    ]
    return {
        "instances": {
            "stored": await _count(session, count),
            "linked": await _count(session, count.where(col(DicomInstanceRow.linked).is_(True))),
            "unmatched": await _count(session, count.where(unmatched_where)),
        },
        "unmatched": unmatched,
        "forward_queue": await _count(
            session,
            select(func.count()).select_from(ForwardRow).where(col(ForwardRow.sent_at).is_(None)),
        ),
    }
