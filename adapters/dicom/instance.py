"""What procsuite needs to know about a received SOP instance, and whether it is whole.

`read_instance` reads a Part 10 file spooled by the Storage SCP (without decoding pixel
data), checks that it is a complete, consistent instance of the SOP class it was sent under,
and returns its facts: identity, where it belongs (accession, study, patient, procedure step)
and the dose it reports (per-image attributes, or the accumulated dose of an RDSR). A broken
object raises `BrokenObject` with the DICOM status to answer and the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from adapters.dicom import sop
from adapters.dicom.elements import ElementError, encodings, items, number, text, uid
from adapters.dicom.rdsr import RdsrError, RdsrTotals, parse_rdsr
from adapters.dicom.uids import is_valid_uid
from suite.errors import WireError

# C-STORE failure statuses (PS3.4 B.2.3)
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000

_SOP_CLASS = 0x00080016
_SOP_INSTANCE = 0x00080018
_STUDY = 0x0020000D
_SERIES = 0x0020000E
_MODALITY = 0x00080060
_ACCESSION = 0x00080050
_PATIENT_ID = 0x00100020
_REQUEST_ATTRIBUTES = 0x00400275
_REQUESTED_PROCEDURE_ID = 0x00401001
_SCHEDULED_STEP_ID = 0x00400009
_PIXEL_DATA = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_AREA_DOSE_PRODUCT = 0x0018115E  # Image and Fluoroscopy Area Dose Product, dGy·cm²
_ENTRANCE_DOSE_MGY = 0x00408302  # Entrance Dose in mGy
_UNDEFINED = 0xFFFFFFFF


class BrokenObject(WireError):
    """The object cannot be stored: `status` is the C-STORE failure, `reason` says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax: str
    modality: str = ""
    accession: str = ""
    patient_id: str = ""
    procedure_ids: tuple[str, ...] = ()
    image_dap_gy_cm2: float | None = None
    image_air_kerma_mgy: float | None = None
    rdsr: RdsrTotals | None = None
    dose_problem: str = ""
    """Why the dose this object reports could not be read (it is stored anyway)."""

    @property
    def relative_path(self) -> str:
        """`<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm` (UIDs are checked)."""
        return f"{self.study_uid}/{self.series_uid}/{self.sop_instance_uid}.dcm"

    @property
    def is_patient_image(self) -> bool:
        return self.sop_class_uid in sop.PATIENT_IMAGE_CLASSES

    @property
    def is_dose_report(self) -> bool:
        return self.sop_class_uid == sop.XRAY_DOSE_SR


def _check_whole(ds: Dataset, size: int) -> None:
    """Every top-level element's declared length must fit in the file (else it was cut)."""
    # keys(), not iteration: iterating a Dataset converts (and validates) every element.
    for tag in ds.keys():  # noqa: SIM118
        elem = ds.get_item(tag, keep_deferred=True)
        if not isinstance(elem, RawDataElement) or elem.length == _UNDEFINED:
            continue
        truncated = elem.value_tell + elem.length > size or (
            elem.value is not None and len(elem.value) != elem.length
        )
        if truncated:
            raise BrokenObject(
                CANNOT_UNDERSTAND,
                f"truncated: element {tag} declares {elem.length} bytes past the end of the data",
            )


_NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"})
_NATIVE_PIXELS = 0x7FE00010


def _check_pixels(ds: Dataset, transfer_syntax: str) -> None:
    """Native (uncompressed) pixel data must be as long as its image attributes say: a
    512 x 512 image with 1,000 bytes of pixels is not an image (PS3.5 8.1.1)."""
    if transfer_syntax not in _NATIVE or _NATIVE_PIXELS not in ds:
        return
    elem = ds.get_item(_NATIVE_PIXELS, keep_deferred=True)
    length = getattr(elem, "length", None)
    if not isinstance(length, int) or length == _UNDEFINED:
        return
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.BitsAllocated)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        raise BrokenObject(
            CANNOT_UNDERSTAND, "pixel data without readable Rows, Columns or Bits Allocated"
        ) from None
    expected = (rows * columns * samples * frames * bits + 7) // 8
    if length < expected:
        raise BrokenObject(
            CANNOT_UNDERSTAND,
            f"pixel data of {length} bytes is shorter than {rows} x {columns} x {samples}"
            f" x {frames} frame(s) x {bits} bits = {expected} bytes",
        )


def _uid(ds: Dataset, tag: int, name: str) -> str:
    value = uid(ds, tag)
    if not value:
        raise BrokenObject(DOES_NOT_MATCH_SOP_CLASS, f"{name} is missing")
    if not is_valid_uid(value):
        raise BrokenObject(DOES_NOT_MATCH_SOP_CLASS, f"{name} {value[:70]!r} is not a valid UID")
    return value


def read_instance(
    path: Path,
    *,
    sent_as_class: str,
    sent_as_instance: str,
    max_bytes: int,
    fallback_device: str = "",
) -> InstanceFacts:
    """The facts of the spooled instance at `path`, or `BrokenObject` naming what is wrong.

    `sent_as_class` / `sent_as_instance` are the Affected SOP Class / Instance UIDs of the
    C-STORE request; the dataset must agree with them.
    """
    size = os.path.getsize(path)
    if size > max_bytes:
        raise BrokenObject(
            OUT_OF_RESOURCES, f"object of {size} bytes is larger than the {max_bytes} allowed"
        )
    try:
        ds = dcmread(path, defer_size="64 KB")
        transfer_syntax = uid(ds.file_meta, 0x00020010)
        if len(ds) == 0:  # pydicom gives up on a data set cut inside encapsulated pixel data
            raise BrokenObject(CANNOT_UNDERSTAND, "no readable data set (truncated?)")
        _check_whole(ds, size)
        _check_pixels(ds, transfer_syntax)
    except BrokenObject:
        raise
    except Exception as exc:  # untrusted bytes: any parse failure means "cannot understand"
        raise BrokenObject(CANNOT_UNDERSTAND, f"unreadable dataset: {exc}"[:200]) from exc
    try:
        return _facts(ds, transfer_syntax, sent_as_class, sent_as_instance, fallback_device)
    except ElementError as exc:
        raise BrokenObject(DOES_NOT_MATCH_SOP_CLASS, str(exc)) from exc
    except BrokenObject:
        raise
    except Exception as exc:  # untrusted bytes deeper down (sequences parse on access)
        raise BrokenObject(CANNOT_UNDERSTAND, f"unreadable dataset: {exc}"[:200]) from exc


def _facts(
    ds: Dataset,
    transfer_syntax: str,
    sent_as_class: str,
    sent_as_instance: str,
    fallback_device: str,
) -> InstanceFacts:
    sop_class = _uid(ds, _SOP_CLASS, "SOP Class UID (0008,0016)")
    if sop_class != sent_as_class:
        raise BrokenObject(
            DOES_NOT_MATCH_SOP_CLASS,
            f"dataset is {sop.storage_name(sop_class)}, sent as {sop.storage_name(sent_as_class)}",
        )
    instance = _uid(ds, _SOP_INSTANCE, "SOP Instance UID (0008,0018)")
    if instance != sent_as_instance:
        raise BrokenObject(
            DOES_NOT_MATCH_SOP_CLASS,
            "SOP Instance UID (0008,0018) differs from the request's Affected SOP Instance UID",
        )
    study = _uid(ds, _STUDY, "Study Instance UID (0020,000D)")
    series = _uid(ds, _SERIES, "Series Instance UID (0020,000E)")
    if sop_class in sop.PIXEL_CLASSES and not any(t in ds for t in _PIXEL_DATA):
        raise BrokenObject(DOES_NOT_MATCH_SOP_CLASS, "image without Pixel Data (7FE0,0010)")
    charset = encodings(ds)
    procedure_ids: list[str] = []
    accession = text(ds, _ACCESSION, charset=charset)
    for request in items(ds, _REQUEST_ATTRIBUTES):
        for tag in (_REQUESTED_PROCEDURE_ID, _SCHEDULED_STEP_ID):
            value = text(request, tag, charset=charset)
            if value and value not in procedure_ids:
                procedure_ids.append(value)
        accession = accession or text(request, _ACCESSION, charset=charset)
    rdsr: RdsrTotals | None = None
    dap: float | None = None
    kerma: float | None = None
    problem = ""
    try:
        if sop_class == sop.XRAY_DOSE_SR:
            rdsr = parse_rdsr(ds, fallback_device=fallback_device)
            if rdsr is None:
                problem = "dose report without projection X-ray accumulated dose (e.g. CT)"
        else:
            area = number(ds, _AREA_DOSE_PRODUCT, what="Image and Fluoroscopy Area Dose Product")
            dap = area / 10 if area is not None and area >= 0 else None  # dGy·cm² -> Gy·cm²
            entrance = number(ds, _ENTRANCE_DOSE_MGY, what="Entrance Dose in mGy")
            kerma = entrance if entrance is not None and entrance >= 0 else None
    except (RdsrError, ElementError) as exc:
        problem = str(exc)
    return InstanceFacts(
        sop_class_uid=sop_class,
        sop_instance_uid=instance,
        study_uid=study,
        series_uid=series,
        transfer_syntax=transfer_syntax,
        modality=text(ds, _MODALITY),
        accession=accession,
        patient_id=text(ds, _PATIENT_ID, charset=charset),
        procedure_ids=tuple(procedure_ids),
        image_dap_gy_cm2=dap,
        image_air_kerma_mgy=kerma,
        rdsr=rdsr,
        dose_problem=problem,
    )
