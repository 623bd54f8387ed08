"""The parameter table, the configuration and the engine's purity."""

from __future__ import annotations

import subprocess
import sys

import pytest

from suite.domain.alarms import PARAMETERS, AlarmConfig, Limit, Param, VitalSample
from suite.domain.alarms.config_mapping import config_from_mapping
from suite.domain.alarms.model import Priority
from suite.domain.errors import InvalidValue
from suite.domain.values import Phase
from tests.alarms.monitor import at

LOINC = {
    Param.SPO2: "59408-5",
    Param.HR: "8867-4",
    Param.NIBP_SYS: "8480-6",
    Param.NIBP_DIA: "8462-4",
    Param.NIBP_MAP: "8478-0",
    Param.RR: "9279-1",
    Param.ETCO2: "19889-5",
    Param.TEMP: "8310-5",
}


def test_every_parameter_has_its_codes_units_and_range() -> None:
    assert set(PARAMETERS) == set(Param)
    for param, info in PARAMETERS.items():
        assert info.param is param
        assert info.loinc == LOINC[param]
        assert info.mdc_code.startswith("MDC_") and info.mdc_unit.startswith("MDC_DIM_")
        # IEEE 11073-10101 partition 2 (SCADA) and partition 4 (dimensions).
        assert info.mdc_numeric // 65536 == 2 and info.mdc_unit_numeric // 65536 == 4
        assert info.physical_min < info.physical_max
    assert PARAMETERS[Param.SPO2].mdc_numeric == 150456
    assert PARAMETERS[Param.SPO2].format(86) == "86 %"
    assert PARAMETERS[Param.HR].format(72) == "72/min"
    assert PARAMETERS[Param.TEMP].format(36.64) == "36.6 °C"


@pytest.mark.parametrize(
    ("param", "value", "plausible"),
    [
        (Param.SPO2, 150, False),
        (Param.SPO2, 100, True),
        (Param.HR, -5, False),
        (Param.HR, 0, True),
        (Param.HR, float("nan"), False),
        (Param.TEMP, 5, False),
    ],
)
def test_physical_ranges(param: Param, value: float, plausible: bool) -> None:
    assert PARAMETERS[param].is_plausible(value) is plausible


def test_a_sample_needs_a_zoned_time() -> None:
    with pytest.raises(InvalidValue, match="no time zone"):
        VitalSample("OR1", "mon1", at(0).replace(tzinfo=None), {Param.HR: 70})


def test_limits_and_settings_are_checked() -> None:
    with pytest.raises(InvalidValue, match="must be below"):
        Limit(low=100, high=90)
    with pytest.raises(InvalidValue, match="delay_s"):
        Limit(low=90, delay_s=-1)
    with pytest.raises(InvalidValue, match="stale_feed_s"):
        AlarmConfig(stale_feed_s=0)


def test_phase_limits_override_the_default() -> None:
    config = AlarmConfig()
    assert config.limit_for(Param.SPO2, Phase.SEDATION).low == 90
    assert config.limit_for(Param.SPO2, Phase.RECOVERY).low == 92
    assert config.limit_for(Param.SPO2, None).low == 90


def test_settings_data_is_merged_over_the_defaults() -> None:
    config = config_from_mapping(
        {
            "stale_feed_s": 20,
            "limits": {"spo2": {"low": 92.5, "priority_low": "medium"}},
            "phase_limits": {"recovery": {"hr": {"high": 110}}, "sedation": {"rr": {"low": 6}}},
            "escalation_s": {"medium": 90, "low": None},
            "latching": ["high", "medium"],
            "sensor_off": {"spo2": {"delay_s": 5, "zero_is_off": True}},
            "technical_priority": {"malformed_json": "medium"},
            "adjust_bounds": {"spo2": [85, 100]},
            "embolism": {"window_s": 600, "baseline_min_samples": 5},
        }
    )
    spo2 = config.limits[Param.SPO2]
    assert (spo2.low, spo2.priority_low, spo2.delay_s) == (92.5, Priority.MEDIUM, 10)
    assert config.limits[Param.HR] == AlarmConfig().limits[Param.HR]
    assert config.phase_limits[Phase.RECOVERY][Param.HR].high == 110
    assert config.phase_limits[Phase.RECOVERY][Param.SPO2].low == 92  # kept
    assert config.phase_limits[Phase.SEDATION][Param.RR].low == 6
    assert config.escalation_s == {Priority.LOW: None, Priority.MEDIUM: 90, Priority.HIGH: None}
    assert config.latching == {Priority.HIGH, Priority.MEDIUM}
    assert set(config.sensor_off) == {Param.SPO2}
    assert config.technical_priority["malformed_json"] is Priority.MEDIUM
    assert config.adjust_bounds[Param.SPO2] == (85, 100)
    assert (config.embolism.window_s, config.embolism.baseline_min_samples) == (600, 5)
    assert config.stale_feed_s == 20


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"limits": {"spo3": {"low": 1}}}, "limits.spo3: 'spo3' is not one of"),
        ({"limits": {"spo2": {"lowest": 1}}}, "unknown alarm setting limits.spo2.lowest"),
        ({"limits": {"spo2": {"low": "ninety"}}}, "limits.spo2.low must be a number"),
        ({"limits": {"hr": {"low": 130}}}, "must be below the high"),
        ({"phase_limits": {"surgery": {}}}, "phase_limits.surgery"),
        ({"escalation_s": {"urgent": 5}}, "escalation_s.urgent"),
        ({"stale_feed_s": True}, "stale_feed_s must be a number"),
        ({"embolism": {"enabled": 1}}, "embolism.enabled must be true or false"),
        ({"colour": "red"}, "unknown alarm setting 'colour'"),
    ],
)
def test_bad_settings_are_named(data: dict, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        config_from_mapping(data)


def test_the_engine_is_pure() -> None:
    code = (
        "import sys, suite.domain.alarms, suite.domain.alarms.config_mapping;"
        "bad = {'asyncio', 'logging', 'sqlmodel', 'sqlalchemy', 'aiomqtt', 'socket'};"
        "print(sorted(bad & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
