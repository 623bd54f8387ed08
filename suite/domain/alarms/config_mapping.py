"""An `AlarmConfig` from plain data, as settings (TOML, environment) provide it.

    {"stale_feed_s": 20,
     "limits": {"spo2": {"low": 92, "delay_s": 15}},
     "phase_limits": {"recovery": {"spo2": {"low": 94}}},
     "escalation_s": {"low": 300, "medium": 90, "high": null},
     "embolism": {"window_s": 600, "spo2_drop": 4},
     "capnography": {"apnea_s": 30, "hypoventilation_rise_mmhg": 8}}

Limits are merged over the default (or over that phase's default); every other key
replaces the default. A misspelt key or a bad value is an InvalidValue naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from suite.domain.alarms.config import AlarmConfig, Limit, SensorOff
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.domain.errors import InvalidValue
from suite.domain.values import Phase

_SCALARS = {
    "stale_feed_s",
    "clock_skew_s",
    "clock_skew_delay_s",
    "implausible_clear_s",
    "sample_hold_s",
    "evidence_max",
    "audio_pause_s",
}


def config_from_mapping(data: Mapping[str, Any], *, base: AlarmConfig | None = None) -> AlarmConfig:
    """`base` (the defaults) with `data` applied; see the module docstring."""
    base = base or AlarmConfig()
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SCALARS:
            number = _number(value, key)
            changes[key] = int(number) if key == "evidence_max" else number
        elif key == "limits":
            changes[key] = _limits(value, dict(base.limits), "limits", base)
        elif key == "phase_limits":
            phases = {p: dict(v) for p, v in base.phase_limits.items()}
            for phase_name, limits in _mapping(value, key).items():
                phase = _enum(Phase, phase_name, f"phase_limits.{phase_name}")
                phases[phase] = _limits(
                    limits, phases.get(phase, {}), f"phase_limits.{phase_name}", base,
                    fallback=changes.get("limits", base.limits),
                )  # fmt: skip
            changes[key] = phases
        elif key == "adjust_bounds":
            bounds = dict(base.adjust_bounds)
            for name, pair in _mapping(value, key).items():
                where = f"adjust_bounds.{name}"
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise InvalidValue(f"alarm setting {where} must be [low, high]")
                lo, hi = (_number(x, where) for x in pair)
                bounds[_enum(Param, name, where)] = (lo, hi)
            changes[key] = bounds
        elif key == "sensor_off":
            changes[key] = {
                _enum(Param, name, f"sensor_off.{name}"): _dataclass(
                    SensorOff(), spec, f"sensor_off.{name}"
                )
                for name, spec in _mapping(value, key).items()
            }
        elif key == "technical_priority":
            merged = dict(base.technical_priority)
            for kind, prio in _mapping(value, key).items():
                merged[str(kind)] = _enum(Priority, prio, f"technical_priority.{kind}")
            changes[key] = merged
        elif key == "escalation_s":
            esc = dict(base.escalation_s)
            for prio, seconds in _mapping(value, key).items():
                where = f"escalation_s.{prio}"
                esc[_enum(Priority, prio, where)] = (
                    None if seconds is None else _number(seconds, where)
                )
            changes[key] = esc
        elif key == "latching":
            if not isinstance(value, list | tuple):
                raise InvalidValue("alarm setting latching must be a list of priorities")
            changes[key] = frozenset(_enum(Priority, p, "latching") for p in value)
        elif key == "embolism":
            changes[key] = _dataclass(base.embolism, value, "embolism")
        elif key == "capnography":
            changes[key] = _dataclass(base.capnography, value, "capnography")
        else:
            raise InvalidValue(f"unknown alarm setting {key!r}")
    return dataclasses.replace(base, **changes)


def _limits(
    value: object,
    current: dict[Param, Limit],
    where: str,
    base: AlarmConfig,
    *,
    fallback: Mapping[Param, Limit] | None = None,
) -> dict[Param, Limit]:
    for name, spec in _mapping(value, where).items():
        param = _enum(Param, name, f"{where}.{name}")
        start = current.get(param) or (fallback or base.limits).get(param) or Limit()
        current[param] = _dataclass(start, spec, f"{where}.{name}")
    return current


def _dataclass(start: Any, spec: object, where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(start)}
    changes: dict[str, Any] = {}
    for name, raw in _mapping(spec, where).items():
        if name not in fields:
            raise InvalidValue(f"unknown alarm setting {where}.{name}")
        current = getattr(start, name)
        if isinstance(current, Priority):
            changes[name] = _enum(Priority, raw, f"{where}.{name}")
        elif isinstance(current, bool):
            if not isinstance(raw, bool):
                raise InvalidValue(f"alarm setting {where}.{name} must be true or false")
            changes[name] = raw
        elif raw is None and name in ("low", "high"):
            changes[name] = None
        else:
            changes[name] = _number(raw, f"{where}.{name}")
            if fields[name].type == "int":
                changes[name] = int(changes[name])
    return dataclasses.replace(start, **changes)


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidValue(f"alarm setting {where} must be a table of settings")
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"alarm setting {where} must be a number, not {value!r}")
    return float(value)


_E = TypeVar("_E", Param, Phase, Priority)


def _enum(kind: type[_E], value: object, where: str) -> _E:
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidValue(f"alarm setting {where}: {value!r} is not one of {allowed}") from None
