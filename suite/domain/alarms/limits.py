"""The rules a nurse's limit adjustment must follow for one patient."""

from __future__ import annotations

import math

from suite.domain.alarms.config import AlarmConfig, Limit
from suite.domain.alarms.errors import LimitRefused
from suite.domain.alarms.parameters import PARAMETERS, Param


def check_adjustment(
    config: AlarmConfig,
    param: Param,
    configured: Limit,
    *,
    low: float | None,
    high: float | None,
    user: str,
    reason: str,
) -> None:
    """Raise LimitRefused unless (low, high) is a sensible pair for `param`.

    Who and why are required; each threshold must lie inside the parameter's adjustment
    bounds; low must be below high; a threshold the configuration sets cannot be switched
    off (None) for one patient, only moved.
    """
    info = PARAMETERS[param]
    if not user.strip():
        raise LimitRefused(f"adjusting the {info.label} limits needs the user's name")
    if not reason.strip():
        raise LimitRefused(f"adjusting the {info.label} limits needs a reason")
    lo_b, hi_b = config.adjust_bounds.get(param, (info.physical_min, info.physical_max))
    bounds = f"{lo_b:g}-{hi_b:g} {info.unit}"
    for side, value, configured_value in (
        ("low", low, configured.low),
        ("high", high, configured.high),
    ):
        if value is None:
            if configured_value is not None:
                raise LimitRefused(
                    f"the {info.label} {side} limit cannot be switched off for a patient; "
                    f"set a value within {bounds}"
                )
            continue
        if not math.isfinite(value) or not lo_b <= value <= hi_b:
            raise LimitRefused(
                f"{info.label} {side} limit {value:g} {info.unit} is outside {bounds}"
            )
    if low is not None and high is not None and low >= high:
        raise LimitRefused(f"{info.label} low limit {low:g} must be below the high limit {high:g}")
