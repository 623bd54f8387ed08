"""Helping a technologist log the next step fast: which step comes next, and its form's
fields prefilled from the case. Pure; the service still decides (and may refuse).

Field names and types come from suite/steps.py (`STEPS`, `step_fields`), so the form always
matches what the service parses.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from enum import Enum

from suite.app.steps import STEPS, step_fields
from suite.domain.checklist import ChecklistItem
from tui.views import CaseView, LevelView

# Filled in by the service, not typed by a person.
SERVICE_FIELDS = {"discharge": {"vitals_stable_since"}}

# How to type a field that is not a plain word or number.
HINTS = {
    "drugs": "drug:dose:unit, comma-separated (midazolam:1:mg,fentanyl:50:mcg)",
    "levels": "comma-separated (T12,L1)",
    "patient_confirmed": "true once the patient's identity is confirmed",
}

# Which level a per-level step goes to by default: the first planned level still needing it.
LEVEL_NEEDS: dict[str, Callable[[LevelView], bool]] = {
    "trocar": lambda lv: lv.trocar is None,
    "confirm-trocar": lambda lv: lv.trocar is not None and lv.trocar_confirmed_at is None,
    "balloon": lambda lv: lv.trocar_confirmed_at is not None and lv.balloon_pressure_psi is None,
    "balloon-out": lambda lv: lv.balloon_pressure_psi is not None and lv.balloon_removed_at is None,
    "cement": lambda lv: not lv.injections,
}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    hint: str
    choices: tuple[str, ...] = ()
    required: bool = True


def fields_of(step: str) -> list[Field]:
    """The fields a person fills in for `step`, with a hint and the allowed words."""
    cls = STEPS[step]
    hints = typing.get_type_hints(cls)
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    found = []
    for name in step_fields(step):
        if name in SERVICE_FIELDS.get(step, ()):
            continue
        tp = hints[name]
        choices: tuple[str, ...] = ()
        if isinstance(tp, type) and issubclass(tp, Enum):
            choices = tuple(str(m.value) for m in tp)
            if tp is ChecklistItem:
                choices = tuple(c for c in choices if c != ChecklistItem.LABS.value)
        elif tp is bool:
            choices = ("true", "false")
        f = defaults[name]
        optional = f.default is not dataclasses.MISSING or tp == (str | None)
        hint = HINTS.get(name) or (" | ".join(choices) if choices else _type_hint(tp))
        found.append(Field(name, hint, choices, required=not optional))
    return found


def _type_hint(tp: object) -> str:
    if tp is float:
        return "number"
    if tp is str or tp == (str | None):
        return "text"
    return "value"


def _first_level(case: CaseView, need: Callable[[LevelView], bool]) -> str | None:
    for lv in case.level_views:
        if need(lv):
            return lv.level
    return None


def suggest(case: CaseView) -> tuple[str, dict[str, str]]:
    """The step that usually comes next, with a level or checklist item when it needs one."""
    kypho = case.procedure == "kyphoplasty"
    match case.phase:
        case "scheduled":
            return "check-in", {}
        case "checked_in" | "pre_procedure":
            missing = [m for m in case.checklist_missing if m != ChecklistItem.LABS.value]
            if missing:
                return "checklist", {"item": missing[0]}
            if ChecklistItem.LABS.value in case.checklist_missing:
                return "labs", {}
            return "time-out", {}
        case "time_out":
            return "sedation", {}
        case "sedation":
            return "position", {}
        case "positioning":
            return "local", {}
        case "local_anesthesia" | "trocar_placement" | "balloon_tamp" | "cement_injection":
            return _needle_step(case, kypho)
        case "imaging_check":
            return "close", {}
        case "closure":
            return "recovery", {}
        case "recovery":
            return "discharge", {}
    return "note", {}


def _needle_step(case: CaseView, kypho: bool) -> tuple[str, dict[str, str]]:
    for lv in case.level_views:
        if lv.trocar is None:
            return "trocar", {"level": lv.level}
        if lv.trocar_confirmed_at is None:
            return "confirm-trocar", {"level": lv.level}
        if kypho and lv.balloon_pressure_psi is None:
            return "balloon", {"level": lv.level}
        if kypho and lv.balloon_removed_at is None:
            return "balloon-out", {"level": lv.level}
    if case.cement_mixed_at is None:
        return "mix", {}
    level = _first_level(case, LEVEL_NEEDS["cement"])
    if level is not None:
        return "cement", {"level": level}
    last = max((i.at for lv in case.level_views for i in lv.injections if i.at), default=None)
    if last is not None and not any(im.at is not None and im.at >= last for im in case.images):
        return "image", {"modality": "XA"}
    return "imaging-check", {}


def prefill(step: str, case: CaseView, *, user: str) -> dict[str, str]:
    """Starting values of `step`'s form: its defaults, the case's order, the signer."""
    cls = STEPS[step]
    values: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        if f.name == "at" or f.default is dataclasses.MISSING or f.default is None:
            continue
        default = f.default
        if isinstance(default, bool):
            values[f.name] = "true" if default else "false"
        else:
            values[f.name] = str(default.value if isinstance(default, Enum) else default)
    if step == "time-out":
        values.update(procedure=case.procedure, levels=",".join(case.levels), signed_by=user)
    elif step == "imaging-check":
        values["signed_by"] = user
    elif step in LEVEL_NEEDS:
        level = _first_level(case, LEVEL_NEEDS[step])
        if level is not None or case.levels:
            values["level"] = level or case.levels[0]
    suggested, extra = suggest(case)
    if suggested == step:
        values.update(extra)  # the checklist item that is missing, the image's modality
    return values


def parse_clock(text: str, *, now: datetime, tz: tzinfo | None) -> datetime | None:
    """ "14:05" or "14:05:30" today in `tz` (None for blank); ValueError when unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        t = time.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"time {text!r}: type HH:MM or HH:MM:SS, or leave it blank for now"
        ) from None
    local_now = now.astimezone(tz)
    return local_now.replace(hour=t.hour, minute=t.minute, second=t.second, microsecond=0)
