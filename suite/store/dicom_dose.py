"""Dose reports (RDSR, MPPS, image attributes) and the reference air kerma levels announced per
case (tables in suite/store/dicom.py; the rules in suite/domain/dose.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.dose import DoseQuantity, DoseReport, DoseSource
from suite.store.database import AfterCommit, Database
from suite.store.dicom import DicomDoseReportRow, DoseLevelAnnouncedRow


@dataclass(frozen=True, slots=True)
class CaseDose:
    """What the store holds of a case's dose."""

    reports: list[DoseReport]
    announced_mgy: set[float]
    """The reference air kerma thresholds (mGy) already announced for the case."""
    announced: dict[DoseQuantity, set[float]] | None = None
    """Every quantity's thresholds already announced (air kerma included)."""

    def announced_of(self, quantity: DoseQuantity) -> set[float]:
        if quantity is DoseQuantity.AIR_KERMA:
            return self.announced_mgy
        return (self.announced or {}).get(quantity, set())


async def save_report(
    session: AsyncSession,
    report: DoseReport,
    *,
    case_id: str | None,
    device: str,
    object_uid: str,
    at: datetime,
) -> None:
    """Insert or raise a dose report row (in the caller's transaction); values only ever grow."""
    row = (
        await session.exec(
            select(DicomDoseReportRow).where(
                DicomDoseReportRow.source == report.source.value,
                DicomDoseReportRow.report_key == report.key,
            )
        )
    ).first()
    if row is None:
        row = DicomDoseReportRow(
            case_id=case_id,
            source=report.source.value,
            device=device[:128],
            report_key=report.key,
            object_uid=object_uid,
            fluoro_time_s=report.fluoro_time_s,
            dap_gy_cm2=report.dap_gy_cm2,
            air_kerma_mgy=report.air_kerma_mgy,
            reported_at=at,
        )
    else:
        row.case_id = row.case_id or case_id
        row.object_uid = object_uid
        row.fluoro_time_s = _grow(row.fluoro_time_s, report.fluoro_time_s)
        row.dap_gy_cm2 = _grow(row.dap_gy_cm2, report.dap_gy_cm2)
        row.air_kerma_mgy = _grow(row.air_kerma_mgy, report.air_kerma_mgy)
        row.reported_at = at
    session.add(row)


def _grow(old: float | None, new: float | None) -> float | None:
    if old is None:
        return new
    if new is None:
        return old
    return max(old, new)


async def case_dose(db: Database, case_id: str) -> CaseDose:
    """The case's stored dose reports and the levels announced for it."""

    async def read(session: AsyncSession) -> CaseDose:
        rows = await session.exec(
            select(DicomDoseReportRow).where(DicomDoseReportRow.case_id == case_id)
        )
        reports = [
            DoseReport(
                source=DoseSource(r.source),
                key=r.report_key,
                fluoro_time_s=r.fluoro_time_s,
                dap_gy_cm2=r.dap_gy_cm2,
                air_kerma_mgy=r.air_kerma_mgy,
            )
            for r in rows
        ]
        announced: dict[DoseQuantity, set[float]] = {q: set() for q in DoseQuantity}
        for quantity, threshold in await session.exec(
            select(DoseLevelAnnouncedRow.quantity, DoseLevelAnnouncedRow.threshold_mgy).where(
                col(DoseLevelAnnouncedRow.case_id) == case_id
            )
        ):
            announced.setdefault(DoseQuantity(quantity), set()).add(threshold)
        return CaseDose(reports, announced[DoseQuantity.AIR_KERMA], announced)

    async with db.session() as session:
        return await read(session)


async def announce_levels(
    db: Database,
    case_id: str,
    *,
    thresholds_mgy: Iterable[float],
    air_kerma_mgy: float,
    at: datetime,
    after_commit: AfterCommit | None = None,
    quantity: DoseQuantity = DoseQuantity.AIR_KERMA,
) -> None:
    """Record levels of `quantity` as announced for the case (never twice: a unique key per
    case, quantity and threshold); `after_commit` runs once they are durable."""
    levels = tuple(thresholds_mgy)

    async def job(session: AsyncSession) -> None:
        for threshold in levels:
            session.add(
                DoseLevelAnnouncedRow(
                    case_id=case_id,
                    quantity=quantity.value,
                    threshold_mgy=threshold,
                    air_kerma_mgy=air_kerma_mgy,
                    announced_at=at,
                )
            )

    await db.write(job, after_commit=after_commit)
