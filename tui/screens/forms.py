"""Short keyboard forms: pick a step, fill in a step, adjust a limit, ask for a few words.

Enter moves to the next field and sends from the last; Ctrl+S sends from anywhere; Escape
cancels. A step is checked with the service's own parser (suite/steps.py) before it is sent,
so a typing error is named at once; the service still decides and may refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from suite.app.steps import STEPS, parse_step
from suite.domain.alarms.parameters import Param
from suite.domain.errors import DomainError
from tui import step_guide


class StepPicker(ModalScreen[str | None]):
    """Type a few letters of a step, Enter to choose; the suggested next step comes first."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
    ]

    def __init__(self, suggested: str) -> None:
        super().__init__()
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Log which step? Type to filter, Enter to choose", classes="title")
            yield Input(placeholder="step name", id="filter", compact=True)
            yield OptionList(id="steps")
        yield Footer()

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#filter", Input).focus()

    def _fill(self, typed: str) -> None:
        typed = typed.strip().lower()
        names = [self.suggested, *(s for s in STEPS if s != self.suggested)]
        if typed:
            starts = [s for s in names if s.startswith(typed)]
            names = starts + [s for s in names if typed in s and s not in starts]
        options = self.query_one("#steps", OptionList)
        options.clear_options()
        for name in names:
            fields = " ".join(f.name for f in step_guide.fields_of(name)) or "-"
            prompt = Text(f"{name:<15} ", no_wrap=True, overflow="ellipsis")
            if name == self.suggested:
                prompt.append("NEXT ", style="bold reverse")
            room = 34 if name == self.suggested else 39  # one line each, even at 80 columns
            prompt.append(fields if len(fields) <= room else fields[: room - 1] + "~", style="dim")
            options.add_option(Option(prompt, id=name))
        if names:
            options.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one("#steps", OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, by: int) -> None:
        options = self.query_one("#steps", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + by))

    def action_cancel(self) -> None:
        self.dismiss(None)


class _Form(ModalScreen[dict[str, Any] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Send"),
    ]

    def inputs(self) -> list[Input]:
        return list(self.query(Input))

    def on_mount(self) -> None:
        fields = self.inputs()
        empty = [i for i in fields if not i.value]
        (empty or fields)[0].focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        fields = self.inputs()
        index = fields.index(event.input)
        if index + 1 < len(fields):
            fields[index + 1].focus()
        else:
            self.submit()

    def error(self, message: str) -> None:
        self.query_one("#error", Static).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        if self.is_mounted and self.query(Input):  # a key may come before the form is up
            self.submit()

    def submit(self) -> None:
        raise NotImplementedError


def _row(name: str, value: str, hint: str, choices: tuple[str, ...] = ()) -> Horizontal:
    suggester = SuggestFromList(choices, case_sensitive=False) if choices else None
    return Horizontal(
        Label(name, classes="field-name"),
        Input(value=value, placeholder=hint, id=f"f-{name}", suggester=suggester, compact=True),
        classes="field",
    )


class StepForm(_Form):
    """The fields of one step, prefilled; returns {"fields": {...}, "at": ISO time or None}."""

    def __init__(
        self,
        step: str,
        values: dict[str, str],
        *,
        title: str,
        now: Callable[[], datetime],
        tz: tzinfo | None,
    ) -> None:
        super().__init__()
        self.step, self.values, self.title_text = step, values, title
        self.now, self.tz = now, tz
        self.fields = step_guide.fields_of(step)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Log {self.title_text}", classes="title")
            for f in self.fields:
                yield _row(f.name, self.values.get(f.name, ""), f.hint, f.choices)
            yield _row("time", "", "HH:MM or HH:MM:SS today; blank = now")
            yield Static("", id="error", classes="error")
        yield Footer()

    def submit(self) -> None:
        typed = {f.name: self.query_one(f"#f-{f.name}", Input).value.strip() for f in self.fields}
        missing = [f.name for f in self.fields if f.required and not typed[f.name]]
        if missing:
            self.error(f"fill in {', '.join(missing)}")
            return
        now = self.now()
        try:
            at = step_guide.parse_clock(self.query_one("#f-time", Input).value, now=now, tz=self.tz)
        except ValueError as exc:
            self.error(str(exc))
            return
        filled = {k: v for k, v in typed.items() if v}
        try:
            parse_step(self.step, [f"{k}={v}" for k, v in filled.items()], at=at or now)
        except DomainError as exc:
            self.error(exc.message)
            return
        self.dismiss({"fields": filled, "at": at.isoformat() if at else None})


class LimitForm(_Form):
    """A limit for this room's patient: parameter, low, high and the reason (required)."""

    def __init__(self, room: str, parameter: str = "", low: str = "", high: str = "") -> None:
        super().__init__()
        self.room = room
        self.start = (parameter, low, high)

    def compose(self) -> ComposeResult:
        parameter, low, high = self.start
        names = tuple(p.value for p in Param)
        with Vertical(classes="dialog"):
            yield Static(f"Adjust an alarm limit for the patient in {self.room}", classes="title")
            yield _row("parameter", parameter, " | ".join(names), names)
            yield _row("low", low, "number, blank = no low limit")
            yield _row("high", high, "number, blank = no high limit")
            yield _row("reason", "", "why (recorded with your name)")
            yield Static("", id="error", classes="error")
        yield Footer()

    def submit(self) -> None:
        value = {
            n: self.query_one(f"#f-{n}", Input).value.strip()
            for n in ("parameter", "low", "high", "reason")
        }
        if value["parameter"] not in {p.value for p in Param}:
            self.error(
                f"parameter {value['parameter']!r}: one of {', '.join(p.value for p in Param)}"
            )
            return
        limits: dict[str, float | None] = {}
        for name in ("low", "high"):
            try:
                limits[name] = float(value[name]) if value[name] else None
            except ValueError:
                self.error(f"{name} {value[name]!r} is not a number")
                return
        if not value["reason"]:
            self.error("give a reason: it is recorded with the new limit")
            return
        self.dismiss(
            {
                "room": self.room,
                "parameter": value["parameter"],
                **limits,
                "reason": value["reason"],
            }
        )


class AskForm(_Form):
    """A few required words (e.g. the outbound message to replay)."""

    def __init__(
        self,
        title: str,
        fields: list[tuple[str, str]],
        *,
        values: dict[str, str] | None = None,
        note: str = "",
    ) -> None:
        super().__init__()
        self.title_text, self.fields = title, fields
        self.values = values or {}  # prefilled
        self.note = note  # shown under the title (e.g. the choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="title")
            if self.note:
                yield Static(self.note)
            for name, hint in self.fields:
                yield _row(name, self.values.get(name, ""), hint)
            yield Static("", id="error", classes="error")
        yield Footer()

    def submit(self) -> None:
        value = {n: self.query_one(f"#f-{n}", Input).value.strip() for n, _ in self.fields}
        missing = [n for n, v in value.items() if not v]
        if missing:
            self.error(f"fill in {', '.join(missing)}")
            return
        self.dismiss(value)
