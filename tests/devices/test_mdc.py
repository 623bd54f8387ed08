"""The MDC table: codes, units and conversions, as tables."""

from __future__ import annotations

import pytest

from adapters.devices.mdc import MappedValue, UnitError, map_metric
from suite.domain.alarms.parameters import PARAMETERS, Param


@pytest.mark.parametrize(
    ("code", "unit", "value", "expected"),
    [
        (150456, 262688, 97, MappedValue(Param.SPO2, 97.0)),
        ("150456", "262688", 97, MappedValue(Param.SPO2, 97.0)),
        ("MDC_PULS_OXIM_SAT_O2", "MDC_DIM_PERCENT", 88, MappedValue(Param.SPO2, 88.0)),
        ("MDC_PULS_OXIM_SAT_O2", "%", 88, MappedValue(Param.SPO2, 88.0)),
        ("MDC_PULS_OXIM_SAT_O2", None, 88, MappedValue(Param.SPO2, 88.0)),
        (147842, 264864, 72, MappedValue(Param.HR, 72.0)),
        (147842, "{beat}/min", 72, MappedValue(Param.HR, 72.0)),
        (147842, "/min", 72, MappedValue(Param.HR, 72.0)),
        (149530, 264864, 71, MappedValue(Param.HR, 71.0)),
        (150021, 266016, 122, MappedValue(Param.NIBP_SYS, 122.0)),
        (150021, 3872, 122, MappedValue(Param.NIBP_SYS, 122.0)),
        (150022, "mm[Hg]", 78, MappedValue(Param.NIBP_DIA, 78.0)),
        (150023, "MDC_DIM_MMHG", 93, MappedValue(Param.NIBP_MAP, 93.0)),
        (150301, 266016, 120, MappedValue(Param.NIBP_SYS, 120.0)),
        ("MDC_PRESS_CUFF_DIA", "mmHg", 80, MappedValue(Param.NIBP_DIA, 80.0)),
        ("MDC_PRESS_CUFF_MEAN", "mm[Hg]", 90, MappedValue(Param.NIBP_MAP, 90.0)),
        (150021, "MDC_DIM_KILO_PA", 16.0, MappedValue(Param.NIBP_SYS, 16.0 * 7.50062)),
        (150302, 265987, 10.0, MappedValue(Param.NIBP_DIA, 10.0 * 7.50062)),
        (151562, 264928, 16, MappedValue(Param.RR, 16.0)),
        (151594, "/min", 14, MappedValue(Param.RR, 14.0)),
        (151578, "MDC_DIM_RESP_PER_MIN", 15, MappedValue(Param.RR, 15.0)),
        (151708, 266016, 38, MappedValue(Param.ETCO2, 38.0)),
        (151708, "kPa", 5.0, MappedValue(Param.ETCO2, 5.0 * 7.50062)),
        (151708, 3843, 5.0, MappedValue(Param.ETCO2, 5.0 * 7.50062)),
        (151708, "MDC_DIM_PERCENT", 5.0, MappedValue(Param.ETCO2, 38.0)),
        (151708, "%", 5.0, MappedValue(Param.ETCO2, 38.0)),
        (150344, 268192, 37.1, MappedValue(Param.TEMP, 37.1)),
        ("MDC_TEMP_BODY", "Cel", 36.5, MappedValue(Param.TEMP, 36.5)),
        (150364, "[degF]", 98.6, MappedValue(Param.TEMP, 37.0)),
    ],
)
def test_known_codes_map_to_the_parameter_in_its_canonical_unit(
    code: str | int, unit: str | int | None, value: float, expected: MappedValue
) -> None:
    got = map_metric(code, unit, value)
    assert got is not None
    assert got.param is expected.param
    assert got.value == pytest.approx(expected.value, abs=1e-6)


@pytest.mark.parametrize(
    "code", [69965, "69965", "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS", 999999, "x"]
)
def test_unknown_codes_are_none(code: str | int) -> None:
    assert map_metric(code, 262688, 1.0) is None


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        (150456, 266016),  # SpO2 in mmHg
        (150456, "furlong"),
        (150021, 262688),  # NIBP in %
        (150021, None),  # a pressure must name its unit
        (150344, ""),
        (147842, 264928),  # heart rate in breaths per minute
        (150344, "kPa"),
    ],
)
def test_wrong_units_raise_naming_code_and_unit(code: str | int, unit: str | int | None) -> None:
    with pytest.raises(UnitError) as raised:
        map_metric(code, unit, 1.0)
    assert str(code) in str(raised.value)
    assert repr(unit) in str(raised.value)


def test_every_parameter_has_its_own_canonical_code_in_the_table() -> None:
    for info in PARAMETERS.values():
        got = map_metric(info.mdc_numeric, info.mdc_unit_numeric, 1.0)
        assert got is not None and got.param is info.param
