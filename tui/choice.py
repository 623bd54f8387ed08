"""A field that cannot be filled wrong: one of a fixed list of values.

Left / right (or space) step through the values; a letter jumps to the next value starting
with it. It never holds a value that is not on its list, so an enum, a yes/no or a drug
from the site's list needs no typing and no error after the fact.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.events import Key
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static


class Choice(Static, can_focus=True):
    BINDINGS = [
        Binding("right,space", "step(1)", "Next value", show=False),
        Binding("left", "step(-1)", "Previous value", show=False),
    ]

    index: reactive[int] = reactive(0)

    class Changed(Message):
        """The value changed (by a key)."""

        def __init__(self, choice: Choice) -> None:
            super().__init__()
            self.choice = choice

    def __init__(
        self,
        values: tuple[str, ...],
        value: str = "",
        *,
        id: str | None = None,
        shown: dict[str, str] | None = None,
    ) -> None:
        super().__init__(id=id, classes="choice")
        if not values:
            raise ValueError("a Choice needs at least one value")
        self.values = values
        self.shown = shown or {}  # how a value reads on screen ("" -> "-")
        self.set_reactive(Choice.index, values.index(value) if value in values else 0)

    @property
    def value(self) -> str:
        return self.values[self.index]

    @value.setter
    def value(self, value: str) -> None:
        if value in self.values:
            self.index = self.values.index(value)

    def watch_index(self) -> None:
        self.post_message(self.Changed(self))

    def render(self) -> Text:
        word = self.shown.get(self.value, self.value) or "-"
        text = Text("< ", style="dim")
        text.append(word, style="bold")
        text.append(" >", style="dim")
        if len(self.values) > 1:
            text.append(f"  {self.index + 1}/{len(self.values)}", style="dim")
        return text

    def action_step(self, by: int) -> None:
        self.index = (self.index + by) % len(self.values)

    def on_key(self, event: Key) -> None:
        char = event.character
        if char is None or len(char) != 1 or not char.isalnum():
            return
        n = len(self.values)
        for k in range(1, n + 1):
            i = (self.index + k) % n
            if self.values[i].lower().startswith(char.lower()):
                self.index = i
                event.stop()
                return
