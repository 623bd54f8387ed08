"""The DICOM objects of the simulated fluoroscopy unit: XA images and MPPS requests.

Pure: datasets are built from a `StudyContext` (the worklist item being performed, the
equipment, the UIDs of this procedure step) and the irradiation events of fluoro_dose.py.
The X-Ray Radiation Dose SR is in rdsr.py. Every object is meant to pass dcmtk's dcmdump
without warnings and dicom3tools' dciodvfy without errors (tests/simulators check both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    XRayAngiographicImageStorage,
    generate_uid,
)

from simulators.fluoro_dose import DoseLedger, EventKind, IrradiationEvent, View
from simulators.worklist import WorklistItem
from simulators.xray_pixels import spine_frame

MPPS_SOP_CLASS = "1.2.840.10008.3.1.2.3.3"  # Modality Performed Procedure Step


def charset_for(*texts: str) -> str:
    """Specific Character Set: Latin-1 (ISO_IR 100) when every text fits it (Müller, Nuñez),
    else UTF-8 (ISO_IR 192). Latin-1 first because more receivers (and dcmtk's VR checker)
    handle it."""
    try:
        for value in texts:
            value.encode("latin-1")
    except UnicodeEncodeError:
        return "ISO_IR 192"
    return "ISO_IR 100"


@dataclass(frozen=True, slots=True)
class Equipment:
    """The simulated unit itself."""

    ae_title: str = "FLUORO1"
    station_name: str = "FLUORO1"
    manufacturer: str = "procsuite simulators"
    model: str = "FluoroSim C-arm"
    serial_number: str = "SIM-0001"
    software_version: str = "1.0"
    institution: str = "procsuite demo hospital"
    device_uid: str = field(default_factory=generate_uid)  # Device Observer UID of the RDSR


@dataclass
class StudyContext:
    """One performed procedure step on one worklist item: the UIDs and numbers it uses."""

    item: WorklistItem
    equipment: Equipment
    started_at: datetime
    zone: tzinfo
    location: str = ""
    operator: str = ""
    pps_uid: str = field(default_factory=generate_uid)
    pps_id: str = ""
    image_series_uid: str = field(default_factory=generate_uid)
    sr_series_uid: str = field(default_factory=generate_uid)
    images: list[tuple[str, str]] = field(default_factory=list)  # (SOP class, SOP instance)
    dose_reports: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.pps_id:
            self.pps_id = f"P{self.started_at.astimezone(self.zone):%y%m%d%H%M%S}"  # SH: <= 16

    @property
    def study_id(self) -> str:
        # Study ID (SH, 16 chars): the requested procedure id, or the accession's tail.
        return (self.item.requested_procedure_id or self.item.accession or "1")[:16]

    def da(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%Y%m%d")

    def tm(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%H%M%S.%f")[:13]

    def dt(self, at: datetime) -> str:
        # No "+hhmm" suffix: Timezone Offset From UTC (0008,0201) of the object applies (and
        # dcmtk's SR reader flags DT values with a suffix).
        return at.astimezone(self.zone).strftime("%Y%m%d%H%M%S.%f")

    @property
    def charset(self) -> str:
        item = self.item
        return charset_for(
            item.patient_name,
            item.referring_physician,
            item.performing_physician,
            item.requested_procedure_description,
            item.sps_description,
            self.operator,
            self.location,
            self.equipment.institution,
        )

    def utc_offset(self) -> str:
        return self.started_at.astimezone(self.zone).strftime("%z")


def body_part(level: str) -> str:
    """Body Part Examined (0018,0015) defined terms for a vertebral level."""
    return {"C": "CSPINE", "T": "TSPINE", "L": "LSPINE", "S": "SSPINE"}.get(
        level[:1].upper(), "SPINE"
    )


def patient_and_study(ds: Dataset, ctx: StudyContext) -> None:
    item = ctx.item
    ds.PatientName = item.patient_name
    ds.PatientID = item.patient_id
    ds.PatientBirthDate = item.birth_date
    ds.PatientSex = item.sex if item.sex in ("M", "F", "O") else ""
    ds.StudyInstanceUID = item.study_uid
    ds.StudyDate = ctx.da(ctx.started_at)
    ds.StudyTime = ctx.tm(ctx.started_at)
    ds.ReferringPhysicianName = item.referring_physician
    ds.StudyID = ctx.study_id
    ds.AccessionNumber = item.accession
    if item.requested_procedure_description:
        ds.StudyDescription = item.requested_procedure_description[:64]


def equipment_attributes(ds: Dataset, ctx: StudyContext) -> None:
    eq = ctx.equipment
    ds.Manufacturer = eq.manufacturer
    ds.InstitutionName = eq.institution
    ds.StationName = eq.station_name
    ds.ManufacturerModelName = eq.model
    ds.DeviceSerialNumber = eq.serial_number
    ds.SoftwareVersions = eq.software_version


def request_attributes(ctx: StudyContext) -> Sequence:
    """Request Attributes Sequence (0040,0275): the worklist step these objects fulfil."""
    req = Dataset()
    req.AccessionNumber = ctx.item.accession
    req.StudyInstanceUID = ctx.item.study_uid
    req.RequestedProcedureID = ctx.item.requested_procedure_id
    req.RequestedProcedureDescription = ctx.item.requested_procedure_description[:64]
    req.ScheduledProcedureStepID = ctx.item.sps_id
    req.ScheduledProcedureStepDescription = ctx.item.sps_description[:64]
    return Sequence([req])


def pps_reference(ctx: StudyContext) -> Sequence:
    ref = Dataset()
    ref.ReferencedSOPClassUID = MPPS_SOP_CLASS
    ref.ReferencedSOPInstanceUID = ctx.pps_uid
    return Sequence([ref])


def file_meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "PROCSUITE_SIM"
    return meta


def common_series(
    ds: Dataset, ctx: StudyContext, *, modality: str, series_uid: str, number: int
) -> None:
    """Patient, study, series and equipment attributes shared by images and the RDSR."""
    ds.SpecificCharacterSet = ctx.charset
    ds.InstanceCreationDate = ctx.da(ctx.started_at)
    ds.InstanceCreationTime = ctx.tm(ctx.started_at)
    ds.TimezoneOffsetFromUTC = ctx.utc_offset()
    patient_and_study(ds, ctx)
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = number
    ds.SeriesDate = ctx.da(ctx.started_at)
    ds.SeriesTime = ctx.tm(ctx.started_at)
    ds.OperatorsName = ctx.operator
    ds.PerformedProcedureStepID = ctx.pps_id
    ds.PerformedProcedureStepStartDate = ctx.da(ctx.started_at)
    ds.PerformedProcedureStepStartTime = ctx.tm(ctx.started_at)
    ds.PerformedProcedureStepDescription = ctx.item.requested_procedure_description[:64]
    ds.RequestAttributesSequence = request_attributes(ctx)
    ds.ReferencedPerformedProcedureStepSequence = pps_reference(ctx)
    equipment_attributes(ds, ctx)


def xa_image(
    ctx: StudyContext,
    event: IrradiationEvent,
    *,
    step: str,
    instance_number: int,
    pixel_seed: int = 0,
) -> Dataset:
    """An XA image (the last frame of a fluoroscopy run, or a radiographic exposure) with
    real pixels and the event's dose; it is added to `ctx.images`."""
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = file_meta(XRayAngiographicImageStorage, sop_uid)
    ds.SOPClassUID = XRayAngiographicImageStorage
    ds.SOPInstanceUID = sop_uid
    common_series(ds, ctx, modality="XA", series_uid=ctx.image_series_uid, number=1)
    ds.SeriesDescription = "Vertebral augmentation fluoroscopy"
    ds.ProtocolName = "Vertebral augmentation"
    ds.BodyPartExamined = body_part(event.level)
    # General Image
    ds.InstanceNumber = instance_number
    ds.PatientOrientation = ["L", "F"] if event.view is View.AP else ["A", "F"]
    ds.ContentDate = ctx.da(event.started_at)
    ds.ContentTime = ctx.tm(event.started_at)
    ds.AcquisitionDateTime = ctx.dt(event.started_at)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    ds.ImageComments = f"{event.protocol} {event.view.value}"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.IrradiationEventUID = event.uid
    # Image Pixel / X-Ray Image
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 512
    ds.Columns = 512
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = "LIN"
    ds.WindowCenter = 2048
    ds.WindowWidth = 4096
    ds.PixelData = spine_frame(
        level=event.level or "L1", view=event.view.value, step=step, seed=pixel_seed
    )
    # X-Ray Acquisition
    fluoro = event.kind is EventKind.FLUOROSCOPY
    ds.KVP = round(event.kvp, 1)
    ds.RadiationSetting = "SC" if fluoro else "GR"
    ds.RadiationMode = "PULSED" if fluoro else "CONTINUOUS"
    ds.XRayTubeCurrent = round(event.tube_current_ma)
    ds.ExposureTime = round(event.duration_s * 1000)
    if event.pulse_width_ms is not None:
        ds.AveragePulseWidth = event.pulse_width_ms
    ds.ImagerPixelSpacing = [0.3, 0.3]
    ds.ImageAndFluoroscopyAreaDoseProduct = f"{event.dap_dgycm2:.4f}"
    # XA Positioner
    ds.DistanceSourceToDetector = 1100
    ds.DistanceSourceToPatient = 750
    ds.EstimatedRadiographicMagnificationFactor = f"{1100 / 750:.6f}"
    ds.PositionerMotion = "STATIC"
    ds.PositionerPrimaryAngle = event.view.primary_angle_deg
    ds.PositionerSecondaryAngle = 0
    ctx.images.append((XRayAngiographicImageStorage, sop_uid))
    return ds


def mpps_create(ctx: StudyContext) -> Dataset:
    """N-CREATE attributes of the MPPS, status IN PROGRESS (PS3.4 F.7.2.1, IHE RAD-6)."""
    item = ctx.item
    ds = Dataset()
    ds.SpecificCharacterSet = ctx.charset
    ssa = Dataset()
    ssa.StudyInstanceUID = item.study_uid
    ssa.ReferencedStudySequence = Sequence()
    ssa.AccessionNumber = item.accession
    ssa.RequestedProcedureID = item.requested_procedure_id
    ssa.RequestedProcedureDescription = item.requested_procedure_description[:64]
    ssa.ScheduledProcedureStepID = item.sps_id
    ssa.ScheduledProcedureStepDescription = item.sps_description[:64]
    ssa.ScheduledProtocolCodeSequence = Sequence()
    ds.ScheduledStepAttributesSequence = Sequence([ssa])
    ds.PatientName = item.patient_name
    ds.PatientID = item.patient_id
    ds.PatientBirthDate = item.birth_date
    ds.PatientSex = item.sex if item.sex in ("M", "F", "O") else ""
    ds.ReferencedPatientSequence = Sequence()
    ds.PerformedProcedureStepID = ctx.pps_id
    ds.PerformedStationAETitle = ctx.equipment.ae_title
    ds.PerformedStationName = ctx.equipment.station_name
    ds.PerformedLocation = ctx.location or item.location
    ds.PerformedProcedureStepStartDate = ctx.da(ctx.started_at)
    ds.PerformedProcedureStepStartTime = ctx.tm(ctx.started_at)
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
    ds.PerformedProcedureStepDescription = item.requested_procedure_description[:64]
    ds.PerformedProcedureTypeDescription = ""
    ds.ProcedureCodeSequence = Sequence()
    if item.procedure_code is not None:
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = item.procedure_code
        ds.ProcedureCodeSequence = Sequence([code])
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.Modality = "XA"
    ds.StudyID = ctx.study_id
    ds.PerformedProtocolCodeSequence = Sequence()
    ds.PerformedSeriesSequence = Sequence()
    return ds


# Performed Procedure Step Discontinuation Reason (CID 9300).
DISCONTINUATION_REASONS = {
    "unspecified": ("110513", "DCM", "Discontinued for unspecified reason"),
    "patient_condition": ("110515", "DCM", "Patient condition prevented continuing"),
    "equipment_failure": ("110501", "DCM", "Equipment failure"),
    "patient_refused": ("110505", "DCM", "Patient refused to continue procedure"),
}


def mpps_set(
    ctx: StudyContext,
    ledger: DoseLedger,
    *,
    ended_at: datetime,
    discontinued: str | None = None,
) -> Dataset:
    """N-SET attributes that end the step: COMPLETED (or DISCONTINUED with a reason from
    DISCONTINUATION_REASONS), the series performed, and the radiation dose (MPPS Radiation
    Dose module): total fluoroscopy time (s), number of exposures, DAP in dGy·cm², and the
    reference-point air kerma in Entrance Dose in mGy (0040,8302)."""
    ds = Dataset()
    ds.SpecificCharacterSet = ctx.charset
    ds.PerformedProcedureStepEndDate = ctx.da(ended_at)
    ds.PerformedProcedureStepEndTime = ctx.tm(ended_at)
    if discontinued is None:
        ds.PerformedProcedureStepStatus = "COMPLETED"
    else:
        ds.PerformedProcedureStepStatus = "DISCONTINUED"
        value, scheme, meaning = DISCONTINUATION_REASONS.get(
            discontinued, DISCONTINUATION_REASONS["unspecified"]
        )
        reason = Dataset()
        reason.CodeValue, reason.CodingSchemeDesignator, reason.CodeMeaning = value, scheme, meaning
        ds.PerformedProcedureStepDiscontinuationReasonCodeSequence = Sequence([reason])
    series: list[Dataset] = []
    for uid, description, refs, non_image in (
        (ctx.image_series_uid, "Vertebral augmentation fluoroscopy", ctx.images, False),
        (ctx.sr_series_uid, "Radiation dose report", ctx.dose_reports, True),
    ):
        if not refs:
            continue
        item = Dataset()
        item.PerformingPhysicianName = ctx.item.performing_physician
        item.ProtocolName = "Vertebral augmentation"
        item.OperatorsName = ctx.operator
        item.SeriesInstanceUID = uid
        item.SeriesDescription = description
        item.RetrieveAETitle = ""
        images = Sequence()
        others = Sequence()
        for sop_class, sop_instance in refs:
            ref = Dataset()
            ref.ReferencedSOPClassUID = sop_class
            ref.ReferencedSOPInstanceUID = sop_instance
            (others if non_image else images).append(ref)
        item.ReferencedImageSequence = images
        item.ReferencedNonImageCompositeSOPInstanceSequence = others
        series.append(item)
    ds.PerformedSeriesSequence = Sequence(series)
    # Radiation dose (PS3.3 C.4.16): totals of the same events as the RDSR.
    ds.TotalTimeOfFluoroscopy = round(ledger.fluoro_time_s)
    ds.TotalNumberOfExposures = ledger.acquisitions
    ds.DistanceSourceToDetector = 1100
    ds.EntranceDoseInmGy = f"{ledger.kerma_gy * 1000:.3f}"
    ds.ImageAndFluoroscopyAreaDoseProduct = f"{ledger.dap_gym2 * 100_000:.4f}"
    ds.CommentsOnRadiationDose = (
        "Entrance Dose in mGy is the air kerma at the interventional reference point "
        "(IEC 60601-2-43); area dose product in dGy.cm2"
    )
    exposures = Sequence()
    for event in ledger.events:
        exp = Dataset()
        exp.RadiationMode = "PULSED" if event.kind is EventKind.FLUOROSCOPY else "CONTINUOUS"
        exp.KVP = round(event.kvp, 1)
        exp.XRayTubeCurrentInuA = round(event.tube_current_ma * 1000, 1)
        exp.ExposureTime = round(event.duration_s * 1000)
        exp.FilterType = "NONE"
        exp.CommentsOnRadiationDose = f"{event.protocol} {event.view.value}"
        exposures.append(exp)
    ds.ExposureDoseSequence = exposures
    return ds
