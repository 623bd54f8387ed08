"""The limit form: opened on the selected alarm's parameter, prefilled with the limits in
force, showing what may be set; a refusal keeps it open with its input (forms.py `Form`)."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Input, Static

from suite.domain.alarms.parameters import PARAMETERS, Param
from tui import labels
from tui.choice import Choice
from tui.screens.forms import Form, Sender, _row, choice_row
from tui.views import Limits


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class LimitForm(Form):
    """A limit for this room's patient: parameter, low, high and the reason (required)."""

    def __init__(
        self,
        room: str,
        parameter: str = "",
        *,
        limits: Mapping[str, Limits] | None = None,
        side: str = "",
        send: Sender | None = None,
    ) -> None:
        super().__init__(send=send)
        self.side = side  # "low" / "high": the limit the selected alarm is about
        self.room = room
        self.parameter = parameter if parameter in {p.value for p in Param} else Param.SPO2.value
        self.limits = dict(limits or {})

    def compose(self) -> ComposeResult:
        names = tuple(p.value for p in Param)
        limit = self.limits.get(self.parameter)
        with Vertical(classes="dialog"):
            yield Static(f"Adjust an alarm limit for the patient in {self.room}", classes="title")
            yield choice_row("parameter", names, self.parameter, "<- -> or a letter")
            yield Static(id="in-force", classes="dim")
            yield _row("low", _number(limit.low if limit else None), "number")
            yield _row("high", _number(limit.high if limit else None), "number")
            yield _row("reason", "", "why (recorded with your name)")
            yield Static("", id="error", classes="error")
        yield Footer()

    def focus_first(self) -> None:
        self._show_in_force()
        if self.side in ("low", "high"):
            self.query_one(f"#f-{self.side}", Input).focus()
        else:
            super().focus_first()

    def _show_in_force(self) -> None:
        key = self.query_one("#f-parameter", Choice).value
        limit = self.limits.get(key)
        info = PARAMETERS[Param(key)]
        allowed = (
            limit.allowed if limit and limit.allowed else (info.physical_min, info.physical_max)
        )
        in_force = labels.limits(key, limit.low, limit.high) if limit else "not published"
        self.query_one("#in-force", Static).update(
            f"in force: {in_force}; may be set within {allowed[0]:g}-{allowed[1]:g} {info.unit};"
            " a limit in force cannot be left blank"
        )

    def on_choice_changed(self, event: Choice.Changed) -> None:
        if event.choice.id == "f-parameter" and self.is_mounted and self.query("#in-force"):
            limit = self.limits.get(event.choice.value)
            self.query_one("#f-low", Input).value = _number(limit.low if limit else None)
            self.query_one("#f-high", Input).value = _number(limit.high if limit else None)
            self._show_in_force()

    def submit(self) -> None:
        parameter = self.query_one("#f-parameter", Choice).value
        value = {
            n: self.query_one(f"#f-{n}", Input).value.strip() for n in ("low", "high", "reason")
        }
        limits: dict[str, float | None] = {}
        for name in ("low", "high"):
            try:
                limits[name] = float(value[name]) if value[name] else None
            except ValueError:
                self.error(f"{name} {value[name]!r} is not a number")
                self.query_one(f"#f-{name}", Input).focus()
                return
        in_force = self.limits.get(parameter)
        for name in ("low", "high"):
            if (
                limits[name] is None
                and in_force is not None
                and getattr(in_force, name) is not None
            ):
                self.error(f"the {name} limit is in force: it can be moved, not left blank")
                self.query_one(f"#f-{name}", Input).focus()
                return
        if not value["reason"]:
            self.error("give a reason: it is recorded with the new limit")
            self.query_one("#f-reason", Input).focus()
            return
        self.finish(
            {"room": self.room, "parameter": parameter, **limits, "reason": value["reason"]}
        )
