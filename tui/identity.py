"""Who the dashboard's user is, as the service says at start (the `whoami` command): the
role, the actions and steps it may do, the site's sedation drug list and the service's time.
Pure: decoded from the reply's result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui import json_reader as jr


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    role: str
    actions: frozenset[str]
    steps: tuple[str, ...]
    drugs: tuple[tuple[str, str], ...]  # (drug, unit)
    local_anesthetics: tuple[str, ...]
    now: datetime | None

    def may(self, action: str) -> bool:
        return action in self.actions

    def may_log(self, step: str) -> bool:
        return step in self.steps


def identity(result: Mapping[str, Any]) -> Identity:
    """The `whoami` result as an `Identity` (WireError naming the field when unreadable)."""
    drugs = tuple(
        (jr.text(d.get("drug"), f"{w}.drug"), jr.text(d.get("unit"), f"{w}.unit"))
        for d, w in jr.objects(result.get("drugs"), "whoami.drugs")
    )
    role = jr.text(result.get("role"), "whoami.role")
    if not role:
        raise jr.WireError("whoami.role: missing")
    return Identity(
        role=role,
        user=jr.text(result.get("user"), "whoami.user"),
        actions=frozenset(str(a) for a in jr.items(result.get("actions"), "whoami.actions")),
        steps=tuple(str(s) for s in jr.items(result.get("steps"), "whoami.steps")),
        drugs=drugs,
        local_anesthetics=tuple(
            str(x) for x in jr.items(result.get("local_anesthetics"), "whoami.local_anesthetics")
        ),
        now=jr.time(result.get("now"), "whoami.now"),
    )
