"""Reading JSON from the wire: each reader checks one value and names where it was.

A value of the wrong type raises `WireError` with its place ("rooms/IR1/state.case.phase");
`None` stands for absent wherever a field is optional.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from suite.domain.alarms.model import Priority
from suite.errors import WireError as ProcsuiteWireError


class WireError(ProcsuiteWireError):
    """A message from the service or a device that the dashboard cannot read."""


def load(payload: bytes, *, what: str, max_bytes: int = 1 << 20) -> Any:
    if len(payload) > max_bytes:
        raise WireError(f"{what}: {len(payload)} bytes is more than {max_bytes}")
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"{what}: not JSON ({exc})"[:200]) from None


def obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireError(f"{where}: expected an object, got {value!r:.40}")
    return value


def items(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireError(f"{where}: expected a list, got {value!r:.40}")
    return value


def text(value: Any, where: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise WireError(f"{where}: expected text, got {value!r:.40}")
    return value


def number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"{where}: expected a number, got {value!r:.40}")
    return float(value)


def time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(f"{where}: expected an ISO 8601 time, got {value!r:.40}")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise WireError(f"{where}: {value!r:.40} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise WireError(f"{where}: {value!r:.40} has no time zone")
    return at


def required_time(value: Any, where: str) -> datetime:
    at = time(value, where)
    if at is None:
        raise WireError(f"{where} is missing")
    return at


def priority(value: Any, where: str) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise WireError(f"{where}: {value!r:.20} is not high, medium or low") from None


def objects(value: Any, where: str) -> list[tuple[Mapping[str, Any], str]]:
    """Each object of a list with where it is ("case.images[2]")."""
    return [(obj(x, f"{where}[{i}]"), f"{where}[{i}]") for i, x in enumerate(items(value, where))]


def optional(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    return None if value is None else obj(value, f"{where}.{key}")
