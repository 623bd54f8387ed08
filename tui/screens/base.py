"""What every dashboard screen has: the connection bar, the high-priority alarm banner, its
body, and the footer with every key."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.model import SuiteModel
from tui.widgets import AlarmBanner, StatusBar

if TYPE_CHECKING:
    from tui.app import SuiteApp

ROOMS = Binding.Group("Room")


class SuiteScreen(Screen[None]):
    room: str | None = None

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._shown: dict[str, Text | str] = {}

    @property
    def suite(self) -> SuiteApp:
        return cast("SuiteApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield AlarmBanner(id="banner")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        return iter(())

    def redraw(self) -> None:
        app = self.suite
        now = app.now()
        self.query_one(StatusBar).show(
            app.model,
            user=f"{app.client.user} ({app.role})" if app.role else app.client.user,
            where=app.client.where,
            now=now,
            tz=app.tz,
            sound_problem=app.alarm_sound.problem,
        )
        self.query_one(AlarmBanner).show(app.model, now=now, tz=app.tz)
        self.draw(app.model, now)

    def put(self, selector: str, content: Text | str) -> None:
        """Show `content` in the Static `selector`, repainting only when it changed."""
        shown = self._shown.get(selector)
        if shown is None or shown != content:
            self._shown[selector] = content
            self.query_one(selector, Static).update(content)

    def draw(self, model: SuiteModel, now: datetime) -> None:
        """Show the model as of `now` (called at most a few times a second)."""

    ready = False  # set once mounted: the app's redraw timer may fire while it is being built

    def on_mount(self) -> None:
        self.ready = True
        self.redraw()

    def on_screen_resume(self) -> None:
        if self.ready:
            self.redraw()

    def step_room(self, offset: int) -> str | None:
        """The room `offset` places from this one (wrapping), for [ and ]."""
        rooms = self.suite.model.room_names()
        if not rooms:
            return None
        if self.room not in rooms:
            return rooms[0]
        return rooms[(rooms.index(self.room) + offset) % len(rooms)]
