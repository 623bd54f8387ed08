"""The loop side of the MPPS SCP: keeps each performed procedure step and tells its case.

N-CREATE stores the step (IN PROGRESS) and adds "MPPS IN PROGRESS" to the case timeline;
N-SET applies the modification list while the step is IN PROGRESS and, when it ends
(COMPLETED / DISCONTINUED), adds that to the timeline with the dose it states. The dose
fields (fluoroscopy time, dose area product, entrance dose / reference air kerma) are kept on
the step and count towards the case's dose when no RDSR states it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from pydicom.dataset import Dataset
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.dicom.dose import DoseKeeper, save_report
from adapters.dicom.matching import Identifiers, Match, MatchRule, match_case
from adapters.dicom.mpps import (
    DUPLICATE_INSTANCE,
    IN_PROGRESS,
    NO_SUCH_INSTANCE,
    MppsError,
    MppsFacts,
    apply_set,
    check_create,
    check_set,
    read_mpps,
    timeline_text,
)
from suite.app.case_service import CaseService
from suite.domain import commands as c
from suite.domain.dose import DoseReport, DoseSource
from suite.domain.envelope import Source
from suite.domain.errors import DomainError
from suite.store.database import Database
from suite.store.dicom import MppsRow

log = logging.getLogger(__name__)

MPPS_NOTE_KIND = "mpps"


def _report(mpps_uid: str, facts: MppsFacts) -> DoseReport:
    return DoseReport(
        source=DoseSource.MPPS,
        key=mpps_uid,
        fluoro_time_s=facts.fluoro_time_s,
        dap_gy_cm2=facts.dap_gy_cm2,
        air_kerma_mgy=facts.air_kerma_mgy,
    )


def _to_json(ds: Dataset) -> dict[str, object]:
    return ds.to_json_dict(bulk_data_threshold=1 << 20)


class MppsRecorder:
    def __init__(
        self,
        *,
        db: Database,
        cases: CaseService,
        dose: DoseKeeper,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.cases = cases
        self.dose = dose
        self.clock = clock

    async def create(self, mpps_uid: str, attributes: Dataset, *, calling_ae: str) -> MppsFacts:
        """Store a new step; raises `MppsError` with the status to answer."""
        facts = read_mpps(attributes)
        check_create(facts)
        match = match_case(
            Identifiers(
                accession=facts.accession,
                study_uid=facts.study_uid,
                procedure_ids=facts.procedure_ids,
                patient_id=facts.patient_id,
            ),
            self.cases.all(),
        )
        now = self.clock()

        async def job(session: AsyncSession) -> None:
            if await session.get(MppsRow, mpps_uid) is not None:
                raise MppsError(DUPLICATE_INSTANCE, f"MPPS {mpps_uid} exists already")
            session.add(
                MppsRow(
                    mpps_uid=mpps_uid,
                    case_id=match.case_id if match else None,
                    match_rule=match.rule.value if match else None,
                    status=facts.status,
                    calling_ae=calling_ae,
                    station_ae=facts.station_ae[:16],
                    accession=facts.accession[:64],
                    study_uid=facts.study_uid[:64],
                    patient_id=facts.patient_id[:64],
                    fluoro_time_s=facts.fluoro_time_s,
                    dap_gy_cm2=facts.dap_gy_cm2,
                    air_kerma_mgy=facts.air_kerma_mgy,
                    exposures=facts.exposures,
                    attributes=_to_json(attributes),
                    created_at=now,
                    updated_at=now,
                )
            )
            if facts.has_dose:
                await save_report(
                    session,
                    _report(mpps_uid, facts),
                    case_id=match.case_id if match else None,
                    device=calling_ae,
                    object_uid=mpps_uid,
                    at=now,
                )
            await session.flush()

        try:
            await self.db.write(job)
        except IntegrityError:
            raise MppsError(DUPLICATE_INSTANCE, f"MPPS {mpps_uid} exists already") from None
        if match is None:
            log.warning("dicom: MPPS %s from %s matches no case", mpps_uid, calling_ae)
        await self._tell_case(match, facts, mpps_uid=mpps_uid, calling_ae=calling_ae)
        return facts

    async def set(self, mpps_uid: str, modification: Dataset, *, calling_ae: str) -> MppsFacts:
        """Apply an N-SET; raises `MppsError` with the status to answer."""
        now = self.clock()

        async def job(session: AsyncSession) -> tuple[MppsFacts, Match | None, bool]:
            row = await session.get(MppsRow, mpps_uid)
            if row is None:
                raise MppsError(NO_SUCH_INSTANCE, f"no MPPS {mpps_uid}")
            check_set(row.status, modification)
            merged = apply_set(Dataset.from_json(row.attributes), modification)
            facts = read_mpps(merged)
            ended = row.status == IN_PROGRESS and facts.status != IN_PROGRESS
            row.status = facts.status or row.status
            row.fluoro_time_s = facts.fluoro_time_s
            row.dap_gy_cm2 = facts.dap_gy_cm2
            row.air_kerma_mgy = facts.air_kerma_mgy
            row.exposures = facts.exposures
            row.attributes = _to_json(merged)
            row.updated_at = now
            session.add(row)
            if facts.has_dose:
                await save_report(
                    session,
                    _report(mpps_uid, facts),
                    case_id=row.case_id,
                    device=calling_ae,
                    object_uid=mpps_uid,
                    at=now,
                )
            match = Match(row.case_id, _rule(row.match_rule)) if row.case_id else None
            return facts, match, ended

        facts, match, ended = await self.db.write(job)
        if ended or facts.has_dose:
            await self._tell_case(
                match, facts, mpps_uid=mpps_uid, calling_ae=calling_ae, note=ended
            )
        return facts

    async def _tell_case(
        self,
        match: Match | None,
        facts: MppsFacts,
        *,
        mpps_uid: str,
        calling_ae: str,
        note: bool = True,
    ) -> None:
        if match is None:
            return
        try:
            if note:
                await self.cases.execute(
                    match.case_id,
                    c.AddNote(
                        at=self.clock(),
                        kind=MPPS_NOTE_KIND,
                        text=timeline_text(facts, mpps_uid=mpps_uid, calling_ae=calling_ae),
                    ),
                    actor=calling_ae,
                    source=Source.DICOM,
                )
            if facts.has_dose:
                await self.dose.update(match.case_id, actor=calling_ae)
        except DomainError as exc:
            # The step is stored either way; the case refused the timeline entry.
            log.warning("dicom: MPPS %s not on case %s: %s", mpps_uid, match.case_id, exc.message)


def _rule(value: str | None) -> MatchRule:
    return MatchRule(value) if value else MatchRule.MANUAL
