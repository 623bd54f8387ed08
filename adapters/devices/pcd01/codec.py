"""PCD-01 codec: an ORU^R01 (bytes) -> a `Report` of metrics per device, and the ACK back.

Pure: no I/O, no clock (the receive time is passed in). What it reads (docs/devices.md has the
conformance table):

- MSH-9 ORU^R01 (else AR 200/201), MSH-10 control id, MSH-12 2.3-2.8 (else AR 203);
- PV1-3 the location (point of care ^ room ^ bed), mapped to a room by `LocationMap`;
- OBR-7 the observation time, used for a metric whose OBX-14 is empty;
- OBX-4 sub-id `<MDS>.<VMD>.<channel>.<metric>`, where some gateways (Mindray) put the MDC
  code in the 4th component: only the MDS number is used (which device);
- OBX-3 the MDC code, OBX-5 the value (NM), OBX-6 the unit (MDC, UCUM in components 4-6),
  OBX-7 the monitor's own limits ("90-100"), OBX-11 the status (X: a device row; D/W: skip),
  OBX-14 the time, OBX-18 the device (`id^name^EUI-64^EUI-64`; the MDS row's for its metrics).

Values procsuite does not read (unknown MDC codes) stay in the raw message and are counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from adapters.devices.hl7v2 import Hl7Text, MessageError, Segment, parse, parse_ts
from adapters.devices.mdc import FALLBACK_CODES, UnitError, map_metric, metric_of
from suite.domain.alarms.parameters import PARAMETERS, Param

WRONG_UNIT = "wrong_unit"
BAD_VALUE = "bad_value"
IMPLAUSIBLE = "implausible"
_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8")
_SKIPPED_STATUS = frozenset({"D", "W", "X", "N"})  # deleted, wrong, no value, not asked
_LIMITS = re.compile(r"^\s*(-?\d+(?:\.\d+)?)?\s*-\s*(-?\d+(?:\.\d+)?)?\s*$")


@dataclass(frozen=True, slots=True)
class Header:
    """What the ACK and the journal need from MSH."""

    sending_application: str
    sending_facility: str
    control_id: str
    version: str
    trigger: str
    processing_id: str
    profile: str  # MSH-21.1, e.g. IHE_PCD_001 (GE: PCD_DEC_001)


@dataclass(frozen=True, slots=True)
class Problem:
    """One value dropped (or kept but implausible), and where: `where` is "OBX-5 (set 5)"."""

    kind: str
    param: Param | None
    detail: str
    where: str


@dataclass(frozen=True, slots=True)
class Reading:
    """One metric procsuite reads, in its canonical unit, with the monitor's limits."""

    param: Param
    value: float
    at: datetime
    code: int
    limits: tuple[float | None, float | None] | None = None
    fallback: bool = False  # a secondary source (pulse rate for HR)


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """The readings of one device (one MDS) in one message."""

    device: str
    readings: tuple[Reading, ...]
    problems: tuple[Problem, ...] = ()

    @property
    def at(self) -> datetime:
        """The sample's time: the latest observation time of its readings."""
        return max(r.at for r in self.readings)

    def values(self) -> dict[Param, float]:
        """One value per parameter; a primary source wins over a fallback (ECG HR over the
        SpO2 probe's pulse rate), the last OBX over an earlier one."""
        chosen: dict[Param, Reading] = {}
        for r in self.readings:
            have = chosen.get(r.param)
            if have is None or have.fallback or not r.fallback:
                chosen[r.param] = r
        return {p: r.value for p, r in chosen.items()}

    def limits(self) -> dict[Param, tuple[float | None, float | None]]:
        return {r.param: r.limits for r in self.readings if r.limits is not None}


@dataclass(frozen=True, slots=True)
class Report:
    """One ORU^R01 read: header, location, and the readings per device."""

    header: Header
    location: tuple[str, str, str]  # PV1-3 point of care, room, bed
    location_text: str  # PV1-3 as sent, for messages and the journal
    devices: tuple[DeviceReport, ...]
    unknown_codes: tuple[str, ...] = ()  # OBX-3 of NM rows procsuite does not read

    @property
    def samples(self) -> int:
        return sum(1 for d in self.devices if d.readings)


@dataclass(frozen=True, slots=True)
class LocationMap:
    """PV1-3 -> procsuite room: the configured map first (keys "unit^room^bed", "unit^room",
    "room" or "unit"), then, by default, a room or point-of-care component equal to a room."""

    rooms: frozenset[str]
    mapping: Mapping[str, str] = field(default_factory=dict)

    def room_of(self, location: tuple[str, str, str]) -> str | None:
        unit, room, bed = location
        for key in (f"{unit}^{room}^{bed}", f"{unit}^{room}", room, unit):
            target = self.mapping.get(key)
            if target is not None and key.strip("^"):
                return target
        for candidate in (room, unit):
            if candidate and candidate in self.rooms:
                return candidate
        return None


def header_of(msg: Hl7Text) -> Header:
    msh = msg.segments[0]
    return Header(
        sending_application=msg.component_of(msh.field(3), 1),
        sending_facility=msg.component_of(msh.field(4), 1),
        control_id=msh.field(10).strip()[:64],
        version=msg.component_of(msh.field(12), 1),
        trigger=msg.component_of(msh.field(9), 2),
        processing_id=msg.component_of(msh.field(11), 1) or "P",
        profile=msg.component_of(msh.field(21), 1),
    )


def decode(raw: bytes) -> Report:
    """The report in one PCD-01 message.

    Raises:
        MessageError: the message as a whole cannot be used; `where` names the field and
            `reject` tells AR (not an ORU^R01, unknown version) from AE (no PV1, no result).
    """
    msg = parse(raw)
    header = header_of(msg)
    msh = msg.segments[0]
    kind = msg.components(msh.field(9))
    if not header.control_id:
        raise MessageError("MSH-10", "the message has no control ID", code="101", reject=True)
    if kind[:1] != ["ORU"]:
        raise MessageError("MSH-9", f"{'^'.join(kind[:2])} is not ORU^R01", code="200", reject=True)
    if kind[1:2] != ["R01"]:
        raise MessageError("MSH-9", f"event {kind[1:2]} is not R01", code="201", reject=True)
    if header.version not in _VERSIONS:
        raise MessageError(
            "MSH-12", f"version {header.version!r} is not supported", code="203", reject=True
        )
    pv1 = msg.first("PV1")
    if pv1 is None:
        raise MessageError("PV1", "no PV1 segment: the location (PV1-3) is missing", code="100")
    loc = msg.components(pv1.field(3))
    location = tuple((loc + ["", "", ""])[:3])
    obr = msg.first("OBR")
    obr_time = parse_ts(obr.field(7), where="OBR-7") if obr is not None else None
    obx_rows = msg.all("OBX")
    if not obx_rows:
        raise MessageError("OBX", "no OBX segment: the message carries no observation", code="100")
    return _read_observations(msg, header, location, pv1.field(3), obx_rows, obr_time)


def _read_observations(
    msg: Hl7Text,
    header: Header,
    location: tuple[str, ...],
    location_text: str,
    rows: Sequence[Segment],
    obr_time: datetime | None,
) -> Report:
    mds_device: dict[str, str] = {}
    by_device: dict[str, tuple[list[Reading], list[Problem]]] = {}
    unknown: list[str] = []
    for obx in rows:
        sub_id = obx.field(4).strip()
        mds = sub_id.split(".", 1)[0] if sub_id else "1"
        equipment = msg.components(obx.field(18))
        named = (equipment[0] if equipment else "").strip() or (
            equipment[2].strip() if len(equipment) > 2 else ""
        )
        status = obx.field(11).strip().upper()
        code_parts = msg.components(obx.field(3))
        code, ref_id = code_parts[0].strip(), (code_parts[1].strip() if len(code_parts) > 1 else "")
        if status == "X" or not obx.field(2).strip():  # a device row of the hierarchy
            if named and (sub_id.endswith(".0.0.0") or mds not in mds_device):
                mds_device[mds] = named
            continue
        device = named or mds_device.get(mds) or f"{header.sending_application or 'gw'}-mds{mds}"
        readings, problems = by_device.setdefault(device, ([], []))
        if status in _SKIPPED_STATUS or obx.field(2).strip().upper() != "NM":
            continue
        where = f"OBX-{{}} (set {obx.field(1).strip() or obx.sequence})"
        metric = metric_of(code) or (metric_of(ref_id) if ref_id else None)
        if metric is None:
            unknown.append(f"{code}^{ref_id}" if ref_id else code)
            continue
        info = PARAMETERS[metric.param]
        text = msg.unescape(obx.field(5)).strip()
        try:
            value = float(text)
        except ValueError:
            problems.append(
                Problem(BAD_VALUE, metric.param, f"{info.label} {text!r:.20} is not a number",
                        where.format(5))
            )  # fmt: skip
            continue
        unit = _unit_of(msg, obx.field(6))
        try:
            mapped = map_metric(metric.numeric, unit, value)
        except UnitError as exc:
            problems.append(Problem(WRONG_UNIT, metric.param, str(exc), where.format(6)))
            continue
        assert mapped is not None
        at = parse_ts(obx.field(14), where=where.format(14)) or obr_time
        if at is None:
            raise MessageError(
                where.format(14), "no observation time (OBX-14 or OBR-7)", code="101"
            )
        if not info.is_plausible(mapped.value):
            problems.append(
                Problem(IMPLAUSIBLE, metric.param,
                        f"{info.format(mapped.value)} is outside {info.physical_min:g}-"
                        f"{info.physical_max:g} {info.unit}", where.format(5))
            )  # fmt: skip
        readings.append(
            Reading(
                metric.param,
                mapped.value,
                at,
                metric.numeric,
                _limits(metric.numeric, unit, obx.field(7)),
                metric.numeric in FALLBACK_CODES,
            )
        )
    devices = tuple(DeviceReport(d, tuple(r), tuple(p)) for d, (r, p) in by_device.items())
    return Report(
        header,
        (location[0], location[1], location[2]),
        location_text,
        devices,
        tuple(unknown),
    )


def _unit_of(msg: Hl7Text, value: str) -> str | None:
    """The unit to read: the MDC reference id (component 2) before the numeric code, then
    UCUM (components 4-6): a reference id says what was meant even when a gateway's numeric
    code is wrong."""
    parts = [p.strip() for p in msg.components(value)]
    for index in (1, 0, 3):
        if index < len(parts) and parts[index]:
            return parts[index]
    return None


def _limits(code: int, unit: str | None, text: str) -> tuple[float | None, float | None] | None:
    match = _LIMITS.match(text)
    if not text.strip() or match is None:
        return None

    def bound(raw: str | None) -> float | None:
        if raw is None:
            return None
        mapped = map_metric(code, unit, float(raw))
        return None if mapped is None else round(mapped.value, 2)

    return bound(match.group(1)), bound(match.group(2))
