"""Shown instead of the dashboard when the service does not know the user: nothing can be
done as an unknown user, so nothing is offered but quitting."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static


class RefusedScreen(Screen[None]):
    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, user: str, where: str, why: str) -> None:
        super().__init__()
        self.user, self.where, self.why = user, where, why

    def compose(self) -> ComposeResult:
        text = Text(f"REFUSED: user {self.user!r} at {self.where}\n", style="bold")
        text.append(self.why)
        text.append("\n\nStart the dashboard again with your own user name (Ctrl+Q quits).")
        with Vertical(classes="dialog"):
            yield Static(text, id="refused")
        yield Footer()
