"""Short keyboard forms: pick a step, the base of every form, ask for a few words.

Enter moves to the next field and sends from the last; Ctrl+S sends from anywhere; Escape
cancels. Fields with a fixed set of values are `Choice`s (tui/choice.py): they cannot hold a
wrong value. A form given `send` sends itself and stays open, with its input, on a refusal.
The step forms are in step_form.py, the limit form in limit_form.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from suite.app.steps import STEPS
from tui import step_guide
from tui.choice import Choice
from tui.views import Reply


class StepPicker(ModalScreen[str | None]):
    """Type a few letters of a step, Enter to choose; the suggested next step comes first."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
    ]

    def __init__(self, suggested: str, allowed: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.suggested = suggested
        self.allowed = allowed  # the steps this user's role may log (None: all)

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
        if self.allowed is not None:
            names = [s for s in names if s in self.allowed]
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


Sender = Callable[[dict[str, Any]], Awaitable[Reply]]

# Refusals after which the form closes: there is nothing to correct in it.
CLOSE_ON = frozenset({"already-done", "permission", "unknown-user", "case-closed"})


class Form(ModalScreen[dict[str, Any] | None]):
    """A form that sends itself when given `send`: it closes on success (returning its values
    and the reply under "reply"); on a refusal it stays open with what was typed, shows the
    service's words and marks the field they name."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Send"),
    ]

    def __init__(self, *, send: Sender | None = None) -> None:
        super().__init__()
        self.send = send
        self.last_reply: Reply | None = None

    def fields(self) -> list[Widget]:
        """The fields, in order: what Enter moves through."""
        return [w for w in self.query("Input, Choice") if w.focusable]

    def inputs(self) -> list[Input]:
        return list(self.query(Input))

    def on_mount(self) -> None:
        self.focus_first()

    def focus_first(self) -> None:
        """Focus the first field without a value (subclasses choose another)."""
        fields = self.fields()
        empty = [i for i in fields if not getattr(i, "value", "")]
        if fields:
            (empty or fields)[0].focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._next(event.input)

    def on_key(self, event: Key) -> None:
        if event.key == "enter" and isinstance(self.focused, Choice):
            event.stop()
            self._next(self.focused)

    def _next(self, widget: Widget) -> None:
        fields = self.fields()
        index = fields.index(widget) if widget in fields else len(fields)
        if index + 1 < len(fields):
            fields[index + 1].focus()
        else:
            self.submit()

    def error(self, message: str | Text) -> None:
        self.query_one("#error", Static).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        if self.is_mounted and self.fields():  # a key may come before the form is up
            self.submit()

    def submit(self) -> None:
        raise NotImplementedError

    def finish(self, value: dict[str, Any]) -> None:
        """The form is filled in: send it (when it sends itself) or return it."""
        if self.send is None:
            self.dismiss(value)
            return
        self.run_worker(self._send(value), group="form-send", exclusive=True)

    async def _send(self, value: dict[str, Any]) -> None:
        assert self.send is not None
        self.error(Text("sending ...", style="dim"))
        reply = await self.send(value)
        self.last_reply = reply
        if reply.ok or reply.rule in CLOSE_ON:
            self.dismiss({**value, "reply": reply})
            return
        self.refused(reply)

    def refused(self, reply: Reply) -> None:
        """Keep the form and its input; say why and mark the fields the refusal names."""
        text = Text("REFUSED ", style="bold reverse")
        text.append(reply.error or reply.rule)
        self.error(text)
        words = reply.error.lower()
        marked: list[Widget] = []
        for widget in self.fields():
            name = (widget.id or "").removeprefix("f-")
            hit = bool(name) and (name in words or name.replace("_", " ") in words)
            widget.set_class(hit, "-invalid")
            if hit:
                marked.append(widget)
        if marked:
            marked[0].focus()


def _row(name: str, value: str, hint: str, choices: tuple[str, ...] = ()) -> Horizontal:
    return Horizontal(
        Label(name, classes="field-name"),
        Input(value=value, placeholder=hint, id=f"f-{name}", compact=True),
        classes="field",
    )


def choice_row(name: str, values: tuple[str, ...], value: str, hint: str = "") -> Horizontal:
    return Horizontal(
        Label(name, classes="field-name"),
        Choice(values, value, id=f"f-{name}"),
        Label(hint, classes="field-hint"),
        classes="field",
    )


class AskForm(Form):
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
        self.title_text, self.asked = title, fields
        self.values = values or {}  # prefilled
        self.note = note  # shown under the title (e.g. the choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="title")
            if self.note:
                yield Static(self.note)
            for name, hint in self.asked:
                yield _row(name, self.values.get(name, ""), hint)
            yield Static("", id="error", classes="error")
        yield Footer()

    def submit(self) -> None:
        value = {n: self.query_one(f"#f-{n}", Input).value.strip() for n, _ in self.asked}
        missing = [n for n, v in value.items() if not v]
        if missing:
            self.error(f"fill in {', '.join(missing)}")
            return
        self.finish(value)
