"""Which case a received object belongs to: accession number, then Study Instance UID (the one
procsuite put on the worklist), then the procedure step id (procsuite's case id), then patient
ID when exactly one open case has it. Anything else is unmatched and waits for IT."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from adapters.dicom.uids import study_uid_for_case
from suite.app.image_assignment import MANUAL_MATCH
from suite.domain.case import Case


class MatchRule(StrEnum):
    ACCESSION = "accession"
    STUDY_UID = "study_uid"
    PROCEDURE_ID = "procedure_id"
    PATIENT_ID = "patient_id"
    MANUAL = MANUAL_MATCH  # assigned by hand (suite/app/image_assignment.py)


@dataclass(frozen=True, slots=True)
class Match:
    case_id: str
    rule: MatchRule


@dataclass(frozen=True, slots=True)
class Identifiers:
    """What an object says about where it belongs."""

    accession: str = ""
    study_uid: str = ""
    procedure_ids: tuple[str, ...] = ()
    patient_id: str = ""


def match_case(ids: Identifiers, cases: Iterable[Case]) -> Match | None:
    """The case `ids` belong to, and by which rule; None when no rule decides."""
    all_cases = list(cases)
    if ids.accession:
        found = [k for k in all_cases if k.order.accession == ids.accession]
        if found:
            # An accession names one order; should two cases share it, the open one wins.
            best = min(found, key=lambda k: (k.phase.is_final, -k.last_at.timestamp()))
            return Match(best.case_id, MatchRule.ACCESSION)
    if ids.study_uid:
        for k in all_cases:
            if study_uid_for_case(k.case_id) == ids.study_uid:
                return Match(k.case_id, MatchRule.STUDY_UID)
    for step_id in ids.procedure_ids:
        for k in all_cases:
            if k.case_id == step_id:
                return Match(k.case_id, MatchRule.PROCEDURE_ID)
    if ids.patient_id:
        open_cases = [
            k for k in all_cases if not k.phase.is_final and k.patient.mrn == ids.patient_id
        ]
        if len(open_cases) == 1:
            return Match(open_cases[0].case_id, MatchRule.PATIENT_ID)
    return None
