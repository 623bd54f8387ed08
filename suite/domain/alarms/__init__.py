"""Alarms: the shared vocabulary (model.py) and the pure rules that raise them.

The vital-sign alarm engine: `AlarmEngine` (engine.py) with its `AlarmConfig` (config.py)
and the parameter table `PARAMETERS` (parameters.py).
"""

from suite.domain.alarms.config import AlarmConfig, EmbolismConfig, Limit, SensorOff
from suite.domain.alarms.engine import AlarmEngine, VitalSample
from suite.domain.alarms.errors import (
    AlarmAlreadyCleared,
    AlarmError,
    LimitRefused,
    UnknownAlarm,
)
from suite.domain.alarms.parameters import PARAMETERS, Param, ParamInfo

__all__ = [
    "PARAMETERS",
    "AlarmAlreadyCleared",
    "AlarmConfig",
    "AlarmEngine",
    "AlarmError",
    "EmbolismConfig",
    "Limit",
    "LimitRefused",
    "Param",
    "ParamInfo",
    "SensorOff",
    "UnknownAlarm",
    "VitalSample",
]
