"""The MQTT wire format, pure and synchronous: payload bytes <-> domain values.

Vitals (docs/mqtt.md):

    {"ts": "2026-11-24T09:12:03.250Z", "seq": 1234,
     "values": {"hr": 72, "spo2": 97, "nibp_sys": 121, ...},
     "units": {"temp": "°C"}}                      # optional, checked when present

A message is rejected whole (`PayloadError`) only when it cannot be read at all; a bad value
drops that value alone and is reported as a `Problem`, so one wrong parameter never hides the
others. A number outside the parameter's physical range stays in the sample (the alarm engine
owns the "implausible" alarm) and is reported as a Problem too. Nothing here logs or counts:
the caller (ingest.py) does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from suite.domain.alarms.engine import VitalSample
from suite.domain.alarms.parameters import PARAMETERS, Param, ParamInfo
from suite.domain.bounds import OutOfRange, is_finite_number, sequence, utc_time
from suite.domain.samples import (
    BAD_VALUE,
    IMPLAUSIBLE,
    MALFORMED,
    MALFORMED_STATUS,
    OUT_OF_RANGE,
    OVERSIZE,
    UNKNOWN_PARAMETER,
    WRONG_UNIT,
    DecodedVitals,
    Problem,
)
from suite.errors import WireError

# The kinds of bad input are shared by every device source (suite/domain/samples.py); they
# are re-exported here for the MQTT side.

__all__ = [
    "BAD_VALUE",
    "IMPLAUSIBLE",
    "MALFORMED",
    "MALFORMED_STATUS",
    "OUT_OF_RANGE",
    "OVERSIZE",
    "UNKNOWN_PARAMETER",
    "WRONG_UNIT",
    "DecodedVitals",
    "PayloadError",
    "Problem",
]


class PayloadError(WireError):
    """A payload that cannot be read at all; `kind` is one of the kinds above."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# Spellings of each display unit that mean the same thing (lower case, no spaces).
_UNIT_ALIASES: dict[str, frozenset[str]] = {
    "/min": frozenset(
        {"/min", "1/min", "min-1", "/minute", "bpm", "rpm", "{beats}/min", "{breaths}/min",
         "beats/min", "breaths/min", "{beat}/min", "{breath}/min"}
    ),
    "%": frozenset({"%", "percent"}),
    "mmHg": frozenset({"mmhg", "mm[hg]"}),
    "°C": frozenset({"°c", "cel", "degc", "celsius", "c"}),
}  # fmt: skip


_BY_KEY: dict[str, tuple[Param, ParamInfo]] = {p.value: (p, info) for p, info in PARAMETERS.items()}
# key -> (parameter, physical min, max): the usual value needs no more than this.
_RANGE: dict[str, tuple[Param, float, float]] = {
    p.value: (p, info.physical_min, info.physical_max) for p, info in PARAMETERS.items()
}


def unit_matches(info: ParamInfo, unit: str) -> bool:
    """Whether `unit` (as a device wrote it) is the parameter's documented unit."""
    spelled = unit.strip().lower().replace(" ", "")
    aliases = _UNIT_ALIASES.get(info.unit, frozenset())
    return spelled in aliases or spelled in (info.unit.lower(), info.ucum.lower())


def parse_time(text: Any, *, where: str) -> datetime:
    """An ISO 8601 time with a zone, in UTC, between 1900 and 2200 (suite/domain/bounds.py);
    `PayloadError` (malformed or out_of_range) otherwise."""
    if not isinstance(text, str):
        raise PayloadError(MALFORMED, f"{where} must be an ISO 8601 time text, got {text!r:.40}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(MALFORMED, f"{where} {text!r:.40} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise PayloadError(MALFORMED, f"{where} {text!r:.40} has no time zone (add Z or +01:00)")
    try:
        return utc_time(value, where=where)
    except OutOfRange as exc:
        raise PayloadError(OUT_OF_RANGE, exc.message) from None


# msgspec's decoder reads a vitals message about seven times faster than `json.loads` and to
# the same values (integers of any length stay integers; tests/mqtt/test_codec.py compares
# them). What it refuses (NaN, a float overflowing to infinity, UTF-16, a lone surrogate)
# goes to `json.loads`, so the accepted input and its error messages stay those of `json`.
_decode = msgspec.json.Decoder().decode


def load_json(payload: bytes, *, max_bytes: int, what: str) -> Any:
    """The JSON value of `payload`, refused unread when larger than `max_bytes`."""
    if len(payload) > max_bytes:
        raise PayloadError(OVERSIZE, f"{what} of {len(payload)} bytes exceeds {max_bytes}")
    try:
        return _decode(payload)
    except (msgspec.DecodeError, RecursionError):
        pass
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise PayloadError(MALFORMED, f"{what} is not JSON: {exc}"[:200]) from None


def decode_vitals(room: str, device: str, payload: bytes, *, max_bytes: int) -> DecodedVitals:
    """The sample of one vitals message; values that cannot be used are in `problems`."""
    data = load_json(payload, max_bytes=max_bytes, what="vitals message")
    if not isinstance(data, dict):
        raise PayloadError(MALFORMED, "vitals message must be a JSON object")
    if "ts" not in data:
        raise PayloadError(MALFORMED, "vitals message has no ts (device time)")
    at = parse_time(data["ts"], where="ts")
    seq = data.get("seq")
    if seq is not None:
        try:
            seq = sequence(seq, where="seq")
        except OutOfRange as exc:
            kind = OUT_OF_RANGE if isinstance(seq, int) and not isinstance(seq, bool) else MALFORMED
            raise PayloadError(kind, exc.message) from None
    raw = data.get("values")
    if not isinstance(raw, dict):
        raise PayloadError(MALFORMED, "vitals message needs a values object")
    units = data.get("units")
    if units is not None and not isinstance(units, dict):
        raise PayloadError(MALFORMED, "units must be an object of parameter: unit")
    values: dict[Param, float | None] = {}
    problems: list[Problem] = []
    for key, value in raw.items():
        number_type = type(value)
        if units is None and (number_type is float or number_type is int):
            usual = _RANGE.get(key)
            # Inside the physical range: a finite number, and an int of a sane length.
            if usual is not None and usual[1] <= value <= usual[2]:
                values[usual[0]] = float(value)
                continue
        known = _BY_KEY.get(key)
        if known is None:
            problems.append(Problem(UNKNOWN_PARAMETER, None, key, f"unknown parameter {key!r:.40}"))
            continue
        param, info = known
        if units is not None and key in units:
            unit = units[key]
            if not isinstance(unit, str) or not unit_matches(info, unit):
                problems.append(
                    Problem(WRONG_UNIT, param, key, f"unit {unit!r:.20}, expected {info.unit}")
                )
                continue
        if value is None:
            values[param] = None
            continue
        if not is_finite_number(value):  # also a 400-digit integer float() cannot take
            problems.append(Problem(BAD_VALUE, param, key, f"{value!r:.40} is not a number"))
            continue
        number = float(value)
        if info.physical_min <= number <= info.physical_max:  # the usual case, quickly
            values[param] = number
            continue
        if not info.is_plausible(number):
            # Kept in the sample: the alarm engine raises and ends "implausible_<param>"
            # itself; the caller counts it and does not store the value.
            problems.append(
                Problem(
                    IMPLAUSIBLE,
                    param,
                    key,
                    f"{info.format(number)} is outside {info.physical_min:g}-"
                    f"{info.physical_max:g} {info.unit}",
                )
            )
        values[param] = number
    extra = {k: v for k, v in data.items() if k not in ("ts", "seq", "values", "units")}
    return DecodedVitals(VitalSample(room, device, at, values, seq), tuple(problems), extra)


def decode_status(payload: bytes) -> bool | None:
    """True for "online", False for "offline", None for an empty (deleted) retained status."""
    if not payload:
        return None
    word = payload[:64].decode("utf-8", "replace").strip().strip('"').lower()
    if word == "online":
        return True
    if word == "offline":
        return False
    raise PayloadError(MALFORMED_STATUS, f"status must be online or offline, got {word[:20]!r}")


def to_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; times as ISO 8601 text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


# ---- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandRequest:
    id: str
    action: str
    body: Mapping[str, Any]


class CommandError(WireError):
    """A command that cannot be carried out; answered as {"ok": false, "error", "rule"}."""

    def __init__(self, message: str, *, rule: str, command_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.command_id = command_id


def decode_command(payload: bytes, *, max_bytes: int) -> CommandRequest:
    try:
        data = load_json(payload, max_bytes=max_bytes, what="command")
    except PayloadError as exc:
        raise CommandError(exc.message, rule="bad-command") from None
    if not isinstance(data, dict):
        raise CommandError("a command must be a JSON object", rule="bad-command")
    command_id = data.get("id", "")
    if not isinstance(command_id, str):
        command_id = str(command_id)
    action = data.get("action")
    if not isinstance(action, str) or not action:
        raise CommandError("a command needs an action", rule="bad-command", command_id=command_id)
    return CommandRequest(command_id, action, data)


def encode_reply(
    command_id: str, *, result: Any = None, error: CommandError | None = None
) -> bytes:
    if error is None:
        return to_json({"id": command_id, "ok": True, "result": result or {}})
    return to_json({"id": command_id, "ok": False, "error": error.message, "rule": error.rule})


def seen_version(body: Mapping[str, Any]) -> int | None:
    """The case version the sender's form was filled in on (`seen_version`), if it says."""
    value = body.get("seen_version")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CommandError("seen_version must be a whole number >= 0", rule="bad-command")
    return value
