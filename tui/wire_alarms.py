"""Alarm lifecycle events of `alarms/<room>` and the alarm views inside snapshots
(docs/mqtt.md "Alarm events"): every event carries the alarm's view after it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tui import json_reader as jr
from tui.views import AlarmUpdate, AlarmView, LimitChange


def alarm_view(data: Mapping[str, Any], where: str = "alarm") -> AlarmView:
    return AlarmView(
        alarm_id=jr.text(data.get("alarm_id"), f"{where}.alarm_id"),
        room=jr.text(data.get("room"), f"{where}.room"),
        kind=jr.text(data.get("kind"), f"{where}.kind"),
        priority=jr.priority(data.get("priority"), f"{where}.priority"),
        message=jr.text(data.get("message"), f"{where}.message"),
        state=jr.text(data.get("state"), f"{where}.state", "active"),
        raised_at=jr.time(data.get("raised_at"), f"{where}.raised_at"),
        category=jr.text(data.get("category"), f"{where}.category"),
        case_id=data.get("case_id") if isinstance(data.get("case_id"), str) else None,
        latching=bool(data.get("latching", False)),
        condition_active=bool(data.get("condition_active", True)),
        acknowledged_by=data.get("acknowledged_by") or None,
        acknowledged_at=jr.time(data.get("acknowledged_at"), f"{where}.acknowledged_at"),
        cleared_at=jr.time(data.get("cleared_at"), f"{where}.cleared_at"),
        audio_paused_by=data.get("audio_paused_by") or None,
        audio_paused_until=jr.time(data.get("audio_paused_until"), f"{where}.audio_paused_until"),
    )


def limit_change(data: Mapping[str, Any], where: str) -> LimitChange:
    return LimitChange(
        parameter=jr.text(data.get("parameter"), f"{where}.parameter"),
        low=jr.number(data.get("low"), f"{where}.low"),
        high=jr.number(data.get("high"), f"{where}.high"),
        user=jr.text(data.get("user"), f"{where}.user"),
        reason=jr.text(data.get("reason"), f"{where}.reason"),
        at=jr.time(data.get("at"), f"{where}.at"),
    )


def decode_alarm_event(room: str, payload: bytes) -> AlarmUpdate:
    """An event of `alarms/<room>`: its name, time and the alarm's view after it."""
    where = f"alarms/{room}"
    data = jr.obj(jr.load(payload, what=where), where)
    event = jr.text(data.get("event"), f"{where}.event")
    if not event:
        raise jr.WireError(f"{where}: the event has no name")
    at = jr.required_time(data.get("at"), f"{where}.at")
    event_id = data.get("event_id")
    user = data.get("user")
    limited = event == "limit_adjusted"
    return AlarmUpdate(
        event=event,
        room=jr.text(data.get("room"), f"{where}.room", room) or room,
        at=at,
        alarm=None if limited else alarm_view(data, where),
        user=user if isinstance(user, str) else None,
        reason=jr.text(data.get("reason"), f"{where}.reason"),
        event_id=event_id if isinstance(event_id, int) else None,
        limit=limit_change(data, where) if limited else None,
    )
