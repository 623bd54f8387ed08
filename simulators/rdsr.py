"""The X-Ray Radiation Dose SR of a procedure step (PS3.16 TID 10001, Projection X-Ray).

Content tree (codes DCM unless marked):

    CONTAINER 113701 X-Ray Radiation Dose Report                       (TID 10001)
      HAS CONCEPT MOD  121058 Procedure reported = 113704 Projection X-Ray
        HAS CONCEPT MOD  363703001 SCT Has Intent = 262202000 SCT Therapeutic Intent
      HAS OBS CONTEXT  121005 Observer Type = 121007 Device            (TID 1002/1004)
      HAS OBS CONTEXT  121012 Device Observer UID, 121013 name, 121014 manufacturer,
                       121015 model, 121016 serial number, 121017 location,
                       113876 Device Role in Procedure = 113859 Irradiating Device
      HAS OBS CONTEXT  113705 Scope of Accumulation = 113014 Study
        HAS PROPERTIES   110180 Study Instance UID
      CONTAINS CONTAINER 113702 Accumulated X-Ray Dose Data            (TID 10002)
        HAS CONCEPT MOD  113764 Acquisition Plane = 113622 Single Plane
        CONTAINS NUM     113726 Fluoro Dose Area Product Total (Gy.m2)  (TID 10004)
                         113728 Fluoro Dose (RP) Total (Gy), 113730 Total Fluoro Time (s),
                         113727 Acquisition Dose Area Product Total (Gy.m2),
                         113729 Acquisition Dose (RP) Total (Gy),
                         113855 Total Acquisition Time (s)
        CONTAINS NUM     113722 Dose Area Product Total (Gy.m2)          (TID 10007)
                         113725 Dose (RP) Total (Gy),
                         113731 Total Number of Radiographic Frames ({X-Ray Frames})
        CONTAINS CODE    113780 Reference Point Definition = 113860 15cm from Isocenter
                         toward Source
      CONTAINS CONTAINER 113706 Irradiation Event X-Ray Data (one per event) (TID 10003)
        acquisition plane, 113769 Irradiation Event UID, 111526 DateTime Started,
        113721 Irradiation Event Type (44491008 SCT Fluoroscopy / 113611 Stationary
        Acquisition), 125203 Acquisition Protocol, 123014 Target Region,
        122130 Dose Area Product, 113738 Dose (RP), 113780 Reference Point Definition,
        112011/112012 Positioner Primary/Secondary Angle, 113742 Irradiation Duration,
        113733 KVP, 113734 X-Ray Tube Current, 113791 Pulse Rate, 113768 Number of Pulses,
        113793 Pulse Width
      CONTAINS CODE    113854 Source of Dose Information = 113856 Automated Data Collection
"""

from __future__ import annotations

import math
from datetime import datetime

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import XRayRadiationDoseSRStorage, generate_uid

from simulators.dicom_objects import (
    StudyContext,
    equipment_attributes,
    file_meta,
    patient_and_study,
    pps_reference,
)
from simulators.fluoro_dose import DoseLedger, EventKind, IrradiationEvent

Code = tuple[str, str, str]

REPORT: Code = ("113701", "DCM", "X-Ray Radiation Dose Report")
PROCEDURE_REPORTED: Code = ("121058", "DCM", "Procedure reported")
PROJECTION_XRAY: Code = ("113704", "DCM", "Projection X-Ray")
HAS_INTENT: Code = ("363703001", "SCT", "Has Intent")
THERAPEUTIC: Code = ("262202000", "SCT", "Therapeutic Intent")
SINGLE_PLANE: Code = ("113622", "DCM", "Single Plane")
ACQUISITION_PLANE: Code = ("113764", "DCM", "Acquisition Plane")
REFERENCE_POINT: Code = ("113780", "DCM", "Reference Point Definition")
IRP_15CM: Code = ("113860", "DCM", "15cm from Isocenter toward Source")
FLUOROSCOPY: Code = ("44491008", "SCT", "Fluoroscopy")
STATIONARY: Code = ("113611", "DCM", "Stationary Acquisition")
SPINE_REGIONS: dict[str, Code] = {
    "C": ("122494005", "SCT", "Cervical spine"),
    "T": ("122495006", "SCT", "Thoracic spine"),
    "L": ("122496007", "SCT", "Lumbar spine"),
    "S": ("54735007", "SCT", "Sacrum"),
}

GY_M2: Code = ("Gy.m2", "UCUM", "Gy.m2")
GY: Code = ("Gy", "UCUM", "Gy")
SECONDS: Code = ("s", "UCUM", "s")
DEG: Code = ("deg", "UCUM", "deg")
KV: Code = ("kV", "UCUM", "kV")
MA: Code = ("mA", "UCUM", "mA")
MS: Code = ("ms", "UCUM", "ms")
PULSES_PER_S: Code = ("{pulse}/s", "UCUM", "pulse/s")
PULSES: Code = ("{pulses}", "UCUM", "pulses")
FRAMES: Code = ("{X-Ray Frames}", "UCUM", "X-Ray Frames")


def _code(code: Code) -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator, ds.CodeMeaning = code
    return ds


def _item(relationship: str, value_type: str, name: Code) -> Dataset:
    ds = Dataset()
    ds.RelationshipType = relationship
    ds.ValueType = value_type
    ds.ConceptNameCodeSequence = Sequence([_code(name)])
    return ds


def container(relationship: str, name: Code, children: list[Dataset]) -> Dataset:
    ds = _item(relationship, "CONTAINER", name)
    ds.ContinuityOfContent = "SEPARATE"
    ds.ContentSequence = Sequence(children)
    return ds


def code_item(
    relationship: str, name: Code, value: Code, children: list[Dataset] | None = None
) -> Dataset:
    ds = _item(relationship, "CODE", name)
    ds.ConceptCodeSequence = Sequence([_code(value)])
    if children:
        ds.ContentSequence = Sequence(children)
    return ds


def num(relationship: str, name: Code, value: float, unit: Code) -> Dataset:
    ds = _item(relationship, "NUM", name)
    measured = Dataset()
    measured.MeasurementUnitsCodeSequence = Sequence([_code(unit)])
    measured.NumericValue = _ds(value)
    ds.MeasuredValueSequence = Sequence([measured])
    return ds


def _ds(value: float) -> str:
    """A Decimal String (at most 16 characters), fixed-point where that keeps 6 significant
    digits (0.0000735 rather than 7.35e-05), else exponent form."""
    if value == 0:
        return "0"
    digits = max(0, 6 - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if len(text) <= 16 else f"{value:.6e}"


def text(relationship: str, name: Code, value: str) -> Dataset:
    ds = _item(relationship, "TEXT", name)
    ds.TextValue = value
    return ds


def uidref(
    relationship: str, name: Code, value: str, children: list[Dataset] | None = None
) -> Dataset:
    ds = _item(relationship, "UIDREF", name)
    ds.UID = value
    if children:
        ds.ContentSequence = Sequence(children)
    return ds


def datetime_item(relationship: str, name: Code, value: str) -> Dataset:
    ds = _item(relationship, "DATETIME", name)
    ds.DateTime = value
    return ds


def _observer(ctx: StudyContext) -> list[Dataset]:
    eq = ctx.equipment
    ctxt = "HAS OBS CONTEXT"
    items = [
        code_item(ctxt, ("121005", "DCM", "Observer Type"), ("121007", "DCM", "Device")),
        uidref(ctxt, ("121012", "DCM", "Device Observer UID"), eq.device_uid),
        text(ctxt, ("121013", "DCM", "Device Observer Name"), eq.station_name),
        text(ctxt, ("121014", "DCM", "Device Observer Manufacturer"), eq.manufacturer),
        text(ctxt, ("121015", "DCM", "Device Observer Model Name"), eq.model),
        text(ctxt, ("121016", "DCM", "Device Observer Serial Number"), eq.serial_number),
    ]
    location = ctx.location or ctx.item.location
    if location:
        items.append(
            text(
                ctxt,
                ("121017", "DCM", "Device Observer Physical Location During Observation"),
                location,
            )
        )
    items.append(
        code_item(
            ctxt,
            ("113876", "DCM", "Device Role in Procedure"),
            ("113859", "DCM", "Irradiating Device"),
        )
    )
    return items


def _accumulated(ledger: DoseLedger) -> Dataset:
    c = "CONTAINS"
    return container(
        c,
        ("113702", "DCM", "Accumulated X-Ray Dose Data"),
        [
            code_item("HAS CONCEPT MOD", ACQUISITION_PLANE, SINGLE_PLANE),
            num(
                c,
                ("113726", "DCM", "Fluoro Dose Area Product Total"),
                ledger.fluoro_dap_gym2,
                GY_M2,
            ),
            num(c, ("113728", "DCM", "Fluoro Dose (RP) Total"), ledger.fluoro_kerma_gy, GY),
            num(c, ("113730", "DCM", "Total Fluoro Time"), ledger.fluoro_time_s, SECONDS),
            num(
                c,
                ("113727", "DCM", "Acquisition Dose Area Product Total"),
                ledger.acquisition_dap_gym2,
                GY_M2,
            ),
            num(
                c, ("113729", "DCM", "Acquisition Dose (RP) Total"), ledger.acquisition_kerma_gy, GY
            ),
            num(c, ("113855", "DCM", "Total Acquisition Time"), ledger.acquisition_time_s, SECONDS),
            num(c, ("113722", "DCM", "Dose Area Product Total"), ledger.dap_gym2, GY_M2),
            num(c, ("113725", "DCM", "Dose (RP) Total"), ledger.kerma_gy, GY),
            num(
                c,
                ("113731", "DCM", "Total Number of Radiographic Frames"),
                ledger.radiographic_frames,
                FRAMES,
            ),
            code_item(c, REFERENCE_POINT, IRP_15CM),
        ],
    )


def _event(ctx: StudyContext, event: IrradiationEvent) -> Dataset:
    c = "CONTAINS"
    fluoro = event.kind is EventKind.FLUOROSCOPY
    children = [
        code_item("HAS CONCEPT MOD", ACQUISITION_PLANE, SINGLE_PLANE),
        uidref(c, ("113769", "DCM", "Irradiation Event UID"), event.uid),
        datetime_item(c, ("111526", "DCM", "DateTime Started"), ctx.dt(event.started_at)),
        code_item(
            c, ("113721", "DCM", "Irradiation Event Type"), FLUOROSCOPY if fluoro else STATIONARY
        ),
        text(c, ("125203", "DCM", "Acquisition Protocol"), event.protocol),
    ]
    region = SPINE_REGIONS.get(event.level[:1].upper()) if event.level else None
    if region is not None:
        children.append(code_item(c, ("123014", "DCM", "Target Region"), region))
    children += [
        num(c, ("122130", "DCM", "Dose Area Product"), event.dap_gym2, GY_M2),
        num(c, ("113738", "DCM", "Dose (RP)"), event.kerma_gy, GY),
        code_item(c, REFERENCE_POINT, IRP_15CM),
        num(c, ("112011", "DCM", "Positioner Primary Angle"), event.view.primary_angle_deg, DEG),
        num(c, ("112012", "DCM", "Positioner Secondary Angle"), 0.0, DEG),
        num(c, ("113742", "DCM", "Irradiation Duration"), event.duration_s, SECONDS),
        num(c, ("113733", "DCM", "KVP"), event.kvp, KV),
        num(c, ("113734", "DCM", "X-Ray Tube Current"), event.tube_current_ma, MA),
    ]
    if event.pulse_rate_per_s is not None:
        children.append(
            num(c, ("113791", "DCM", "Pulse Rate"), event.pulse_rate_per_s, PULSES_PER_S)
        )
    children.append(num(c, ("113768", "DCM", "Number of Pulses"), event.pulses, PULSES))
    if event.pulse_width_ms is not None:
        children.append(num(c, ("113793", "DCM", "Pulse Width"), event.pulse_width_ms, MS))
    return container(c, ("113706", "DCM", "Irradiation Event X-Ray Data"), children)


def dose_report(
    ctx: StudyContext, ledger: DoseLedger, *, at: datetime, instance_number: int = 1
) -> Dataset:
    """The RDSR of everything in `ledger`; it is added to `ctx.dose_reports`."""
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = file_meta(XRayRadiationDoseSRStorage, sop_uid)
    ds.SpecificCharacterSet = ctx.charset
    ds.SOPClassUID = XRayRadiationDoseSRStorage
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = ctx.da(at)
    ds.InstanceCreationTime = ctx.tm(at)
    ds.TimezoneOffsetFromUTC = ctx.utc_offset()
    patient_and_study(ds, ctx)
    # SR Document Series
    ds.Modality = "SR"
    ds.SeriesInstanceUID = ctx.sr_series_uid
    ds.SeriesNumber = 999
    ds.SeriesDescription = "Radiation dose report"
    ds.ReferencedPerformedProcedureStepSequence = pps_reference(ctx)
    equipment_attributes(ds, ctx)
    # SR Document General
    ds.InstanceNumber = instance_number
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ContentDate = ctx.da(at)
    ds.ContentTime = ctx.tm(at)
    request = Dataset()
    request.StudyInstanceUID = ctx.item.study_uid
    request.ReferencedStudySequence = Sequence()
    request.AccessionNumber = ctx.item.accession
    request.RequestedProcedureID = ctx.item.requested_procedure_id
    request.RequestedProcedureDescription = ctx.item.requested_procedure_description[:64]
    request.RequestedProcedureCodeSequence = Sequence()
    request.PlacerOrderNumberImagingServiceRequest = ""
    request.FillerOrderNumberImagingServiceRequest = ""
    ds.ReferencedRequestSequence = Sequence([request])
    ds.PerformedProcedureCodeSequence = Sequence()
    # SR Document Content: the TID 10001 tree
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_code(REPORT)])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "10001"
    ds.ContentTemplateSequence = Sequence([template])
    started = ledger.first_start() or at
    ended = ledger.last_end() or at
    content = [
        code_item(
            "HAS CONCEPT MOD",
            PROCEDURE_REPORTED,
            PROJECTION_XRAY,
            [code_item("HAS CONCEPT MOD", HAS_INTENT, THERAPEUTIC)],
        ),
        *_observer(ctx),
        datetime_item(
            "HAS OBS CONTEXT", ("113809", "DCM", "Start of X-Ray Irradiation"), ctx.dt(started)
        ),
        datetime_item(
            "HAS OBS CONTEXT", ("113810", "DCM", "End of X-Ray Irradiation"), ctx.dt(ended)
        ),
        code_item(
            "HAS OBS CONTEXT",
            ("113705", "DCM", "Scope of Accumulation"),
            ("113014", "DCM", "Study"),
            [uidref("HAS PROPERTIES", ("110180", "DCM", "Study Instance UID"), ctx.item.study_uid)],
        ),
        _accumulated(ledger),
        *(_event(ctx, e) for e in ledger.events),
        code_item(
            "CONTAINS",
            ("113854", "DCM", "Source of Dose Information"),
            ("113856", "DCM", "Automated Data Collection"),
        ),
    ]
    ds.ContentSequence = Sequence(content)
    ctx.dose_reports.append((XRayRadiationDoseSRStorage, sop_uid))
    return ds
