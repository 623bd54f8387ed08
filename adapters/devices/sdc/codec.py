"""Pure translation of what an SDC provider reports into procsuite's samples and device alarms.

The connection thread (link.py) copies the library's containers into the plain values below
(sdc11073 types never leave link.py); everything here is synchronous and testable without a
provider. Metric codes and units go through the one MDC table, adapters/devices/mdc.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from adapters.devices.mdc import FALLBACK_CODES, UnitError, map_metric, metric_of
from suite.domain.alarms.engine import VitalSample
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.domain.samples import WRONG_UNIT, DecodedVitals, Problem

VALID = frozenset({"Vld", "Vldated"})  # BICEPS MeasurementValidity values that are readings
LOCATION_KEYS = ("fac", "bldng", "flr", "poc", "rm", "bed")
_SCOPE_SCHEME = "sdc.ctxt.loc"


@dataclass(frozen=True, slots=True)
class MetricDescriptor:
    """A numeric metric of the provider's MDIB: its handle, MDC code and MDC unit code."""

    handle: str
    code: str
    unit: str | None


@dataclass(frozen=True, slots=True)
class MetricReading:
    """One metric state as reported: value (None: no value), validity, determination time."""

    handle: str
    value: float | None
    validity: str | None
    at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertDescriptor:
    """An alert condition of the provider: handle, code, text, BICEPS Kind and Priority."""

    handle: str
    code: str
    text: str
    kind: str  # Phy, Tec, Oth
    priority: str  # Hi, Me, Lo, None


@dataclass(frozen=True, slots=True)
class AlertReading:
    """An alert condition's state: present (the condition holds) and activation On."""

    handle: str
    present: bool
    active: bool
    priority: str | None = None  # ActualPriority, when the monitor escalated it


@dataclass(frozen=True, slots=True)
class Decoded:
    """A metric report in procsuite's terms: samples (one per determination time, oldest
    first) and the MDC codes procsuite does not read (counted by the caller)."""

    samples: tuple[DecodedVitals, ...]
    unknown_codes: tuple[str, ...]


_PRIORITY = {"Hi": Priority.HIGH, "Me": Priority.MEDIUM, "Lo": Priority.LOW, "None": Priority.LOW}


def alert_priority(descriptor: AlertDescriptor, reading: AlertReading | None = None) -> Priority:
    """The monitor's priority (its ActualPriority when set) as procsuite's; BICEPS "None"
    (informational) is shown as low."""
    raw = (reading.priority if reading is not None else None) or descriptor.priority
    return _PRIORITY.get(raw, Priority.MEDIUM)


def alert_kind(handle: str) -> str:
    """The technical-alarm kind of a device alert condition. Bracketed, so that it never ends
    with a parameter's name (the engine would end such an alarm on a valid reading)."""
    return f"device_alert[{handle}]"


def alert_message(device: str, descriptor: AlertDescriptor) -> str:
    """What the nurse reads for a device alert condition."""
    what = descriptor.text or f"alert condition {descriptor.code or descriptor.handle}"
    kind = {"Phy": "physiological", "Tec": "technical"}.get(descriptor.kind, "other")
    return f"Monitor {device} alarm: {what} ({kind}, monitor priority {descriptor.priority})"


def alert_is_on(reading: AlertReading) -> bool:
    return reading.present and reading.active


def primary_handles(descriptors: Mapping[str, MetricDescriptor]) -> frozenset[str]:
    """The handles whose values are used: fallback sources of a parameter (the SpO2 probe's
    pulse rate for heart rate) only when the provider has no primary source of it."""
    primaries: set[Param] = set()
    for d in descriptors.values():
        metric = metric_of(d.code)
        if metric is not None and metric.numeric not in FALLBACK_CODES:
            primaries.add(metric.param)
    used = set()
    for d in descriptors.values():
        metric = metric_of(d.code)
        if metric is None:
            continue
        if metric.numeric in FALLBACK_CODES and metric.param in primaries:
            continue
        used.add(d.handle)
    return frozenset(used)


def decode_metrics(
    room: str,
    device: str,
    readings: Iterable[MetricReading],
    descriptors: Mapping[str, MetricDescriptor],
    *,
    used: frozenset[str],
    received_at: datetime,
    seq: int | None,
) -> Decoded:
    """The samples in one metric report. A reading without a determination time is taken at
    `received_at`; one that is not valid is "no reading" (None); a unit the table cannot
    read for its metric drops that value with a `wrong_unit` problem."""
    values: dict[datetime, dict[Param, float | None]] = {}
    problems: dict[datetime, list[Problem]] = {}
    unknown: list[str] = []
    for reading in readings:
        desc = descriptors.get(reading.handle)
        if desc is None:
            continue  # not a numeric metric (strings, enums, waveforms)
        metric = metric_of(desc.code)
        if metric is None:
            unknown.append(desc.code)
            continue
        if reading.handle not in used:
            continue
        at = reading.at or received_at
        bucket = values.setdefault(at, {})
        if reading.value is None or reading.validity not in VALID:
            bucket[metric.param] = None
            continue
        try:
            mapped = map_metric(desc.code, desc.unit, reading.value)
        except UnitError as exc:
            problems.setdefault(at, []).append(
                Problem(WRONG_UNIT, metric.param, reading.handle, f"{reading.handle}: {exc}")
            )
            continue
        if mapped is not None:
            bucket[mapped.param] = mapped.value
    samples = tuple(
        DecodedVitals(
            VitalSample(room=room, device=device, at=at, values=values[at], seq=seq),
            tuple(problems.get(at, ())),
        )
        for at in sorted(values)
    )
    return Decoded(samples, tuple(unknown))


def timestamp(seconds: float | None) -> datetime | None:
    """A BICEPS timestamp (sdc11073 gives seconds since the epoch) as an aware datetime."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def location_of(scopes: Iterable[str]) -> dict[str, str]:
    """The location components in a provider's discovery scopes (sdc.ctxt.loc:/...?poc=IR)."""
    for scope in scopes:
        parts = urlsplit(scope)
        if parts.scheme.lower() == _SCOPE_SCHEME:
            return {k: v for k, v in parse_qsl(parts.query) if k in LOCATION_KEYS}
    return {}


def location_matches(wanted: Mapping[str, str], location: Mapping[str, str]) -> bool:
    """Every component asked for is present with the same value."""
    return all(location.get(key) == value for key, value in wanted.items())


def room_of(location: Mapping[str, str], rooms: Iterable[str]) -> str | None:
    """The served room a provider's location names (its rm, then poc, then bed), if any."""
    served = set(rooms)
    for key in ("rm", "poc", "bed"):
        value = location.get(key)
        if value in served:
            return value
    return None
