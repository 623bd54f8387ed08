"""The accumulated dose of an X-Ray Radiation Dose SR (PS3.16 TID 10001 / 10002).

Reads the "Accumulated X-Ray Dose Data" containers (one per acquisition plane) of a
projection X-ray dose report and adds the planes up:

- dose area product: "Dose Area Product Total" (113722), or the fluoro and acquisition DAP
  totals (113726 + 113727) when the total is missing;
- reference air kerma: "Dose (RP) Total" (113725), or fluoro + acquisition (113728 + 113729);
- fluoroscopy time: "Total Fluoro Time" (113730).

Units are converted from the UCUM units of each measurement (an RDSR reports DAP in Gy·m²).
A CT dose report has no projection X-ray accumulated data: it gives no totals here.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

from adapters.dicom.elements import ElementError, code_value, items, number, text, uid
from suite.errors import WireError

_VALUE_TYPE = 0x0040A040
_CONCEPT_NAME = 0x0040A043
_CONTENT = 0x0040A730
_MEASURED_VALUE = 0x0040A300
_NUMERIC_VALUE = 0x0040A30A
_UNITS = 0x004008EA
_UID = 0x0040A124
_STUDY_UID = 0x0020000D
_SERIAL = 0x00181000
_MANUFACTURER = 0x00080070
_STATION = 0x00081010

REPORT = "113701"  # X-Ray Radiation Dose Report
ACCUMULATED = "113702"  # Accumulated X-Ray Dose Data
DAP_TOTAL = "113722"
FLUORO_DAP_TOTAL = "113726"
ACQUISITION_DAP_TOTAL = "113727"
RP_TOTAL = "113725"
FLUORO_RP_TOTAL = "113728"
ACQUISITION_RP_TOTAL = "113729"
FLUORO_TIME = "113730"
DEVICE_OBSERVER_UID = "121012"
STUDY_INSTANCE_UID = "110180"

_MAX_DEPTH = 12

# UCUM unit -> factor to procsuite's unit (Gy·cm², mGy, s)
_DAP_UNITS = {
    "Gy.m2": 1e4,
    "dGy.m2": 1e3,
    "cGy.m2": 1e2,
    "mGy.m2": 10.0,
    "uGy.m2": 1e-2,
    "Gy.cm2": 1.0,
    "dGy.cm2": 0.1,
    "cGy.cm2": 1e-2,
    "mGy.cm2": 1e-3,
    "uGy.cm2": 1e-6,
}
_DOSE_UNITS = {"Gy": 1000.0, "dGy": 100.0, "cGy": 10.0, "mGy": 1.0, "uGy": 1e-3}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0}
_UNITS_OF = {
    DAP_TOTAL: _DAP_UNITS,
    FLUORO_DAP_TOTAL: _DAP_UNITS,
    ACQUISITION_DAP_TOTAL: _DAP_UNITS,
    RP_TOTAL: _DOSE_UNITS,
    FLUORO_RP_TOTAL: _DOSE_UNITS,
    ACQUISITION_RP_TOTAL: _DOSE_UNITS,
    FLUORO_TIME: _TIME_UNITS,
}


class RdsrError(WireError, ValueError):
    """The document is not a readable projection X-ray dose report; says what is wrong."""


@dataclass(frozen=True, slots=True)
class RdsrTotals:
    """The accumulated dose a report states, for the device and study it covers."""

    device: str
    scope_uid: str
    fluoro_time_s: float | None
    dap_gy_cm2: float | None
    air_kerma_mgy: float | None
    planes: int


def _concept(item: Dataset) -> str:
    return code_value(item, _CONCEPT_NAME)[0]


def _children(item: Dataset) -> list[Dataset]:
    return items(item, _CONTENT)


def _walk(item: Dataset, depth: int = 0) -> list[Dataset]:
    """Every content item below `item`, depth first."""
    if depth > _MAX_DEPTH:
        raise RdsrError(f"content tree deeper than {_MAX_DEPTH} levels")
    found: list[Dataset] = []
    for child in _children(item):
        found.append(child)
        found.extend(_walk(child, depth + 1))
    return found


def _measurement(item: Dataset, concept: str) -> float | None:
    for measured in items(item, _MEASURED_VALUE):
        value = number(measured, _NUMERIC_VALUE, what=f"NUM ({concept}, DCM)")
        if value is None:
            return None
        unit = code_value(measured, _UNITS)[0]
        factor = _UNITS_OF[concept].get(unit)
        if factor is None:
            raise RdsrError(f"NUM ({concept}, DCM): unit {unit!r} is not one procsuite converts")
        if value < 0:
            raise RdsrError(f"NUM ({concept}, DCM): negative value {value}")
        return value * factor
    return None


def _plane(container: Dataset) -> dict[str, float]:
    values: dict[str, float] = {}
    for item in _walk(container):
        if text(item, _VALUE_TYPE) != "NUM":
            continue
        concept = _concept(item)
        if concept in _UNITS_OF:
            value = _measurement(item, concept)
            if value is not None:
                values[concept] = value
    return values


def _either(values: dict[str, float], total: str, *parts: str) -> float | None:
    if total in values:
        return values[total]
    found = [values[p] for p in parts if p in values]
    return sum(found) if found else None


def _sum(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def parse_rdsr(ds: Dataset, *, fallback_device: str) -> RdsrTotals | None:
    """The totals of a projection X-ray dose report; None when it has no such data (CT).

    Raises `RdsrError` when the document is not an X-ray dose report or a value is unreadable.
    """
    try:
        if text(ds, _VALUE_TYPE) != "CONTAINER" or _concept(ds) != REPORT:
            raise RdsrError(
                "root content item is not the container (113701, DCM) X-Ray Radiation Dose Report"
            )
        content = _walk(ds)
        planes = [
            _plane(item)
            for item in content
            if text(item, _VALUE_TYPE) == "CONTAINER" and _concept(item) == ACCUMULATED
        ]
        if not planes:
            return None
        device = ""
        scope = ""
        for item in _children(ds):
            if text(item, _VALUE_TYPE) != "UIDREF":
                continue
            if _concept(item) == DEVICE_OBSERVER_UID and not device:
                device = uid(item, _UID)
        for item in content:
            if text(item, _VALUE_TYPE) == "UIDREF" and _concept(item) == STUDY_INSTANCE_UID:
                scope = uid(item, _UID)
                break
        if not device:
            serial = text(ds, _SERIAL)
            device = f"{text(ds, _MANUFACTURER)}:{serial}" if serial else ""
        return RdsrTotals(
            device=device or text(ds, _STATION) or fallback_device,
            scope_uid=scope or uid(ds, _STUDY_UID),
            dap_gy_cm2=_sum(
                [_either(p, DAP_TOTAL, FLUORO_DAP_TOTAL, ACQUISITION_DAP_TOTAL) for p in planes]
            ),
            air_kerma_mgy=_sum(
                [_either(p, RP_TOTAL, FLUORO_RP_TOTAL, ACQUISITION_RP_TOTAL) for p in planes]
            ),
            fluoro_time_s=_sum([p.get(FLUORO_TIME) for p in planes]),
            planes=len(planes),
        )
    except ElementError as exc:
        raise RdsrError(str(exc)) from exc
