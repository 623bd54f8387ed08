"""Turn domain commands back into the words a person types after `procsuite case log ID`."""

from __future__ import annotations

import dataclasses

from suite.app.steps import STEPS
from suite.domain import commands as c
from suite.domain.codec import to_data

_NAMES = {cls: name for name, cls in STEPS.items()}


def words(command: c.Command) -> list[str]:
    step = _NAMES[type(command)]
    out = [step]
    for f in dataclasses.fields(command):
        if f.name == "at":
            continue
        value = to_data(getattr(command, f.name))
        if value is None:
            continue
        if isinstance(value, list):
            value = ",".join(
                ":".join(str(v) for v in item.values()) if isinstance(item, dict) else str(item)
                for item in value
            )
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out.append(f"{f.name}={value}")
    return [*out, "--at", command.at.isoformat()]
