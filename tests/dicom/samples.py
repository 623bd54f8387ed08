"""DICOM objects for the tests, built with pydicom: small real images, a valid X-Ray Radiation
Dose SR content tree (TID 10001 / 10002 / 10003), and MPPS attribute lists."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from adapters.dicom import sop

PATIENT_NAME = "TEST^ANNA"


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _base(
    sop_class: str,
    *,
    modality: str,
    patient_id: str,
    accession: str,
    study_uid: str | None,
    sop_uid: str | None = None,
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or generate_uid(prefix=None)
    ds.StudyInstanceUID = study_uid or generate_uid(prefix=None)
    ds.SeriesInstanceUID = generate_uid(prefix=None)
    ds.PatientName = PATIENT_NAME
    ds.PatientID = patient_id
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.StudyDate = "20261124"
    ds.StudyTime = "090000"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Manufacturer = "ACME"
    ds.StationName = "FLUORO1"
    return ds


def image(
    sop_class: str = sop.XA_IMAGE,
    *,
    modality: str = "XA",
    patient_id: str = "MRN0001",
    accession: str = "ACC0001",
    study_uid: str | None = None,
    sop_uid: str | None = None,
    rows: int = 64,
    columns: int = 64,
    dap_dgy_cm2: float | None = None,
    entrance_dose_mgy: float | None = None,
) -> Dataset:
    """A monochrome 12-bit image with real pixel data (rows x columns x 2 bytes)."""
    ds = _base(
        sop_class,
        modality=modality,
        patient_id=patient_id,
        accession=accession,
        study_uid=study_uid,
        sop_uid=sop_uid,
    )
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    pattern = bytes((i * 7) % 256 for i in range(512))
    size = rows * columns * 2
    ds.PixelData = (pattern * (size // len(pattern) + 1))[:size]
    if sop_class == sop.CT_IMAGE:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.KVP = 120
    if dap_dgy_cm2 is not None:
        ds.ImageAndFluoroscopyAreaDoseProduct = f"{dap_dgy_cm2:g}"
    if entrance_dose_mgy is not None:
        ds.EntranceDoseInmGy = f"{entrance_dose_mgy:g}"
    return ds


def _num(concept: tuple[str, str], value: float, unit: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "NUM"
    item.ConceptNameCodeSequence = Sequence([_code(concept[0], "DCM", concept[1])])
    measured = Dataset()
    measured.NumericValue = f"{value:.6g}"
    measured.MeasurementUnitsCodeSequence = Sequence([_code(unit, "UCUM", unit)])
    item.MeasuredValueSequence = Sequence([measured])
    return item


def _content(
    relationship: str, value_type: str, concept: tuple[str, str, str], **values: object
) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    item.ConceptNameCodeSequence = Sequence([_code(*concept)])
    for key, value in values.items():
        setattr(item, key, value)
    return item


def rdsr(
    *,
    air_kerma_gy: float,
    dap_gy_m2: float,
    fluoro_time_s: float,
    patient_id: str = "MRN0001",
    accession: str = "ACC0001",
    study_uid: str | None = None,
    planes: int = 1,
    device_uid: str = "2.25.1234567890",
) -> Dataset:
    """An X-Ray Radiation Dose SR whose accumulated totals are the given values (split
    evenly over `planes`), with one irradiation event that must not be added again."""
    ds = _base(
        sop.XRAY_DOSE_SR,
        modality="SR",
        patient_id=patient_id,
        accession=accession,
        study_uid=study_uid,
    )
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_code("113701", "DCM", "X-Ray Radiation Dose Report")])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "10001"
    ds.ContentTemplateSequence = Sequence([template])
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ContentDate = "20261124"
    ds.ContentTime = "093000"
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.PerformedProcedureCodeSequence = Sequence()
    procedure = _content(
        "HAS CONCEPT MOD",
        "CODE",
        ("121058", "DCM", "Procedure reported"),
        ConceptCodeSequence=Sequence([_code("113704", "DCM", "Projection X-Ray")]),
    )
    observer = _content(
        "HAS OBS CONTEXT",
        "CODE",
        ("121005", "DCM", "Observer Type"),
        ConceptCodeSequence=Sequence([_code("121007", "DCM", "Device")]),
    )
    device = _content(
        "HAS OBS CONTEXT", "UIDREF", ("121012", "DCM", "Device Observer UID"), UID=device_uid
    )
    scope = _content(
        "HAS OBS CONTEXT",
        "CODE",
        ("113705", "DCM", "Scope of Accumulation"),
        ConceptCodeSequence=Sequence([_code("113014", "DCM", "Study")]),
    )
    scope.ContentSequence = Sequence(
        [
            _content(
                "HAS PROPERTIES",
                "UIDREF",
                ("110180", "DCM", "Study Instance UID"),
                UID=ds.StudyInstanceUID,
            )
        ]
    )
    content = [procedure, observer, device, scope]
    plane_codes = (
        [("113622", "Single Plane")]
        if planes == 1
        else [
            ("113620", "Plane A"),
            ("113621", "Plane B"),
        ]
    )
    for code, meaning in plane_codes[:planes]:
        accumulated = _content(
            "CONTAINS", "CONTAINER", ("113702", "DCM", "Accumulated X-Ray Dose Data")
        )
        accumulated.ContinuityOfContent = "SEPARATE"
        plane = _content(
            "HAS CONCEPT MOD",
            "CODE",
            ("113764", "DCM", "Acquisition Plane"),
            ConceptCodeSequence=Sequence([_code(code, "DCM", meaning)]),
        )
        share = 1 / planes
        accumulated.ContentSequence = Sequence(
            [
                plane,
                _num(
                    ("113726", "Fluoro Dose Area Product Total"), dap_gy_m2 * share * 0.6, "Gy.m2"
                ),
                _num(("113728", "Fluoro Dose (RP) Total"), air_kerma_gy * share * 0.6, "Gy"),
                _num(("113730", "Total Fluoro Time"), fluoro_time_s * share, "s"),
                _num(
                    ("113727", "Acquisition Dose Area Product Total"),
                    dap_gy_m2 * share * 0.4,
                    "Gy.m2",
                ),
                _num(("113729", "Acquisition Dose (RP) Total"), air_kerma_gy * share * 0.4, "Gy"),
                _num(("113722", "Dose Area Product Total"), dap_gy_m2 * share, "Gy.m2"),
                _num(("113725", "Dose (RP) Total"), air_kerma_gy * share, "Gy"),
                _num(("113731", "Total Number of Radiographic Frames"), 40, "{frames}"),
            ]
        )
        content.append(accumulated)
    event = _content("CONTAINS", "CONTAINER", ("113706", "DCM", "Irradiation Event X-Ray Data"))
    event.ContinuityOfContent = "SEPARATE"
    event.ContentSequence = Sequence(
        [
            _num(("122130", "Dose Area Product"), dap_gy_m2 * 0.1, "Gy.m2"),
            _num(("113738", "Dose (RP)"), air_kerma_gy * 0.1, "Gy"),
        ]
    )
    content.append(event)
    ds.ContentSequence = Sequence(content)
    return ds


def save(ds: Dataset, path: Path, *, implicit: bool = False) -> Path:
    """Write `ds` as a Part 10 file (explicit VR little endian unless `implicit`)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def mpps_in_progress(
    *,
    accession: str = "ACC0001",
    study_uid: str = "",
    case_id: str = "",
    patient_id: str = "MRN0001",
    station_ae: str = "FLUORO1",
) -> Dataset:
    """An MPPS N-CREATE attribute list (IN PROGRESS) for a worklist item."""
    ds = Dataset()
    step = Dataset()
    step.AccessionNumber = accession
    step.StudyInstanceUID = study_uid or generate_uid(prefix=None)
    step.RequestedProcedureID = case_id
    step.ScheduledProcedureStepID = case_id
    step.ReferencedStudySequence = Sequence()
    step.RequestedProcedureDescription = "Kyphoplasty T12, L1"
    step.ScheduledProcedureStepDescription = "Kyphoplasty T12, L1"
    step.ScheduledProtocolCodeSequence = Sequence()
    ds.ScheduledStepAttributesSequence = Sequence([step])
    ds.PatientName = PATIENT_NAME
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19440506"
    ds.PatientSex = "F"
    ds.ReferencedPatientSequence = Sequence()
    ds.PerformedStationAETitle = station_ae
    ds.PerformedStationName = "IR1"
    ds.PerformedLocation = "IR1"
    ds.PerformedProcedureStepStartDate = "20261124"
    ds.PerformedProcedureStepStartTime = "090500"
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
    ds.PerformedProcedureStepID = "PPS1"
    ds.PerformedProcedureStepDescription = "Kyphoplasty"
    ds.PerformedProcedureTypeDescription = ""
    ds.ProcedureCodeSequence = Sequence()
    ds.Modality = "XA"
    ds.StudyID = "1"
    ds.PerformedProtocolCodeSequence = Sequence()
    ds.PerformedSeriesSequence = Sequence()
    return ds


def mpps_completed(
    *,
    fluoro_time_s: int,
    dap_dgy_cm2: float,
    entrance_dose_mgy: float,
    exposures: int = 35,
    status: str = "COMPLETED",
) -> Dataset:
    """An MPPS N-SET modification list that ends the step with its dose."""
    ds = Dataset()
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepEndDate = "20261124"
    ds.PerformedProcedureStepEndTime = "094500"
    ds.TotalTimeOfFluoroscopy = fluoro_time_s
    ds.TotalNumberOfExposures = exposures
    ds.EntranceDoseInmGy = f"{entrance_dose_mgy:g}"
    ds.ImageAndFluoroscopyAreaDoseProduct = f"{dap_dgy_cm2:g}"
    ds.PerformedSeriesSequence = Sequence()
    return ds
