"""The fast path for the usual value: valid, well inside its limits, nothing going on.

Almost every value a monitor sends is plausible, inside the limits in force past their
hysteresis margins (the parameter's "quiet band"), and arrives while no condition of that
parameter on that monitor is present or building. For such a value the full path
(technical.py's sensor-off and plausibility checks, physiological.py's two limit
conditions) produces no event and only notes an OFF signal at the value's device time on
the parameter's trackers; `settle` does exactly that, after checking the same state the
rules read, and says False for any other value, which then takes the full path.
tests/alarms/test_quiet.py runs random streams through the engine with and without it and
compares the events and the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from suite.domain.alarms.config import AlarmConfig
from suite.domain.alarms.debounce import Signal
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.domain.alarms.physiological import effective_limit
from suite.domain.alarms.state import DeviceState, RoomState

_OFF = Signal.OFF


@dataclass(frozen=True, slots=True)
class QuietBand:
    """Values `low <= v <= high` (not 0 when `zero_is_off`) are valid and clear of both
    limits: each limit condition sees OFF, the sensor-off and plausibility checks VALID."""

    low: float
    high: float
    zero_is_off: bool  # 0 means a sensor off the patient (config.SensorOff.zero_is_off)
    sensor_off: bool  # the parameter has a sensor-off rule, whose tracker notes the OFF


def quiet_band(config: AlarmConfig, room: RoomState, param: Param) -> QuietBand:
    """The band of `param` under the room's limits in force (cached with them)."""
    bands = room.quiet
    if bands is None:
        bands = room.quiet = {}
    band = bands.get(param)
    if band is None:
        limit = effective_limit(config, room, param)
        info = PARAMETERS[param]
        # The same sums physiological.signal_of compares with, so the edges agree exactly.
        low = info.physical_min
        if limit.low is not None:
            low = max(low, limit.low + limit.hysteresis)
        high = info.physical_max
        if limit.high is not None:
            high = min(high, limit.high - limit.hysteresis)
        rule = config.sensor_off.get(param)
        band = bands[param] = QuietBand(
            low,
            high,
            zero_is_off=rule is not None and rule.zero_is_off,
            sensor_off=rule is not None,
        )
    return band


def settle(
    config: AlarmConfig,
    room: RoomState,
    dev: DeviceState,
    param: Param,
    value: float,
    at: datetime,
) -> bool:
    """Take `value` of `param` from `dev` at device time `at` if it is quiet (see the module
    docstring) and return True; return False, changing nothing, otherwise."""
    bands = room.quiet
    band = bands.get(param) if bands is not None else None
    if band is None:
        band = quiet_band(config, room, param)
    if not band.low <= value <= band.high or (band.zero_is_off and value == 0):
        return False
    pair = dev.limits.get(param)
    if pair is None or dev.adapter_kinds or param in dev.implausible:
        return False
    low, high = pair
    if low.active or high.active or low.run_since is not None or high.run_since is not None:
        return False
    if band.sensor_off:
        tracker = dev.sensor_off.get(param)
        if tracker is None or tracker.active or tracker.run_since is not None:
            return False
        tracker.last_signal, tracker.last_at = _OFF, at
    low.last_signal, low.last_at = _OFF, at
    high.last_signal, high.last_at = _OFF, at
    return True
