"""What the procedure report reads that no other store module offers: a case's dose reports
in the order they came, and the dose levels announced for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.dicom import DicomDoseReportRow, DoseLevelAnnouncedRow
from suite.store.tables import CaseRow
from suite.store.vitals import utc


@dataclass(frozen=True, slots=True)
class StoredDoseReport:
    source: str
    report_key: str
    reported_at: datetime
    fluoro_time_s: float | None
    dap_gy_cm2: float | None
    air_kerma_mgy: float | None


@dataclass(frozen=True, slots=True)
class AnnouncedLevel:
    threshold_mgy: float
    air_kerma_mgy: float
    announced_at: datetime


async def case_id_for(session: AsyncSession, ref: str) -> str | None:
    """The case id of `ref` (a case id or an accession number), None when unknown."""
    row = await session.get(CaseRow, ref)
    if row is not None:
        return row.case_id
    found = (await session.exec(select(CaseRow).where(CaseRow.accession == ref))).first()
    return found.case_id if found is not None else None


async def dose_reports(session: AsyncSession, case_id: str) -> list[StoredDoseReport]:
    """Every dose report of the case (RDSR, MPPS, images), oldest first."""
    query = (
        select(DicomDoseReportRow)
        .where(DicomDoseReportRow.case_id == case_id)
        .order_by(col(DicomDoseReportRow.reported_at), col(DicomDoseReportRow.id))
    )
    return [
        StoredDoseReport(
            r.source, r.report_key, utc(r.reported_at), r.fluoro_time_s, r.dap_gy_cm2,
            r.air_kerma_mgy,
        )
        for r in await session.exec(query)
    ]  # fmt: skip


async def dose_levels(session: AsyncSession, case_id: str) -> list[AnnouncedLevel]:
    """The reference air kerma levels announced for the case, in order."""
    query = (
        select(DoseLevelAnnouncedRow)
        .where(DoseLevelAnnouncedRow.case_id == case_id)
        .where(DoseLevelAnnouncedRow.quantity == "air_kerma_mgy")
        .order_by(col(DoseLevelAnnouncedRow.threshold_mgy))
    )
    return [
        AnnouncedLevel(r.threshold_mgy, r.air_kerma_mgy, utc(r.announced_at))
        for r in await session.exec(query)
    ]
