"""The loop side of the SCP: what the association threads ask of the service.

`index_instance` records a stored instance (index row, its dose report, its PACS forward
row) in one transaction and decides its case; the association answers success only after
that commit. Telling the case (linking the image, updating the dose) is left to the `Linker`,
which works from the index rows, so a busy case never slows a C-STORE down and nothing is
lost if the service stops in between. `worklist_items` answers Modality Worklist queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.dicom.dose import save_report
from adapters.dicom.instance import InstanceFacts
from adapters.dicom.matching import Identifiers, Match, match_case
from adapters.dicom.mpps import COMPLETED, DISCONTINUED
from adapters.dicom.worklist import WorklistConfig, on_worklist, worklist_item
from suite.app.case_service import CaseService
from suite.domain.dose import DoseReport, DoseSource
from suite.store.database import Database
from suite.store.dicom import DicomInstanceRow, ForwardRow, MppsRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Indexed:
    new: bool
    path: str
    """The relative path the index has for the instance (the first copy's, for a repeat)."""
    match: Match | None


def dose_report_of(facts: InstanceFacts) -> DoseReport | None:
    """The dose an instance reports, if any."""
    if facts.rdsr is not None:
        return DoseReport(
            source=DoseSource.RDSR,
            key=f"{facts.rdsr.scope_uid}|{facts.rdsr.device}"[:128],
            fluoro_time_s=facts.rdsr.fluoro_time_s,
            dap_gy_cm2=facts.rdsr.dap_gy_cm2,
            air_kerma_mgy=facts.rdsr.air_kerma_mgy,
        )
    if facts.image_dap_gy_cm2 is not None or facts.image_air_kerma_mgy is not None:
        return DoseReport(
            source=DoseSource.IMAGE,
            key=facts.sop_instance_uid,
            dap_gy_cm2=facts.image_dap_gy_cm2,
            air_kerma_mgy=facts.image_air_kerma_mgy,
        )
    return None


class Intake:
    def __init__(
        self,
        *,
        db: Database,
        cases: CaseService,
        clock: Callable[[], datetime],
        worklist: WorklistConfig,
        forward_to: str | None,
        on_indexed: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.cases = cases
        self.clock = clock
        self.worklist = worklist
        self.forward_to = forward_to
        self.on_indexed = on_indexed

    def identify(self, ids: Identifiers) -> Match | None:
        return match_case(ids, self.cases.all())

    async def index_instance(self, facts: InstanceFacts, *, size: int, calling_ae: str) -> Indexed:
        """Record a stored instance; `new` is False when the index already had it."""
        match = self.identify(
            Identifiers(
                accession=facts.accession,
                study_uid=facts.study_uid,
                procedure_ids=facts.procedure_ids,
                patient_id=facts.patient_id,
            )
        )
        now = self.clock()
        report = dose_report_of(facts)

        async def job(session: AsyncSession) -> Indexed:
            # One statement on the association's critical path: insert unless already there.
            added = (
                await session.exec(
                    self._insert_new()
                    .values(
                        sop_instance_uid=facts.sop_instance_uid,
                        sop_class_uid=facts.sop_class_uid,
                        study_uid=facts.study_uid,
                        series_uid=facts.series_uid,
                        modality=facts.modality[:16],
                        accession=facts.accession[:64],
                        patient_id=facts.patient_id[:64],
                        path=facts.relative_path,
                        size_bytes=size,
                        transfer_syntax=facts.transfer_syntax,
                        calling_ae=calling_ae,
                        received_at=now,
                        case_id=match.case_id if match else None,
                        match_rule=match.rule.value if match else None,
                        linked=match is None,  # nothing to tell a case until it is assigned
                        link_note=facts.dose_problem[:400],
                    )
                    .on_conflict_do_nothing(index_elements=["sop_instance_uid"])
                    .returning(DicomInstanceRow.id)
                )
            ).first()
            if added is None:
                existing = (
                    await session.exec(
                        select(DicomInstanceRow.path).where(
                            DicomInstanceRow.sop_instance_uid == facts.sop_instance_uid
                        )
                    )
                ).one()
                return Indexed(new=False, path=existing, match=None)
            if report is not None:
                await save_report(
                    session,
                    report,
                    case_id=match.case_id if match else None,
                    device=calling_ae,
                    object_uid=facts.sop_instance_uid,
                    at=now,
                )
            if self.forward_to:
                await session.exec(
                    insert(ForwardRow).values(
                        sop_instance_uid=facts.sop_instance_uid,
                        sop_class_uid=facts.sop_class_uid,
                        transfer_syntax=facts.transfer_syntax,
                        path=facts.relative_path,
                        destination=self.forward_to,
                        attempts=0,
                        next_attempt_at=now,
                        last_error="",
                        created_at=now,
                    )
                )
            return Indexed(new=True, path=facts.relative_path, match=match)

        return await self.db.write(job, after_commit=self.on_indexed)

    def _insert_new(self) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING of an instance row, in the database's dialect."""
        if self.db.is_sqlite:
            return sqlite_insert(DicomInstanceRow)
        return postgresql_insert(DicomInstanceRow)

    async def worklist_items(self) -> list[Dataset]:
        """Every case now on the worklist, as a full worklist item."""
        async with self.db.session() as session:
            final = set(
                await session.exec(
                    select(MppsRow.case_id).where(
                        col(MppsRow.status).in_([COMPLETED, DISCONTINUED]),
                        col(MppsRow.case_id).is_not(None),
                    )
                )
            )
        return [
            worklist_item(k, self.worklist)
            for k in self.cases.all()
            if on_worklist(k, final_mpps={f for f in final if f})
        ]
