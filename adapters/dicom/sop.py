"""The SOP classes and transfer syntaxes procsuite accepts (docs/dicom-conformance.md)."""

from __future__ import annotations

VERIFICATION = "1.2.840.10008.1.1"
MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
MPPS = "1.2.840.10008.3.1.2.3.3"

XA_IMAGE = "1.2.840.10008.5.1.4.1.1.12.1"
ENHANCED_XA_IMAGE = "1.2.840.10008.5.1.4.1.1.12.1.1"
RF_IMAGE = "1.2.840.10008.5.1.4.1.1.12.2"
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
DX_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
XRAY_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"

STORAGE_CLASSES: dict[str, str] = {
    XA_IMAGE: "X-Ray Angiographic Image Storage",
    ENHANCED_XA_IMAGE: "Enhanced XA Image Storage",
    RF_IMAGE: "X-Ray Radiofluoroscopic Image Storage",
    DX_PRESENTATION: "Digital X-Ray Image Storage - For Presentation",
    DX_PROCESSING: "Digital X-Ray Image Storage - For Processing",
    CR_IMAGE: "Computed Radiography Image Storage",
    CT_IMAGE: "CT Image Storage",
    ENHANCED_CT_IMAGE: "Enhanced CT Image Storage",
    SECONDARY_CAPTURE: "Secondary Capture Image Storage",
    XRAY_DOSE_SR: "X-Ray Radiation Dose SR Storage",
}

# Images of the patient taken during the case: linked to the open step, and one received
# after the last cement injection lets the imaging check go ahead. Secondary captures (often
# screenshots of dose or reports) and SR documents are kept with the case but never count
# as an image of the patient.
PATIENT_IMAGE_CLASSES = frozenset(
    {
        XA_IMAGE,
        ENHANCED_XA_IMAGE,
        RF_IMAGE,
        DX_PRESENTATION,
        DX_PROCESSING,
        CR_IMAGE,
        CT_IMAGE,
        ENHANCED_CT_IMAGE,
    }
)
# Image objects that must carry pixel data (a missing one means a truncated object).
PIXEL_CLASSES = PATIENT_IMAGE_CLASSES | {SECONDARY_CAPTURE}

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"

UNCOMPRESSED = (EXPLICIT_LE, IMPLICIT_LE)
STORAGE_TRANSFER_SYNTAXES: dict[str, str] = {
    EXPLICIT_LE: "Explicit VR Little Endian",
    IMPLICIT_LE: "Implicit VR Little Endian",
    JPEG_BASELINE: "JPEG Baseline (Process 1)",
    JPEG_EXTENDED: "JPEG Extended (Process 2 & 4)",
    JPEG_LOSSLESS: "JPEG Lossless, Non-Hierarchical (Process 14)",
    JPEG_LOSSLESS_SV1: "JPEG Lossless, First-Order Prediction (Process 14 SV1)",
    RLE_LOSSLESS: "RLE Lossless",
}


def storage_name(sop_class_uid: str) -> str:
    return STORAGE_CLASSES.get(sop_class_uid, sop_class_uid)
