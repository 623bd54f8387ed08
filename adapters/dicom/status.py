"""What IT sees of the DICOM interface (the `dicom` section of the service status on MQTT,
docs/mqtt.md "Service status"): read-only queries of the DICOM store plus the running
adapter's association counters. Bounded: at most `unmatched_max` unmatched instances (the
newest), with the total beside them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.dicom.component import DicomAdapter
from suite.app.context import StatusSection
from suite.store.database import Database
from suite.store.dicom import DicomInstanceRow, ForwardRow


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _count(session: AsyncSession, query: Any) -> int:
    return int((await session.exec(query)).one())


async def stored_status(session: AsyncSession, *, unmatched_max: int = 20) -> dict[str, Any]:
    """Stored instance counts, the instances matched to no case (newest first) and the
    PACS forward queue (instances not yet accepted by the PACS)."""
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


def live_status(components: Iterable[object]) -> dict[str, Any]:
    """The running adapter's associations and counters (empty when DICOM is off)."""
    for component in components:
        if isinstance(component, DicomAdapter):
            counts = component.counters()
            return {
                "associations": {
                    "active": component.active_associations(),
                    "rejected": counts.get("associations_rejected", 0),
                },
                "counters": counts,
            }
    return {}


def status_section(db: Database, *, recent: int = 20) -> StatusSection:
    """The "dicom" section of the service status: stored objects and the running parts."""

    async def section(components: list[Any]) -> dict[str, Any]:
        async with db.session() as session:
            found = await stored_status(session, unmatched_max=recent)
        found.update(live_status(components))
        return found

    return section
