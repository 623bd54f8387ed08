"""The vital-sign parameters procsuite understands: the one table in code.

The MQTT codec, the alarm engine, the vitals store and the HL7 ORU builder all read this
table, so a parameter's wire key, unit, IEEE 11073-10101 code and LOINC code are written
down once. docs/mqtt.md and docs/clinical-defaults.md repeat it for people.

Codes: IEEE 11073-10101 numeric codes are partition 2 (SCADA) codes, i.e. 2 * 65536 + term
code, as HL7 v2 OBX-3 carries them ("150456^MDC_PULS_OXIM_SAT_O2^MDC"); units likewise
("262688^MDC_DIM_PERCENT^MDC"). LOINC codes are those of the vital-signs panel (85353-1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Param(StrEnum):
    """A vital-sign parameter; the value is its key in the MQTT JSON payload."""

    HR = "hr"
    SPO2 = "spo2"
    NIBP_SYS = "nibp_sys"
    NIBP_DIA = "nibp_dia"
    NIBP_MAP = "nibp_map"
    RR = "rr"
    ETCO2 = "etco2"
    TEMP = "temp"


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """Everything the edges need to know about one parameter."""

    param: Param
    label: str  # for people: "SpO2"
    unit: str  # display unit: "%", "/min", "mmHg", "°C"
    ucum: str  # UCUM code for HL7 / FHIR: "%", "/min", "mm[Hg]", "Cel"
    mdc_code: str  # IEEE 11073-10101 reference id
    mdc_numeric: int  # its numeric code (partition 2)
    mdc_unit: str  # IEEE 11073 unit reference id
    mdc_unit_numeric: int
    loinc: str
    loinc_name: str
    # Values outside [physical_min, physical_max] cannot be a measurement of a living
    # patient in this unit (SpO2 150 %, heart rate -5): they are device or wiring faults.
    physical_min: float
    physical_max: float
    decimals: int = 0  # how many decimals a display shows

    def is_plausible(self, value: float) -> bool:
        """Whether `value` is a finite number inside the physical range."""
        return math.isfinite(value) and self.physical_min <= value <= self.physical_max

    def format(self, value: float | None) -> str:
        """`value` with its unit for a message, e.g. "86 %" or "36.4 °C"."""
        if value is None:
            return "no reading"
        sep = "" if self.unit.startswith("/") else " "
        return f"{value:.{self.decimals}f}{sep}{self.unit}"


PARAMETERS: dict[Param, ParamInfo] = {
    info.param: info
    for info in (
        ParamInfo(
            Param.HR, "HR", "/min", "/min", "MDC_ECG_HEART_RATE", 147842,
            "MDC_DIM_BEAT_PER_MIN", 264864, "8867-4", "Heart rate", 0, 350,
        ),
        ParamInfo(
            Param.SPO2, "SpO2", "%", "%", "MDC_PULS_OXIM_SAT_O2", 150456,
            "MDC_DIM_PERCENT", 262688, "59408-5",
            "Oxygen saturation in Arterial blood by Pulse oximetry", 0, 100,
        ),
        ParamInfo(
            Param.NIBP_SYS, "NIBP sys", "mmHg", "mm[Hg]", "MDC_PRESS_BLD_NONINV_SYS", 150021,
            "MDC_DIM_MMHG", 266016, "8480-6", "Systolic blood pressure", 0, 300,
        ),
        ParamInfo(
            Param.NIBP_DIA, "NIBP dia", "mmHg", "mm[Hg]", "MDC_PRESS_BLD_NONINV_DIA", 150022,
            "MDC_DIM_MMHG", 266016, "8462-4", "Diastolic blood pressure", 0, 300,
        ),
        ParamInfo(
            Param.NIBP_MAP, "NIBP mean", "mmHg", "mm[Hg]", "MDC_PRESS_BLD_NONINV_MEAN", 150023,
            "MDC_DIM_MMHG", 266016, "8478-0", "Mean blood pressure", 0, 300,
        ),
        ParamInfo(
            Param.RR, "RR", "/min", "/min", "MDC_RESP_RATE", 151562,
            "MDC_DIM_RESP_PER_MIN", 264928, "9279-1", "Respiratory rate", 0, 150,
        ),
        ParamInfo(
            Param.ETCO2, "EtCO2", "mmHg", "mm[Hg]", "MDC_AWAY_CO2_ET", 151708,
            "MDC_DIM_MMHG", 266016, "19889-5",
            "Carbon dioxide [Partial pressure] in Exhaled gas --at end expiration", 0, 150,
        ),
        ParamInfo(
            Param.TEMP, "Temp", "°C", "Cel", "MDC_TEMP_BODY", 150364,
            "MDC_DIM_DEGC", 268192, "8310-5", "Body temperature", 20, 45, decimals=1,
        ),
    )
}  # fmt: skip


def param_of(key: str) -> Param | None:
    """The parameter with wire key `key` ("spo2"), or None when procsuite doesn't know it."""
    try:
        return Param(key)
    except ValueError:
        return None
