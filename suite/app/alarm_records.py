"""The JSON form of alarms and alarm events, as stored in `alarm_events` and sent on
`procsuite/<site>/alarms/<room>` (docs/mqtt.md "Alarm events").

Every event carries the alarm's view after it, so a consumer that saw nothing before can
show it ("SpO2 low, acknowledged by nurse1"). Pure functions; times are ISO 8601 UTC with Z.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suite.clock import iso
from suite.domain.alarms.model import (
    Alarm,
    AlarmAcknowledged,
    AlarmAudioPaused,
    AlarmCleared,
    AlarmConditionEnded,
    AlarmConditionReturned,
    AlarmEscalated,
    AlarmEvent,
    AlarmRaised,
    LimitAdjusted,
)

EVENT_NAMES: dict[type[AlarmEvent], str] = {
    AlarmRaised: "raised",
    AlarmEscalated: "escalated",
    AlarmAcknowledged: "acknowledged",
    AlarmAudioPaused: "audio_paused",
    AlarmConditionEnded: "condition_ended",
    AlarmConditionReturned: "condition_returned",
    AlarmCleared: "cleared",
    LimitAdjusted: "limit_adjusted",
}


def event_name(event: AlarmEvent) -> str:
    return EVENT_NAMES.get(type(event), type(event).__name__)


def alarm_view(alarm: Alarm) -> dict[str, Any]:
    """An alarm as people see it (state snapshot, `procsuite alarm list`, event payloads)."""
    return {
        "alarm_id": alarm.alarm_id,
        "room": alarm.room,
        "case_id": alarm.case_id,
        "kind": alarm.kind,
        "category": alarm.category.value,
        "priority": alarm.priority.value,
        "message": alarm.message,
        "latching": alarm.latching,
        "state": alarm.state.value,
        "condition_active": alarm.condition_active,
        "raised_at": iso(alarm.raised_at),
        "acknowledged_by": alarm.acknowledged_by,
        "acknowledged_at": iso(alarm.acknowledged_at),
        "cleared_at": iso(alarm.cleared_at),
        "audio_paused_by": alarm.audio_paused_by,
        "audio_paused_until": iso(alarm.audio_paused_until),
        "source": {
            "rule": alarm.source.rule,
            "device": alarm.source.device,
            "parameter": alarm.source.parameter,
            "evidence": [list(e) for e in alarm.source.evidence],
            "readings": [list(r) for r in alarm.source.readings],
            "baseline": [list(b) for b in alarm.source.baseline],
        },
    }


def event_payload(event: AlarmEvent, alarm: Alarm | None, *, case_id: str | None) -> dict[str, Any]:
    """The stored and published form of one event (without its `event_id`)."""
    payload: dict[str, Any] = alarm_view(alarm) if alarm is not None else {}
    payload.update(
        alarm_id=event.alarm_id,
        event=event_name(event),
        at=iso(event.at),
        room=event.room,
        case_id=case_id,
    )
    if isinstance(event, AlarmAcknowledged | AlarmAudioPaused):
        payload["user"] = event.user
    elif isinstance(event, AlarmCleared):
        payload["reason"] = event.reason
    elif isinstance(event, AlarmEscalated):
        payload["priority"] = event.priority.value
        if event.message:
            payload["message"] = event.message
    elif isinstance(event, LimitAdjusted):
        payload.update(
            parameter=event.parameter,
            low=event.low,
            high=event.high,
            user=event.user,
            reason=event.reason,
        )
    return payload


def limit_from_payload(payload: dict[str, Any]) -> LimitAdjusted:
    """A stored `limit_adjusted` payload back as the event (to restore the engine)."""
    return LimitAdjusted(
        alarm_id=payload["alarm_id"],
        room=payload["room"],
        at=datetime.fromisoformat(payload["at"]),
        parameter=payload["parameter"],
        low=payload["low"],
        high=payload["high"],
        user=payload["user"],
        reason=payload["reason"],
        case_id=payload.get("case_id"),
    )
