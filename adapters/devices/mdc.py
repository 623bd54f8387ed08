"""The one IEEE 11073-10101 (MDC) code table of the device paths: MDC metric + unit -> Param.

PCD-01 (HL7 v2 OBX-3 / OBX-6) and SDC (descriptor Type.Code / Unit.Code) both name a
measurement by an MDC code and its unit by an MDC unit code (or, in HL7, by UCUM beside it).
`map_metric` turns one such reading into procsuite's parameter and canonical unit
(docs/devices.md repeats the table for people, ../shared/DEVICES.md is its source).

Codes are accepted as the numeric partition code (150456, "150456"), or the reference id
("MDC_PULS_OXIM_SAT_O2"). Units additionally as the 16-bit term code (3872 for mmHg is what
some gateways send instead of 266016) and as UCUM ("mm[Hg]", "kPa", "%", "Cel").

Conversions (sources in docs/clinical-defaults.md):
  kPa -> mmHg: x 7.50062 (1 kPa = 7.50062 mmHg, by definition of the mmHg).
  EtCO2 % -> mmHg: x 7.60 (percent of one standard atmosphere, 760 mmHg, which is how
  capnographs convert when they report volume percent at sea level).
  degF -> degC: (x - 32) / 1.8.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from suite.domain.alarms.parameters import Param

__all__ = [
    "CODES",
    "FALLBACK_CODES",
    "MappedValue",
    "MdcMetric",
    "UnitError",
    "map_metric",
    "metric_of",
]

MMHG_PER_KPA = 7.50062
MMHG_PER_VOL_PERCENT_CO2 = 7.60  # 760 mmHg / 100 %: one standard atmosphere


class UnitError(ValueError):
    """A known MDC metric came with a unit procsuite cannot read for it."""

    def __init__(self, code: str | int, unit: str | int | None, expected: str) -> None:
        self.code = code
        self.unit = unit
        super().__init__(
            f"MDC code {code}: unit {unit!r} is not a unit of this metric (expected {expected})"
        )


class Dim(StrEnum):
    """The unit families the table knows."""

    PERCENT = "%"
    BEAT_PER_MIN = "{beat}/min"
    RESP_PER_MIN = "{breath}/min"
    PER_MIN = "/min"
    MMHG = "mm[Hg]"
    KPA = "kPa"
    DEGC = "Cel"
    DEGF = "[degF]"


@dataclass(frozen=True, slots=True)
class MdcMetric:
    """One MDC metric procsuite reads: its codes, the parameter, and the units it accepts."""

    numeric: int
    ref_id: str
    param: Param
    units: tuple[Dim, ...]  # the first is the canonical one, in which Param is stored


@dataclass(frozen=True, slots=True)
class MappedValue:
    """A reading translated to procsuite: the parameter and its value in the canonical unit."""

    param: Param
    value: float


_RATE = (Dim.BEAT_PER_MIN, Dim.PER_MIN)
_RESP = (Dim.RESP_PER_MIN, Dim.PER_MIN)
_PRESS = (Dim.MMHG, Dim.KPA)

CODES: tuple[MdcMetric, ...] = (
    MdcMetric(147842, "MDC_ECG_HEART_RATE", Param.HR, _RATE),
    MdcMetric(149530, "MDC_PULS_OXIM_PULS_RATE", Param.HR, _RATE),
    MdcMetric(149546, "MDC_PULS_RATE_NON_INV", Param.HR, _RATE),
    MdcMetric(150456, "MDC_PULS_OXIM_SAT_O2", Param.SPO2, (Dim.PERCENT,)),
    MdcMetric(150021, "MDC_PRESS_BLD_NONINV_SYS", Param.NIBP_SYS, _PRESS),
    MdcMetric(150022, "MDC_PRESS_BLD_NONINV_DIA", Param.NIBP_DIA, _PRESS),
    MdcMetric(150023, "MDC_PRESS_BLD_NONINV_MEAN", Param.NIBP_MAP, _PRESS),
    MdcMetric(150301, "MDC_PRESS_CUFF_SYS", Param.NIBP_SYS, _PRESS),
    MdcMetric(150302, "MDC_PRESS_CUFF_DIA", Param.NIBP_DIA, _PRESS),
    MdcMetric(150303, "MDC_PRESS_CUFF_MEAN", Param.NIBP_MAP, _PRESS),
    MdcMetric(151562, "MDC_RESP_RATE", Param.RR, _RESP),
    MdcMetric(151578, "MDC_TTHOR_RESP_RATE", Param.RR, _RESP),
    MdcMetric(151594, "MDC_CO2_RESP_RATE", Param.RR, _RESP),
    MdcMetric(151708, "MDC_AWAY_CO2_ET", Param.ETCO2, (Dim.MMHG, Dim.KPA, Dim.PERCENT)),
    MdcMetric(150344, "MDC_TEMP", Param.TEMP, (Dim.DEGC, Dim.DEGF)),
    MdcMetric(150364, "MDC_TEMP_BODY", Param.TEMP, (Dim.DEGC, Dim.DEGF)),
)

# Secondary sources of a parameter: used only when the message has no primary one
# (the SpO2 probe's pulse rate is the heart rate when no ECG is attached).
FALLBACK_CODES: frozenset[int] = frozenset({149530, 149546, 151578, 151594})

_BY_NUMERIC = {m.numeric: m for m in CODES}
_BY_REF = {m.ref_id: m for m in CODES}

_PARTITION_DIM = 4 * 65536  # MDC unit codes live in partition 4 (DIM)
_UNITS: dict[int | str, Dim] = {}
for _dim, _numeric, _names in (
    (Dim.PERCENT, 262688, ("MDC_DIM_PERCENT", "%", "PCT")),
    (Dim.BEAT_PER_MIN, 264864, ("MDC_DIM_BEAT_PER_MIN", "{beat}/min", "{beats}/min", "bpm")),
    (Dim.RESP_PER_MIN, 264928, ("MDC_DIM_RESP_PER_MIN", "{breath}/min", "{resp}/min", "rpm")),
    (Dim.PER_MIN, None, ("/min", "1/min", "min-1")),  # UCUM only
    (Dim.MMHG, 266016, ("MDC_DIM_MMHG", "mm[Hg]", "mmHg", "mm Hg")),
    (Dim.KPA, 265987, ("MDC_DIM_KILO_PA", "kPa", "KPA")),
    (Dim.DEGC, 268192, ("MDC_DIM_DEGC", "Cel", "degC", "°C", "C")),
    (Dim.DEGF, 266560, ("MDC_DIM_FAHR", "[degF]", "degF", "°F", "F")),
):
    if _numeric is not None:
        _UNITS[_numeric] = _dim
        _UNITS[_numeric - _PARTITION_DIM] = _dim  # the bare term code (3872 = mmHg)
    for _name in _names:
        _UNITS[_name] = _dim
        _UNITS[_name.lower()] = _dim

_TO_CANONICAL: dict[tuple[Dim, Dim], Callable[[float], float]] = {
    (Dim.KPA, Dim.MMHG): lambda v: v * MMHG_PER_KPA,
    (Dim.PERCENT, Dim.MMHG): lambda v: v * MMHG_PER_VOL_PERCENT_CO2,
    (Dim.DEGF, Dim.DEGC): lambda v: (v - 32.0) / 1.8,
}


def _as_int(text: str | int) -> int | None:
    if isinstance(text, int):
        return text
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else None


def metric_of(code: str | int) -> MdcMetric | None:
    """The table row for `code` (numeric or reference id), or None when procsuite doesn't read it."""
    number = _as_int(code)
    if number is not None:
        return _BY_NUMERIC.get(number)
    return _BY_REF.get(str(code).strip().upper())


def _dim_of(unit: str | int) -> Dim | None:
    number = _as_int(unit)
    if number is not None:
        return _UNITS.get(number)
    text = str(unit).strip()
    return _UNITS.get(text) or _UNITS.get(text.lower())


def map_metric(code: str | int, unit: str | int | None, value: float) -> MappedValue | None:
    """`value` of MDC metric `code` in `unit` as procsuite's parameter in its canonical unit.

    Returns None when `code` is not a metric procsuite reads (the caller counts it and keeps
    the raw message). A missing unit (None or "") is read as the canonical unit only where
    that cannot be mistaken (%, rates); pressures and temperatures must name theirs.

    Raises:
        UnitError: the unit is unknown, missing where required, or not one of this metric's.
    """
    metric = metric_of(code)
    if metric is None:
        return None
    canonical = metric.units[0]
    expected = " or ".join(str(d) for d in metric.units)
    if unit is None or (isinstance(unit, str) and not unit.strip()):
        if canonical in (Dim.MMHG, Dim.DEGC):
            raise UnitError(code, unit, expected)
        return MappedValue(metric.param, float(value))
    dim = _dim_of(unit)
    if dim is None or dim not in metric.units:
        raise UnitError(code, unit, expected)
    if dim == canonical or dim == Dim.PER_MIN or canonical == Dim.PER_MIN:
        return MappedValue(metric.param, float(value))
    return MappedValue(metric.param, _TO_CANONICAL[(dim, canonical)](float(value)))
