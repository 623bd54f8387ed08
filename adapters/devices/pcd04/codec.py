"""PCD-04 codec: an alarm event (the stored payload of `alarm_events`) -> an ORU^R40. Pure.

One alarm per message. OBR-3 is the alarm's identity (`<alarm id>^<application>`), the same
in its start, update and end messages; OBR-29 names it again as the parent on every message
after the start. The facets are OBX rows numbered in the 5th component of OBX-4
(`1.0.0.<param code>.<facet>`): `.1` the alarm type with OBX-8 `abnormality~priority~source`,
`.2` the metric (value, unit, limits in OBX-7) for a physiological alarm, `.3` the event
phase, `.4` the alarm state, `.5` the inactivation state (docs/devices.md, DEVICES.md).

Transitions (`transition_of`): raised -> start; escalated -> escalate; acknowledged -> update
(alert-acknowledged); condition returned -> continue; condition ended -> end (a latching alarm
that is still open: update, latched); cleared -> end, unless an end was already sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.devices.hl7v2 import escape, format_ts
from suite.domain.alarms.parameters import PARAMETERS, Param

PROFILE = "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO"
MDC_EVT_ALARM = "196616^MDC_EVT_ALARM^MDC"
_EVT_LO = "196670^MDC_EVT_LO^MDC"
_EVT_HI = "196648^MDC_EVT_HI^MDC"
PRIORITY = {"high": "PH", "medium": "PM", "low": "PL"}
SOURCE = {"physiological": "SP", "technical": "ST", "procedure": "SA"}


@dataclass(frozen=True, slots=True)
class Transition:
    """What the alert manager is told: event phase, alarm state, inactivation state."""

    phase: str  # start, continue, end, update, escalate
    state: str  # active, inactive, latched
    inactivation: str  # enabled, alert-acknowledged


@dataclass(frozen=True, slots=True)
class Addressing:
    application: str
    facility: str
    receiving_application: str
    receiving_facility: str
    point_of_care: str
    site: str


def transition_of(event: str, payload: dict[str, Any], sent: Sequence[str]) -> Transition | None:
    """The PCD-04 transition of an alarm event, or None when it is not one (limit changes)
    or was already told (`sent`: the phases queued before for this alarm)."""
    acknowledged = payload.get("state") == "acknowledged" or bool(payload.get("acknowledged_at"))
    inact = "alert-acknowledged" if acknowledged else "enabled"
    if not acknowledged and _audio_paused(payload):
        inact = "audio-paused"
    if "end" in sent:
        return None  # the alert manager has closed this alarm
    if event == "raised":
        return Transition("start", "active", "enabled")
    if event == "escalated":
        return Transition("escalate", "active", inact)
    if event == "acknowledged":
        active = payload.get("condition_active", True)
        return Transition("update", "active" if active else "latched", "alert-acknowledged")
    if event == "audio_paused":
        active = payload.get("condition_active", True)
        return Transition("update", "active" if active else "latched", inact)
    if event == "condition_returned":
        return Transition("continue", "active", inact)
    if event == "condition_ended":
        if payload.get("latching") and payload.get("state") != "cleared":
            return Transition("update", "latched", inact)
        return Transition("end", "inactive", inact)
    if event == "cleared":
        return Transition("end", "inactive", inact)
    return None


def _audio_paused(payload: dict[str, Any]) -> bool:
    """Whether a person's silence still pauses the alarm's audio at the event's time."""
    until, at = payload.get("audio_paused_until"), payload.get("at")
    if not isinstance(until, str) or not isinstance(at, str):
        return False
    try:
        return datetime.fromisoformat(until) > datetime.fromisoformat(at)
    except ValueError:
        return False


def _alarm_type(kind: str) -> tuple[str, str]:
    """OBX-3 of facet 1 and the abnormality flag (OBX-8.1)."""
    if kind.endswith("_low"):
        return _EVT_LO, "L"
    if kind.endswith("_high"):
        return _EVT_HI, "H"
    return MDC_EVT_ALARM, "A"


def build_r40(
    payload: dict[str, Any],
    transition: Transition,
    *,
    control_id: str,
    now: datetime,
    to: Addressing,
    bed: str = "",
    limits: tuple[float | None, float | None] | None = None,
) -> str:
    """The ORU^R40 of one transition (segments separated by CR, not framed)."""
    alarm_id = str(payload.get("alarm_id", ""))
    room = str(payload.get("room", ""))
    at = format_ts(datetime.fromisoformat(str(payload["at"])) if payload.get("at") else now)
    source = payload.get("source") or {}
    param_key = str(source.get("parameter") or "")
    param = Param(param_key) if param_key in Param._value2member_map_ else None
    info = PARAMETERS[param] if param is not None else None
    sub = f"1.0.0.{info.mdc_numeric if info else 0}"
    evt, abnormality = _alarm_type(str(payload.get("kind", "")))
    flags = f"{abnormality}~{PRIORITY.get(str(payload.get('priority')), 'PM')}~" + SOURCE.get(
        str(payload.get("category")), "ST"
    )
    identity = f"{escape(alarm_id)}^{escape(to.application)}"
    device = escape(str(source.get("device") or to.application))
    location = "^".join(
        escape(x) for x in (to.point_of_care, to.site if room == "*" else room, bed)
    )
    parent = "" if transition.phase == "start" else f"{escape(alarm_id)}&{escape(to.application)}"
    obr = ["OBR", "1", identity, identity, MDC_EVT_ALARM, "", "", at] + [""] * 21 + [parent]
    segments = [
        "|".join(
            [
                "MSH",
                "^~\\&",
                escape(to.application),
                escape(to.facility),
                escape(to.receiving_application),
                escape(to.receiving_facility),
                format_ts(now),
                "",
                "ORU^R40^ORU_R40",
                escape(control_id),
                "P",
                "2.6",
                "",
                "",
                "AL",
                "NE",
                "",
                "UNICODE UTF-8",
                "",
                "",
                PROFILE,
            ]
        ),  # fmt: skip
        "PID|||" + escape(str(payload.get("case_id") or "")) + "^^^procsuite^VN",
        f"PV1||I|{location}",
        "|".join(obr).rstrip("|") if not parent else "|".join(obr),
        "|".join(
            [
                "OBX",
                "1",
                "ST",
                evt,
                f"{sub}.1",
                escape(str(payload.get("message", ""))),
                "",
                "",
                flags,
                "",
                "",
                "F",
                "",
                "",
                at,
                "",
                "",
                "",
                device,
            ]
        ),  # fmt: skip
    ]
    n = 2
    value = _last_value(source)
    if info is not None and value is not None:
        limit = ""
        if limits is not None:
            lo, hi = limits
            limit = f"{'' if lo is None else f'{lo:g}'}-{'' if hi is None else f'{hi:g}'}"
        segments.append(
            "|".join(
                [
                    "OBX",
                    str(n),
                    "NM",
                    f"{info.mdc_numeric}^{info.mdc_code}^MDC",
                    f"{sub}.2",
                    f"{value:g}",
                    f"{info.mdc_unit_numeric}^{info.mdc_unit}^MDC",
                    limit,
                    "",
                    "",
                    "",
                    "F",
                    "",
                    "",
                    at,
                ]
            )  # fmt: skip
        )
        n += 1
    for facet, code, text in (
        (3, "68481^MDC_ATTR_EVENT_PHASE^MDC", transition.phase),
        (4, "68482^MDC_ATTR_ALARM_STATE^MDC", transition.state),
        (5, "68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC", transition.inactivation),
    ):
        segments.append(f"OBX|{n}|ST|{code}|{sub}.{facet}|{text}||||||F")
        n += 1
    return "\r".join(segments) + "\r"


def _last_value(source: dict[str, Any]) -> float | None:
    """The alarm's latest reading (its evidence samples are [time, value] pairs)."""
    for _at, value in reversed(source.get("evidence") or []):
        if value is not None:
            return float(value)
    return None
