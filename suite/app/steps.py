"""Step names people type (CLI, terminal UI, MQTT commands) and how their words become commands.

`procsuite case log ID trocar level=L1 approach=transpedicular` names a step and its fields as
`key=value`; a list is comma-separated (`levels=T12,L1`) and a list of records separates its
fields with colons (`drugs=midazolam:1:mg,fentanyl:50:mcg`).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import datetime
from typing import Any

from suite.domain import commands as c
from suite.domain.codec import from_data
from suite.domain.errors import InvalidValue

STEPS: dict[str, type[c.Command]] = {
    "check-in": c.CheckIn,
    "checklist": c.RecordChecklistItem,
    "labs": c.RecordLabs,
    "time-out": c.SignTimeOut,
    "sedation": c.GiveSedation,
    "position": c.PositionPatient,
    "local": c.GiveLocalAnesthetic,
    "trocar": c.PlaceTrocar,
    "confirm-trocar": c.ConfirmTrocar,
    "balloon": c.InflateBalloon,
    "balloon-out": c.RemoveBalloon,
    "mix": c.MixCement,
    "cement": c.InjectCement,
    "image": c.LinkImage,
    "dose": c.RecordDose,
    "imaging-check": c.RecordImagingCheck,
    "close": c.CloseWound,
    "recovery": c.StartRecovery,
    "discharge": c.Discharge,
    "cancel": c.CancelCase,
    "abort": c.AbortCase,
    "note": c.AddNote,
}


def step_fields(step: str) -> list[str]:
    """The `key=value` names a step takes (besides the time)."""
    return [f.name for f in dataclasses.fields(STEPS[step]) if f.name != "at"]


def _word(tp: Any, text: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple:
        (item,) = typing.get_args(tp)[:1]
        parts = [p for p in text.split(",") if p.strip()]
        return [_word(item, p.strip()) for p in parts]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        names = [f.name for f in dataclasses.fields(tp)]
        values = text.split(":")
        return {n: _scalar(v) for n, v in zip(names, values, strict=False)}
    if tp is str or tp == (str | None):
        return text
    return _scalar(text)


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_step(step: str, words: list[str], *, at: datetime) -> c.Command:
    """The command for `step` from `key=value` words; `InvalidValue` names what is wrong."""
    cls = STEPS.get(step)
    if cls is None:
        raise InvalidValue(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    hints = typing.get_type_hints(cls)
    data: dict[str, Any] = {"at": at}
    for word in words:
        key, sep, value = word.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in hints or key == "at":
            raise InvalidValue(
                f"{step}: {word!r} is not key=value with a known key ({', '.join(step_fields(step))})"
            )
        data[key] = _word(hints[key], value)
    return from_data(cls, data, where=step)
