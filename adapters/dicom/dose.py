"""Keeps a case's dose totals and dose alarms in step with the dose reports received for it.

Runs on the event loop. After any dose report (RDSR, MPPS, image attributes) is stored with a
case, `update(case_id)` recomputes the totals with the pure rules of suite/domain/dose.py,
records them on the case (RecordDose) when they changed, and announces the reference air
kerma levels passed: one alarm on the bus per announced level (its id is stable per case and
level), a row per passed level so none is announced twice (also across restarts), and the skin
follow-up task on the case when the substantial radiation dose level is passed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.app.case_service import CaseService
from suite.bus import Bus
from suite.domain import commands as c
from suite.domain.alarms.model import AlarmRaised
from suite.domain.dose import (
    DoseReport,
    DoseSource,
    DoseThresholds,
    DoseTotals,
    case_totals,
    dose_alarm,
    follow_up_task_text,
    levels_reached,
)
from suite.domain.envelope import Source
from suite.store.database import Database
from suite.store.dicom import DicomDoseReportRow, DoseLevelAnnouncedRow

log = logging.getLogger(__name__)

FOLLOW_UP_KIND = "follow_up_task"
_FOLLOW_UP_PREFIX = "Skin follow-up:"


async def save_report(
    session: AsyncSession,
    report: DoseReport,
    *,
    case_id: str | None,
    device: str,
    object_uid: str,
    at: datetime,
) -> None:
    """Insert or raise a dose report row (within a write job); values only ever grow."""
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


class DoseKeeper:
    def __init__(
        self,
        *,
        db: Database,
        cases: CaseService,
        bus: Bus,
        clock: Callable[[], datetime],
        thresholds: DoseThresholds,
    ) -> None:
        self.db = db
        self.cases = cases
        self.bus = bus
        self.clock = clock
        self.thresholds = thresholds
        self._locks: dict[str, asyncio.Lock] = {}
        self.alarms_raised = 0

    async def totals(self, case_id: str) -> tuple[DoseTotals, set[float], int]:
        """The case's totals from its stored reports, the levels announced, and the report count."""
        async with self.db.session() as session:
            rows = list(
                await session.exec(
                    select(DicomDoseReportRow).where(DicomDoseReportRow.case_id == case_id)
                )
            )
            announced = set(
                await session.exec(
                    select(DoseLevelAnnouncedRow.threshold_mgy).where(
                        col(DoseLevelAnnouncedRow.case_id) == case_id
                    )
                )
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
        return case_totals(reports), announced, len(rows)

    async def update(self, case_id: str, *, actor: str) -> DoseTotals | None:
        """Bring the case's dose record and dose alarms up to date; returns the totals."""
        lock = self._locks.setdefault(case_id, asyncio.Lock())
        async with lock:
            case = self.cases.get(case_id)
            if case is None:
                return None
            totals, announced, count = await self.totals(case_id)
            if count == 0:
                return None
            now = self.clock()
            recorded = case.dose
            if recorded is None or not totals.same_values(
                DoseTotals(recorded.fluoro_time_s, recorded.dap_gy_cm2, recorded.air_kerma_mgy)
            ):
                await self.cases.execute(
                    case_id,
                    c.RecordDose(
                        at=now,
                        fluoro_time_s=totals.fluoro_time_s,
                        dap_gy_cm2=totals.dap_gy_cm2,
                        air_kerma_mgy=totals.air_kerma_mgy,
                        source=totals.source,
                    ),
                    actor=actor,
                    source=Source.DICOM,
                )
            reached = levels_reached(
                totals.air_kerma_mgy, announced_mgy=announced, thresholds=self.thresholds
            )
            if not reached.passed:
                return totals
            if reached.substantial_reached:
                await self._follow_up_task(case_id, totals, actor=actor, at=now)
            alarms = [
                dose_alarm(level, totals=totals, case_id=case_id, room=case.room, at=now)
                for level in reached.announce
            ]

            async def job(session: AsyncSession) -> None:
                for level in reached.passed:
                    session.add(
                        DoseLevelAnnouncedRow(
                            case_id=case_id,
                            threshold_mgy=level.threshold_mgy,
                            air_kerma_mgy=totals.air_kerma_mgy,
                            announced_at=now,
                        )
                    )

            await self.db.write(job, after_commit=lambda: self._publish(alarms))
            log.warning(
                "dicom: case %s reference air kerma %.0f mGy passed %s",
                case_id,
                totals.air_kerma_mgy,
                ", ".join(f"{lv.threshold_mgy:.0f} mGy" for lv in reached.passed),
            )
            return totals

    def _publish(self, alarms: list[AlarmRaised]) -> None:
        # A dose level is reached once: the alarm is a latching notification that no condition
        # ends; the alarm service clears it when a person acknowledges it.
        for alarm in alarms:
            self.bus.publish(alarm)
            self.alarms_raised += 1

    async def _follow_up_task(
        self, case_id: str, totals: DoseTotals, *, actor: str, at: datetime
    ) -> None:
        case = self.cases.get(case_id)
        if case is None or any(
            n.kind == FOLLOW_UP_KIND and n.text.startswith(_FOLLOW_UP_PREFIX) for n in case.notes
        ):
            return
        await self.cases.execute(
            case_id,
            c.AddNote(
                at=at, kind=FOLLOW_UP_KIND, text=follow_up_task_text(totals, self.thresholds)
            ),
            actor=actor,
            source=Source.DICOM,
        )
