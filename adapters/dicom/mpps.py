"""Modality Performed Procedure Step: the facts of an N-CREATE / N-SET and what they mean.

Pure: datasets in, `MppsFacts` and timeline text out. The MPPS state machine (PS3.4 F.7):
an N-CREATE starts a step IN PROGRESS; N-SETs may change it while it is IN PROGRESS and end
it as COMPLETED or DISCONTINUED; after that it can no longer be changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

from adapters.dicom.elements import ElementError, encodings, items, number, text, uid
from suite.errors import WireError

IN_PROGRESS = "IN PROGRESS"
COMPLETED = "COMPLETED"
DISCONTINUED = "DISCONTINUED"
STATUSES = (IN_PROGRESS, COMPLETED, DISCONTINUED)

# N-CREATE / N-SET statuses (PS3.7 C.4.2.1.4 and C.4.1.1.4, PS3.4 F.7.2)
SUCCESS = 0x0000
INVALID_ATTRIBUTE_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_INSTANCE = 0x0111
NO_SUCH_INSTANCE = 0x0112
MISSING_ATTRIBUTE = 0x0120
RESOURCE_LIMITATION = 0x0213
# Error ID sent with a processing failure when the step is already final (PS3.4 F.7.2.2.4.2)
MAY_NO_LONGER_BE_UPDATED = 0xA710

_STATUS = 0x00400252
_SCHEDULED_STEPS = 0x00400270
_ACCESSION = 0x00080050
_STUDY_UID = 0x0020000D
_REQUESTED_PROCEDURE_ID = 0x00401001
_SCHEDULED_STEP_ID = 0x00400009
_PATIENT_ID = 0x00100020
_STATION_AE = 0x00400241
_MODALITY = 0x00080060
_DESCRIPTION = 0x00400254
_START_DATE = 0x00400244
_START_TIME = 0x00400245
_END_DATE = 0x00400250
_END_TIME = 0x00400251
_FLUORO_TIME_S = 0x00400300  # Total Time of Fluoroscopy, s
_EXPOSURES = 0x00400301  # Total Number of Exposures
_ENTRANCE_DOSE_DGY = 0x00400302  # Entrance Dose, dGy
_ENTRANCE_DOSE_MGY = 0x00408302  # Entrance Dose in mGy
_AREA_DOSE_PRODUCT = 0x0018115E  # Image and Fluoroscopy Area Dose Product, dGy·cm²
_DISCONTINUATION_REASON = 0x00400281
_CODE_MEANING = 0x00080104


class MppsError(WireError, ValueError):
    """An MPPS request procsuite refuses: `status` to answer, the message says why."""

    def __init__(self, status: int, message: str, *, error_id: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id


@dataclass(frozen=True, slots=True)
class MppsFacts:
    status: str
    station_ae: str = ""
    modality: str = ""
    description: str = ""
    accession: str = ""
    study_uid: str = ""
    procedure_ids: tuple[str, ...] = ()
    patient_id: str = ""
    started: str = ""
    ended: str = ""
    fluoro_time_s: float | None = None
    dap_gy_cm2: float | None = None
    air_kerma_mgy: float | None = None
    exposures: int | None = None
    discontinuation_reason: str = ""

    @property
    def has_dose(self) -> bool:
        return any(v is not None for v in (self.fluoro_time_s, self.dap_gy_cm2, self.air_kerma_mgy))


def _when(date: str, time: str) -> str:
    if len(date) == 8 and date.isdigit():
        day = f"{date[:4]}-{date[4:6]}-{date[6:]}"
        clock = f" {time[:2]}:{time[2:4]}" if len(time) >= 4 and time[:4].isdigit() else ""
        return day + clock
    return ""


def _non_negative(value: float | None, what: str) -> float | None:
    if value is not None and value < 0:
        raise MppsError(INVALID_ATTRIBUTE_VALUE, f"{what} is negative ({value:g})")
    return value


def read_mpps(ds: Dataset) -> MppsFacts:
    """The facts of an MPPS as a whole (the N-CREATE attributes with every N-SET applied)."""
    try:
        charset = encodings(ds)
        accession = study = ""
        procedure_ids: list[str] = []
        for step in items(ds, _SCHEDULED_STEPS):
            accession = accession or text(step, _ACCESSION, charset=charset)
            study = study or uid(step, _STUDY_UID)
            for tag in (_REQUESTED_PROCEDURE_ID, _SCHEDULED_STEP_ID):
                value = text(step, tag, charset=charset)
                if value and value not in procedure_ids:
                    procedure_ids.append(value)
        kerma = number(ds, _ENTRANCE_DOSE_MGY, what="Entrance Dose in mGy (0040,8302)")
        if kerma is None:
            dgy = number(ds, _ENTRANCE_DOSE_DGY, what="Entrance Dose (0040,0302)")
            kerma = dgy * 100 if dgy is not None else None
        area = number(ds, _AREA_DOSE_PRODUCT, what="Image and Fluoroscopy Area Dose Product")
        exposures = number(ds, _EXPOSURES, what="Total Number of Exposures (0040,0301)")
        reasons = [text(item, _CODE_MEANING) for item in items(ds, _DISCONTINUATION_REASON)]
        return MppsFacts(
            status=text(ds, _STATUS).upper(),
            station_ae=text(ds, _STATION_AE),
            modality=text(ds, _MODALITY),
            description=text(ds, _DESCRIPTION, charset=charset),
            accession=accession,
            study_uid=study,
            procedure_ids=tuple(procedure_ids),
            patient_id=text(ds, _PATIENT_ID, charset=charset),
            started=_when(text(ds, _START_DATE), text(ds, _START_TIME)),
            ended=_when(text(ds, _END_DATE), text(ds, _END_TIME)),
            fluoro_time_s=_non_negative(
                number(ds, _FLUORO_TIME_S, what="Total Time of Fluoroscopy (0040,0300)"),
                "Total Time of Fluoroscopy",
            ),
            dap_gy_cm2=_non_negative(area / 10 if area is not None else None, "Area Dose Product"),
            air_kerma_mgy=_non_negative(kerma, "Entrance Dose"),
            exposures=int(exposures) if exposures is not None else None,
            discontinuation_reason="; ".join(r for r in reasons if r),
        )
    except ElementError as exc:
        raise MppsError(INVALID_ATTRIBUTE_VALUE, str(exc)) from exc


def check_create(facts: MppsFacts) -> None:
    """An N-CREATE must start a step IN PROGRESS."""
    if not facts.status:
        raise MppsError(MISSING_ATTRIBUTE, "Performed Procedure Step Status (0040,0252) missing")
    if facts.status != IN_PROGRESS:
        raise MppsError(
            INVALID_ATTRIBUTE_VALUE,
            f"an MPPS is created IN PROGRESS, not {facts.status}",
        )


def check_set(stored_status: str, modification: Dataset) -> None:
    """An N-SET may change a step only while it is IN PROGRESS, to one of the known states."""
    if stored_status != IN_PROGRESS:
        raise MppsError(
            PROCESSING_FAILURE,
            f"Performed Procedure Step is {stored_status}: it may no longer be updated",
            error_id=MAY_NO_LONGER_BE_UPDATED,
        )
    if _STATUS in modification:
        new = text(modification, _STATUS).upper()
        if new not in STATUSES:
            raise MppsError(
                INVALID_ATTRIBUTE_VALUE, f"Performed Procedure Step Status {new!r} is not valid"
            )


def apply_set(stored: Dataset, modification: Dataset) -> Dataset:
    """The step after an N-SET: each attribute in the modification list replaces the stored one."""
    merged = Dataset()
    merged.update(stored)
    for elem in modification:
        merged[elem.tag] = elem
    return merged


def _dose_text(facts: MppsFacts) -> str:
    parts = []
    if facts.fluoro_time_s is not None:
        parts.append(f"fluoroscopy {facts.fluoro_time_s / 60:.1f} min")
    if facts.dap_gy_cm2 is not None:
        parts.append(f"DAP {facts.dap_gy_cm2:.2f} Gy·cm²")
    if facts.air_kerma_mgy is not None:
        parts.append(f"air kerma {facts.air_kerma_mgy:.0f} mGy")
    if facts.exposures is not None:
        parts.append(f"{facts.exposures} exposures")
    return ", ".join(parts)


def timeline_text(facts: MppsFacts, *, mpps_uid: str, calling_ae: str) -> str:
    """The case timeline entry for an MPPS state."""
    station = facts.station_ae or calling_ae
    what = f" {facts.description}" if facts.description else ""
    if facts.status == IN_PROGRESS:
        since = f" since {facts.started}" if facts.started else ""
        return f"MPPS IN PROGRESS on {station}{what}{since} (MPPS {mpps_uid})"
    dose = _dose_text(facts)
    if facts.status == DISCONTINUED:
        reason = f": {facts.discontinuation_reason}" if facts.discontinuation_reason else ""
        tail = f"; {dose}" if dose else ""
        return f"MPPS DISCONTINUED on {station}{what}{reason}{tail} (MPPS {mpps_uid})"
    ended = f" at {facts.ended}" if facts.ended else ""
    tail = f": {dose}" if dose else ""
    return f"MPPS {facts.status} on {station}{what}{ended}{tail} (MPPS {mpps_uid})"
