"""The images received for a case (linked or not), for the dashboard's image step: the
user picks one instead of typing its SOP Instance UID."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.dicom import DicomInstanceRow


async def received_for_case(
    session: AsyncSession, case_id: str, *, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest `limit` instances matched to `case_id`: uid, series, modality, time, linked."""
    rows = await session.exec(
        select(DicomInstanceRow)
        .where(DicomInstanceRow.case_id == case_id)
        .order_by(col(DicomInstanceRow.id).desc())
        .limit(limit)
    )
    return [
        {
            "sop_instance_uid": r.sop_instance_uid,
            "series_uid": r.series_uid,
            "modality": r.modality,
            "received_at": r.received_at,
            "linked": r.linked,
        }
        for r in rows
    ]
