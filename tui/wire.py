"""The dashboard's side of the MQTT contract (docs/mqtt.md), pure and synchronous.

JSON payloads become the values of views.py; a command becomes its JSON request. A payload
that cannot be read raises `WireError` naming the topic and the field; unknown extra fields
are ignored, so a newer service with more in its snapshot still works. The room snapshot is
read by wire_room.py, alarm events by wire_alarms.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tui import json_reader as jr
from tui import wire_room
from tui.json_reader import WireError
from tui.views import DeviceStatus, Reply, RoomState, ServiceStatus, VitalsReading
from tui.wire_alarms import decode_alarm_event

__all__ = ["WireError", "decode_alarm_event"]


def decode_state(room: str, payload: bytes) -> RoomState | None:
    """A room's retained snapshot; None when the retained message was deleted (empty)."""
    if not payload:
        return None
    where = f"rooms/{room}/state"
    state = wire_room.room_state(jr.obj(jr.load(payload, what=where), where), where)
    if state.room and state.room != room:
        raise jr.WireError(f"{where}: the snapshot says room {state.room!r}")
    return state


# ---- devices and the service -------------------------------------------------------------------


def decode_vitals(room: str, device: str, payload: bytes) -> VitalsReading:
    """A monitor's sample; values that are not numbers are left out (the service alarms them)."""
    where = f"rooms/{room}/vitals/{device}"
    data = jr.obj(jr.load(payload, what=where, max_bytes=65_536), where)
    values = jr.obj(data.get("values"), f"{where}.values")
    kept: dict[str, float | None] = {}
    for key, value in values.items():
        if value is None:
            kept[str(key)] = None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            kept[str(key)] = float(value)
    return VitalsReading(room, device, jr.required_time(data.get("ts"), f"{where}.ts"), kept)


def decode_device_status(room: str, device: str, payload: bytes) -> DeviceStatus:
    word = payload[:64].decode("utf-8", "replace").strip().strip('"').lower()
    if not word:
        return DeviceStatus(room, device, None)
    if word not in ("online", "offline"):
        raise jr.WireError(
            f"rooms/{room}/devices/{device}/status: {word[:20]!r} is not online/offline"
        )
    return DeviceStatus(room, device, word == "online")


def decode_service_status(payload: bytes) -> ServiceStatus:
    """`procsuite/<site>/status`: a JSON object with `online`, or a bare online / offline."""
    text = payload[:64].decode("utf-8", "replace").strip().strip('"').lower()
    if text in ("online", "offline", ""):
        return ServiceStatus(online=(text == "online") if text else None, at=None, data={})
    data = jr.obj(jr.load(payload, what="status"), "status")
    online = data.get("online")
    if not isinstance(online, bool):
        state = data.get("status") or data.get("state")
        online = state == "online" if isinstance(state, str) else None
    return ServiceStatus(online=online, at=jr.time(data.get("at"), "status.at"), data=data)


# ---- commands ----------------------------------------------------------------------------------


def encode_command(command_id: str, action: str, fields: Mapping[str, Any]) -> bytes:
    """The JSON request of a command: `{"id", "action", ...fields}`."""
    if "id" in fields or "action" in fields:
        raise ValueError("a command's fields cannot be named id or action")
    body = {"id": command_id, "action": action, **fields}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def decode_reply(payload: bytes) -> Reply:
    data = jr.obj(jr.load(payload, what="reply"), "reply")
    ok = data.get("ok")
    if not isinstance(ok, bool):
        raise jr.WireError("reply.ok: expected true or false")
    result = data.get("result")
    return Reply(
        id=str(data.get("id", "")),
        ok=ok,
        result=result if isinstance(result, Mapping) else {"value": result} if result else {},
        error=jr.text(data.get("error"), "reply.error"),
        rule=jr.text(data.get("rule"), "reply.rule"),
    )
