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

from adapters.dicom.dose import DoseKeeper
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
from suite.store import dicom_mpps
from suite.store.database import Database

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
        created = await dicom_mpps.add_mpps(
            self.db,
            dicom_mpps.NewMpps(
                mpps_uid=mpps_uid,
                case_id=match.case_id if match else None,
                match_rule=match.rule.value if match else None,
                status=facts.status,
                calling_ae=calling_ae,
                station_ae=facts.station_ae,
                accession=facts.accession,
                study_uid=facts.study_uid,
                patient_id=facts.patient_id,
                fluoro_time_s=facts.fluoro_time_s,
                dap_gy_cm2=facts.dap_gy_cm2,
                air_kerma_mgy=facts.air_kerma_mgy,
                exposures=facts.exposures,
                attributes=_to_json(attributes),
                at=now,
            ),
            report=_report(mpps_uid, facts) if facts.has_dose else None,
        )
        if not created:
            raise MppsError(DUPLICATE_INSTANCE, f"MPPS {mpps_uid} exists already")
        if match is None:
            log.warning("dicom: MPPS %s from %s matches no case", mpps_uid, calling_ae)
        await self._tell_case(match, facts, mpps_uid=mpps_uid, calling_ae=calling_ae)
        return facts

    async def set(self, mpps_uid: str, modification: Dataset, *, calling_ae: str) -> MppsFacts:
        """Apply an N-SET; raises `MppsError` with the status to answer."""

        def change(stored: dicom_mpps.StoredMpps) -> tuple[dicom_mpps.MppsChange, MppsFacts]:
            check_set(stored.status, modification)
            merged = apply_set(Dataset.from_json(stored.attributes), modification)
            facts = read_mpps(merged)
            update = dicom_mpps.MppsChange(
                status=facts.status or stored.status,
                fluoro_time_s=facts.fluoro_time_s,
                dap_gy_cm2=facts.dap_gy_cm2,
                air_kerma_mgy=facts.air_kerma_mgy,
                exposures=facts.exposures,
                attributes=_to_json(merged),
                report=_report(mpps_uid, facts) if facts.has_dose else None,
            )
            return update, facts

        changed = await dicom_mpps.change_mpps(
            self.db, mpps_uid, change, device=calling_ae, at=self.clock()
        )
        if changed is None:
            raise MppsError(NO_SUCH_INSTANCE, f"no MPPS {mpps_uid}")
        before, facts = changed
        ended = before.status == IN_PROGRESS and facts.status != IN_PROGRESS
        match = Match(before.case_id, _rule(before.match_rule)) if before.case_id else None
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
