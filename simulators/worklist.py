"""Modality Worklist as a fluoroscopy unit sees it: the C-FIND query and the items it gets.

Pure: `worklist_query` builds the identifier (by scheduled station AE title, scheduled date
and modality, the way IHE Scheduled Workflow's RAD-5 "Query Modality Worklist" does); the
SCP's answers become `WorklistItem`s. A worklist answer carries only the keys asked for, so
the query asks for everything the images, MPPS and RDSR need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

MWL_FIND_SOP_CLASS = "1.2.840.10008.5.1.4.31"  # Modality Worklist Information Model - FIND


class WorklistError(ValueError):
    """A worklist item that cannot be used; the message names the attribute."""


@dataclass(frozen=True, slots=True)
class WorklistItem:
    """One scheduled procedure step of the worklist, with its patient and request."""

    patient_name: str
    patient_id: str
    birth_date: str  # DICOM DA text (YYYYMMDD) or ""
    sex: str
    accession: str
    study_uid: str
    requested_procedure_id: str
    requested_procedure_description: str
    sps_id: str
    sps_description: str
    sps_start: datetime | None
    station_ae: str
    station_name: str
    location: str
    modality: str
    referring_physician: str
    performing_physician: str
    procedure_code: tuple[str, str, str] | None  # (value, scheme, meaning)

    @property
    def label(self) -> str:
        """For logs and the CLI (no patient name): accession, SPS id and start."""
        when = f"{self.sps_start:%Y-%m-%d %H:%M}" if self.sps_start else "unscheduled"
        return f"{self.accession} / SPS {self.sps_id} at {when} in {self.location or '?'}"


def worklist_query(
    *,
    station_ae: str | None,
    on: date | None,
    modality: str | None = "XA",
    station_name: str | None = None,
) -> Dataset:
    """The C-FIND identifier: matching keys given, every return key empty."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyInstanceUID",
        "RequestedProcedureID",
        "RequestedProcedureDescription",
    ):
        setattr(ds, keyword, "")
    # A return key of sequence type: one item of empty keys (PS3.4 C.2.2.2.6).
    wanted_code = Dataset()
    wanted_code.CodeValue = ""
    wanted_code.CodingSchemeDesignator = ""
    wanted_code.CodeMeaning = ""
    ds.RequestedProcedureCodeSequence = Sequence([wanted_code])
    sps = Dataset()
    sps.ScheduledStationAETitle = station_ae or ""
    sps.ScheduledProcedureStepStartDate = on.strftime("%Y%m%d") if on else ""
    sps.ScheduledProcedureStepStartTime = ""
    sps.Modality = modality or ""
    sps.ScheduledPerformingPhysicianName = ""
    sps.ScheduledProcedureStepDescription = ""
    sps.ScheduledProcedureStepID = ""
    sps.ScheduledStationName = station_name or ""
    sps.ScheduledProcedureStepLocation = ""
    ds.ScheduledProcedureStepSequence = Sequence([sps])
    return ds


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _start(sps: Dataset, zone: tzinfo) -> datetime | None:
    day, clock = (
        _text(sps, "ScheduledProcedureStepStartDate"),
        _text(sps, "ScheduledProcedureStepStartTime"),
    )
    if not day:
        return None
    try:
        d = datetime.strptime(day, "%Y%m%d").date()
    except ValueError:
        raise WorklistError(
            f"Scheduled Procedure Step Start Date {day!r} is not YYYYMMDD"
        ) from None
    t = time(0, 0)
    if clock:
        digits = clock.split(".")[0]
        try:
            t = time(int(digits[0:2]), int(digits[2:4] or 0), int(digits[4:6] or 0))
        except ValueError:
            raise WorklistError(
                f"Scheduled Procedure Step Start Time {clock!r} is not HHMMSS"
            ) from None
    return datetime.combine(d, t, tzinfo=zone)


def item_from(ds: Dataset, *, zone: tzinfo = UTC) -> WorklistItem:
    """A worklist answer as a `WorklistItem` (times are the SCP's local times in `zone`)."""
    steps = ds.get("ScheduledProcedureStepSequence")
    if not steps:
        raise WorklistError("worklist item has no Scheduled Procedure Step Sequence (0040,0100)")
    sps = steps[0]
    study_uid = _text(ds, "StudyInstanceUID")
    if not study_uid:
        raise WorklistError("worklist item has no Study Instance UID (0020,000D)")
    code = None
    codes = ds.get("RequestedProcedureCodeSequence")
    if codes:
        c = codes[0]
        code = (_text(c, "CodeValue"), _text(c, "CodingSchemeDesignator"), _text(c, "CodeMeaning"))
    return WorklistItem(
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        birth_date=_text(ds, "PatientBirthDate"),
        sex=_text(ds, "PatientSex"),
        accession=_text(ds, "AccessionNumber"),
        study_uid=study_uid,
        requested_procedure_id=_text(ds, "RequestedProcedureID"),
        requested_procedure_description=_text(ds, "RequestedProcedureDescription"),
        sps_id=_text(sps, "ScheduledProcedureStepID"),
        sps_description=_text(sps, "ScheduledProcedureStepDescription"),
        sps_start=_start(sps, zone),
        station_ae=_text(sps, "ScheduledStationAETitle"),
        station_name=_text(sps, "ScheduledStationName"),
        location=_text(sps, "ScheduledProcedureStepLocation"),
        modality=_text(sps, "Modality"),
        referring_physician=_text(ds, "ReferringPhysicianName"),
        performing_physician=_text(sps, "ScheduledPerformingPhysicianName"),
        procedure_code=code,
    )


def pick(
    items: list[WorklistItem], *, room: str | None = None, accession: str | None = None
) -> WorklistItem | None:
    """The item to perform: the one with `accession` if given; else, among the items of
    `room` (location or station name) if given, the earliest scheduled."""
    if accession:
        return next((i for i in items if i.accession == accession), None)
    chosen = items
    if room:
        chosen = [i for i in items if room in (i.location, i.station_name)]
    far = datetime.max.replace(tzinfo=UTC)
    return min(chosen, key=lambda i: i.sps_start or far, default=None)
