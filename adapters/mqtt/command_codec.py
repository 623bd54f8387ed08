"""Commands on the wire (docs/mqtt.md "Commands") to the application's typed requests.

Pure: `to_request` reads the JSON body of a command and returns a `suite.app.requests`
request, or raises `CommandError` (rule "bad-command" or "unknown-action") naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.mqtt import codec
from adapters.mqtt.codec import CommandError, CommandRequest
from suite.app import requests as rq
from suite.domain.bounds import OutOfRange, number

ACTIONS = tuple(rq.ACTION_OF.values())


def field_word(key: str, value: Any) -> str:
    """A JSON field as the `key=value` word `suite.app.steps.parse_step` reads."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                parts.append(":".join(str(v) for v in item.values()))
            else:
                parts.append(item if isinstance(item, str) else json.dumps(item))
        text = ",".join(parts)
    else:
        text = json.dumps(value)
    return f"{key}={text}"


def _text(body: Mapping[str, Any], key: str, *, action: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"{action} needs {key} (text)", rule="bad-command")
    return value.strip()


def _number(body: Mapping[str, Any], key: str, *, action: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    try:  # finite and of sane size: a 400-digit integer must not reach float()
        return number(value, where=f"{action}: {key}")
    except OutOfRange as exc:
        raise CommandError(f"{exc.message} (a number or null)", rule="bad-command") from None


def _time(value: Any, *, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return codec.parse_time(value, where=where)
    except codec.PayloadError as exc:
        raise CommandError(exc.message, rule="bad-command") from None


def to_request(command: CommandRequest) -> rq.Request:
    """The typed request of a decoded command; `CommandError` names what is wrong."""
    body, action = command.body, command.action
    if action == "log_step":
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            raise CommandError("log_step: fields must be an object", rule="bad-command")
        return rq.LogStep(
            case_ref=_text(body, "case_id", action=action),
            step=_text(body, "step", action=action),
            words=[field_word(k, v) for k, v in fields.items() if v is not None],
            at=_time(body.get("at"), where="at"),
            seen_version=codec.seen_version(body),
        )
    if action == "ack_alarm":
        return rq.AcknowledgeAlarm(_text(body, "alarm_id", action=action))
    if action == "silence_alarm":
        return rq.SilenceAlarm(_text(body, "alarm_id", action=action))
    if action == "adjust_limit":
        reason = body.get("reason")
        return rq.AdjustLimit(
            room=_text(body, "room", action=action),
            parameter=_text(body, "parameter", action=action),
            low=_number(body, "low", action=action),
            high=_number(body, "high", action=action),
            reason=reason if isinstance(reason, str) else "",
        )
    if action == "schedule_case":
        fields = body.get("fields")
        if not isinstance(fields, dict):
            raise CommandError("schedule_case needs fields (an object)", rule="bad-command")
        return rq.ScheduleCase(
            fields=fields, scheduled_at=_time(fields.get("at"), where="fields.at")
        )
    if action == "resync":
        return rq.Resync()
    if action == "whoami":
        return rq.WhoAmI()
    if action == "hl7_replay":
        row_id = body.get("message_id")
        if isinstance(row_id, str) and row_id.strip().lstrip("#").isdigit():
            row_id = int(row_id.strip().lstrip("#"))
        if isinstance(row_id, bool) or not isinstance(row_id, int):
            raise CommandError("hl7_replay needs message_id (a number)", rule="bad-command")
        return rq.ReplayMessage(row_id)
    if action == "report":
        return rq.WriteReport(_text(body, "case_id", action=action))
    if action == "dicom_assign":
        return rq.AssignImage(
            sop_instance_uid=_text(body, "sop_instance_uid", action=action),
            case_ref=_text(body, "case_id", action=action),
            force=body.get("force") is True,
        )
    raise CommandError(
        f"unknown action {action!r}; actions: {', '.join(ACTIONS)}", rule="unknown-action"
    )
