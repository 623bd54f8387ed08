"""The room state as IT sees it: the same snapshot with every patient datum taken out.

IT watches interfaces and devices, not patients (docs/mqtt.md, the ACL in security.py): it
reads `rooms/<room>/state/it`, never `rooms/<room>/state`. The redaction keeps an explicit
list of fields (a field added to the full snapshot later stays out until it is added here):
no vitals, limits, baselines, names, MRNs, accession numbers, clinical alarm messages or
readings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_CASE_FIELDS = ("case_id", "phase", "phase_since", "room")
_SCHEDULED_FIELDS = ("case_id", "procedure", "scheduled_at")
_ALARM_FIELDS = (
    "alarm_id",
    "kind",
    "category",
    "priority",
    "state",
    "condition_active",
    "raised_at",
    "acknowledged_at",
    "cleared_at",
)


def redacted_snapshot(full: Mapping[str, Any]) -> dict[str, Any]:
    """The IT view of a room snapshot (`RoomStates.snapshot`): only the fields listed above,
    device health and counters; technical alarms keep their message, clinical ones do not."""
    case = full.get("case")
    return {
        "room": full.get("room"),
        "at": full.get("at"),
        "redacted": True,
        "case": None if case is None else {k: case.get(k) for k in _CASE_FIELDS},
        "scheduled": [{k: s.get(k) for k in _SCHEDULED_FIELDS} for s in full.get("scheduled", [])],
        "devices": full.get("devices", {}),
        "alarms": [_alarm(a) for a in full.get("alarms", [])],
        "counters": full.get("counters", {}),
    }


def _alarm(alarm: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: alarm.get(k) for k in _ALARM_FIELDS}
    source = alarm.get("source") or {}
    out["device"] = source.get("device")
    if alarm.get("category") == "technical":  # about a device or interface, not the patient
        out["message"] = alarm.get("message")
    return out
