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

from pydicom.dataset import Dataset

from adapters.dicom.instance import InstanceFacts
from adapters.dicom.matching import Identifiers, Match, match_case
from adapters.dicom.mpps import COMPLETED, DISCONTINUED
from adapters.dicom.worklist import WorklistConfig, on_worklist, worklist_item
from suite.app.case_service import CaseService
from suite.domain.dose import DoseReport, DoseSource
from suite.store import dicom_instances, dicom_mpps
from suite.store.database import Database

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
        indexed = await dicom_instances.record_instance(
            self.db,
            dicom_instances.NewInstance(
                sop_instance_uid=facts.sop_instance_uid,
                sop_class_uid=facts.sop_class_uid,
                study_uid=facts.study_uid,
                series_uid=facts.series_uid,
                modality=facts.modality,
                accession=facts.accession,
                patient_id=facts.patient_id,
                path=facts.relative_path,
                size_bytes=size,
                transfer_syntax=facts.transfer_syntax,
                calling_ae=calling_ae,
                received_at=self.clock(),
                case_id=match.case_id if match else None,
                match_rule=match.rule.value if match else None,
                link_note=facts.dose_problem,
            ),
            report=dose_report_of(facts),
            forward_to=self.forward_to,
            after_commit=self.on_indexed,
        )
        return Indexed(new=indexed.new, path=indexed.path, match=match if indexed.new else None)

    async def worklist_items(self) -> list[Dataset]:
        """Every case now on the worklist, as a full worklist item."""
        final = await dicom_mpps.cases_with_status(self.db, (COMPLETED, DISCONTINUED))
        return [
            worklist_item(k, self.worklist)
            for k in self.cases.all()
            if on_worklist(k, final_mpps=final)
        ]
