"""Modality Worklist: scheduled cases as worklist items, and C-FIND matching on them.

Pure: cases in, datasets out. An item is on the worklist from scheduling until the case is
completed (closure onwards), cancelled or aborted, or its MPPS is COMPLETED or DISCONTINUED.
Matching follows PS3.4 C.2.2.2: single value, wildcards (`*`, `?`), UID lists, date and time
ranges (combined when both are given), sequence matching; an empty key matches everything.
Person names match case-insensitively. The answer carries only the keys that were asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from adapters.dicom.elements import encodings, text
from adapters.dicom.uids import study_uid_for_case
from adapters.dicom.wildcard import wildcard_match
from suite.domain.case import Case
from suite.domain.values import Phase, Sex

_SPS = 0x00400100
_SPS_DATE = 0x00400002
_SPS_TIME = 0x00400003
_NOT_KEYS = {0x00080005, 0x00080052}  # Specific Character Set, Query/Retrieve Level

_ON_WORKLIST = {
    Phase.SCHEDULED: "SCHEDULED",
    Phase.CHECKED_IN: "ARRIVED",
    Phase.PRE_PROCEDURE: "ARRIVED",
    Phase.TIME_OUT: "READY",
    Phase.SEDATION: "STARTED",
    Phase.POSITIONING: "STARTED",
    Phase.LOCAL_ANESTHESIA: "STARTED",
    Phase.TROCAR_PLACEMENT: "STARTED",
    Phase.BALLOON_TAMP: "STARTED",
    Phase.CEMENT_INJECTION: "STARTED",
    Phase.IMAGING_CHECK: "STARTED",
}


@dataclass(frozen=True, slots=True)
class WorklistConfig:
    stations: Mapping[str, str] = field(default_factory=dict)
    """Room -> station AE title."""
    modality: str = "XA"
    room_modalities: Mapping[str, str] = field(default_factory=dict)
    procedure_codes: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    """Procedure -> (code value, coding scheme, meaning)."""
    tz: tzinfo | None = None
    """Zone of DICOM dates and times; None: the machine's."""


def on_worklist(case: Case, *, final_mpps: frozenset[str] | set[str]) -> bool:
    """Whether the case is a worklist item now."""
    return case.phase in _ON_WORKLIST and case.case_id not in final_mpps


def worklist_item(case: Case, config: WorklistConfig) -> Dataset:
    """Every attribute procsuite offers for the case's worklist item."""
    p, o = case.patient, case.order
    local = case.scheduled_at.astimezone(config.tz) if config.tz else case.scheduled_at.astimezone()
    levels = ", ".join(str(lv) for lv in o.levels)
    description = f"{o.procedure.value.capitalize()} {levels}"
    code = config.procedure_codes.get(o.procedure.value)
    ds = Dataset()
    ds.PatientName = p.name
    ds.PatientID = p.mrn
    ds.PatientBirthDate = p.birth_date.strftime("%Y%m%d") if p.birth_date else ""
    ds.PatientSex = p.sex.value if p.sex is not Sex.UNKNOWN else ""
    ds.Allergies = list(p.allergies) if p.allergies else ""
    ds.AccessionNumber = o.accession
    ds.ReferringPhysicianName = o.ordering_physician
    ds.RequestingPhysician = o.ordering_physician
    ds.StudyInstanceUID = study_uid_for_case(case.case_id)
    ds.RequestedProcedureID = case.case_id
    ds.RequestedProcedureDescription = description
    ds.RequestedProcedurePriority = "ROUTINE"
    ds.CurrentPatientLocation = case.room
    ds.ReferencedStudySequence = Sequence()
    ds.ReferencedPatientSequence = Sequence()
    codes = Sequence()
    if code is not None:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
        codes.append(item)
    ds.RequestedProcedureCodeSequence = codes
    step = Dataset()
    step.ScheduledStationAETitle = config.stations.get(case.room, "")
    step.ScheduledStationName = case.room
    step.ScheduledProcedureStepLocation = case.room
    step.ScheduledProcedureStepStartDate = local.strftime("%Y%m%d")
    step.ScheduledProcedureStepStartTime = local.strftime("%H%M%S")
    step.Modality = config.room_modalities.get(case.room, config.modality)
    step.ScheduledPerformingPhysicianName = case.care_team.radiologist
    step.ScheduledProcedureStepDescription = description
    step.ScheduledProtocolCodeSequence = Sequence([_copy(i) for i in codes])
    step.ScheduledProcedureStepID = case.case_id
    step.ScheduledProcedureStepStatus = _ON_WORKLIST.get(case.phase, "")
    ds.ScheduledProcedureStepSequence = Sequence([step])
    return ds


def _copy(item: Dataset) -> Dataset:
    out = Dataset()
    out.update(item)
    return out


# ---- matching ------------------------------------------------------------------------------


def _vr(ds: Dataset, tag: int) -> str:
    elem = ds.get_item(tag, keep_deferred=True)
    vr = getattr(elem, "VR", None)
    if vr:
        return str(vr)
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


def _keys(query: Dataset) -> list[int]:
    # keys(), not iteration: iterating a Dataset converts (and validates) every element.
    tags = query.keys()  # noqa: SIM118
    return [int(t) for t in tags if t.group not in (0x0000, 0x0002) and t not in _NOT_KEYS]


def _wildcard(pattern: str, value: str, *, fold: bool) -> bool:
    # Linear, never a regex: a backtracking regex of `*`s froze the whole service.
    return wildcard_match(pattern, value, fold=fold)


def _name(value: str) -> str:
    return value.split("=")[0].rstrip("^ ").upper()


def _clock(value: str, *, upper: bool = False) -> str:
    """HHMMSS; missing digits are the earliest (or, for an upper bound, the latest) time."""
    digits = value.replace(":", "").split(".")[0]
    return (digits + ("999999" if upper else "000000"))[:6]


def _in_range(pattern: str, value: str, vr: str) -> bool:
    low, _, high = pattern.partition("-")
    if vr == "TM":
        value = _clock(value)
        low = _clock(low) if low else ""
        high = _clock(high, upper=True) if high else ""
    return not ((low and value < low) or (high and value > high))


def _value_matches(vr: str, pattern: str, value: str) -> bool:
    if vr == "UI":
        return value in [p.strip() for p in pattern.split("\\")]
    if vr in ("DA", "TM"):
        if "-" in pattern:
            return bool(value) and _in_range(pattern, value, vr)
        return (_clock(pattern) == _clock(value)) if vr == "TM" else pattern == value
    if vr == "PN":
        if "*" in pattern or "?" in pattern:
            return _wildcard(pattern.split("=")[0].rstrip("^ "), _name(value), fold=True)
        return _name(pattern) == _name(value)
    if "*" in pattern or "?" in pattern:
        return _wildcard(pattern, value, fold=False)
    values = value.split("\\")
    return any(pattern == v for v in values)


def _combined_datetime(q: Dataset, item: Dataset, charset: list[str]) -> bool | None:
    """Combined date-time range matching of the step start (PS3.4 C.2.2.2.5), or None."""
    date_q = text(q, _SPS_DATE, charset=charset) if _SPS_DATE in q else ""
    time_q = text(q, _SPS_TIME, charset=charset) if _SPS_TIME in q else ""
    if "-" not in date_q or "-" not in time_q:
        return None
    d_low, _, d_high = date_q.partition("-")
    t_low, _, t_high = time_q.partition("-")
    value = text(item, _SPS_DATE) + _clock(text(item, _SPS_TIME))
    low = d_low + _clock(t_low) if d_low else ""
    high = d_high + _clock(t_high, upper=True) if d_high else ""
    return not ((low and value < low) or (high and value > high))


def matches(query: Dataset, item: Dataset, *, charset: list[str] | None = None) -> bool:
    """Whether `item` satisfies every matching key of `query`."""
    charset = charset or encodings(query)
    combined = _combined_datetime(query, item, charset)
    for tag in _keys(query):
        vr = _vr(query, tag)
        if vr == "SQ":
            q_items = [i for i in query[tag].value or [] if len(_keys(i))]
            if not q_items:
                continue
            have = item[tag].value if tag in item else []
            if not any(matches(q_items[0], it, charset=charset) for it in have):
                return False
            continue
        if combined is not None and tag in (_SPS_DATE, _SPS_TIME):
            if not combined:
                return False
            continue
        pattern = text(query, tag, charset=charset)
        if not pattern or pattern == "*":
            continue
        if tag not in item:
            continue  # a matching key procsuite does not keep: not used to filter
        if not _value_matches(vr, pattern, text(item, tag)):
            return False
    return True


def answer(query: Dataset, item: Dataset) -> Dataset:
    """The item reduced to the keys of `query` (keys procsuite lacks come back empty)."""
    out = Dataset()
    for tag in _keys(query):
        vr = _vr(query, tag)
        if vr == "SQ":
            q_items = list(query[tag].value or [])
            have = list(item[tag].value) if tag in item else []
            if not q_items or not len(_keys(q_items[0])):
                out[tag] = DataElement(tag, "SQ", Sequence([_copy(i) for i in have]))
            else:
                out[tag] = DataElement(tag, "SQ", Sequence([answer(q_items[0], i) for i in have]))
        elif tag in item:
            out[tag] = item[tag]
        else:
            out[tag] = DataElement(tag, vr, None)
    return out


def with_character_set(ds: Dataset, *, asked: list[str]) -> Dataset:
    """Declare the character set the answer needs: none for ASCII, else Latin-1 when the query
    used it and the text fits, else UTF-8."""
    texts = [str(e.value) for e in ds.iterall() if e.VR in ("PN", "LO", "SH", "LT", "ST", "UT")]
    if all(t.isascii() for t in texts):
        return ds
    if "latin_1" in asked:
        try:
            for t in texts:
                t.encode("latin-1")
            ds.SpecificCharacterSet = "ISO_IR 100"
            return ds
        except UnicodeEncodeError:
            pass
    ds.SpecificCharacterSet = "ISO_IR 192"
    return ds
