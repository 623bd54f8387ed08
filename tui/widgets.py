"""Widgets every screen shows: the connection bar, the high-priority alarm banner, the answer
to the last command."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import Static

from tui import labels, sparkline
from tui.client import OFFLINE, TIMEOUT
from tui.model import SuiteModel
from tui.views import Link, Reply

BANNER_LINES = 2


class StatusBar(Static):
    """Who is logged in, the link to the service, and STALE when it is lost."""

    def show(
        self,
        model: SuiteModel,
        *,
        user: str,
        where: str,
        now: datetime,
        tz: tzinfo | None,
        sound_problem: str = "",
    ) -> None:
        link = model.link
        text = Text()
        text.append(f" procsuite  {user} ", style="bold")
        if link is None or (link.link is Link.CONNECTING and model.stale_since is None):
            text.append(f" CONNECTING to {where}", style="bold")
            if link is not None and link.attempt > 1:
                text.append(f" (attempt {link.attempt})")
            self.set_class(False, "-lost")
        elif link.link is Link.CONNECTED:
            text.append(f" CONNECTED {where}")
            self.set_class(False, "-lost")
        else:
            since = labels.clock_time(model.stale_since or link.at, tz)
            text.append(f" CONNECTION LOST {since} - data STALE - reconnecting", style="bold")
            if link.attempt:
                text.append(f" (attempt {link.attempt})")
            self.set_class(True, "-lost")
        if model.service is not None and model.service.online is False:
            text.append("  SERVICE OFFLINE", style="bold reverse")
        text.append(f"  {labels.clock_time(now, tz)}")
        if sound_problem:  # the alarm sound's own command failed: the bell sounds instead
            text.append(f"  SOUND: {sound_problem}, bell instead", style="bold reverse")
        self.update(text)


class AlarmBanner(Static):
    """The high-priority alarms of every room, each with the time since its onset and its
    audio pause; hidden when there are none."""

    def show(self, model: SuiteModel, *, now: datetime, tz: tzinfo | None) -> None:
        alarms = model.banner_alarms()
        self.display = bool(alarms)
        if not alarms:
            return
        text = Text()
        for i, alarm in enumerate(alarms[:BANNER_LINES]):
            if i:
                text.append("\n")
            text.append_text(labels.alarm_line(alarm, tz, now=now))
        if len(alarms) > BANNER_LINES:
            text.append(f"  (+{len(alarms) - BANNER_LINES} more high alarms: see the board)")
        if not model.connected:
            text.append("  STALE", style=labels.STALE_STYLE)
        self.update(text)


class ResultLine(Static):
    """The answer to the last command: done, or REFUSED with the rule in words. A line
    expires (hides) after `expire_s`, a refusal after `refused_expire_s`, so an old answer
    is never read as the answer to what was just done."""

    expire_s = 30.0
    refused_expire_s = 120.0

    def on_mount(self) -> None:
        self.display = False
        self._shown = 0  # which message the expiry timer belongs to

    def _show(self, text: Text, *, refused: bool, expire: bool = True) -> None:
        self.display = True
        self.set_class(refused, "-refused")
        self.update(text)
        self._shown = getattr(self, "_shown", 0) + 1
        if expire:
            shown = self._shown
            after = self.refused_expire_s if refused else self.expire_s
            self.set_timer(after, lambda: self._expire(shown))

    def _expire(self, shown: int) -> None:
        if shown == self._shown:
            self.display = False

    def pending(self, what: str) -> None:
        self._show(Text(f"sending: {what} ..."), refused=False, expire=False)

    def show_reply(self, what: str, reply: Reply) -> None:
        if reply.ok:
            self._show(Text(f"DONE {what}"), refused=False)
            return
        # Only the service refuses; a command that never reached it says so instead.
        word = {OFFLINE: "NOT SENT", TIMEOUT: "NO ANSWER"}.get(reply.rule, "REFUSED")
        text = Text(word, style=labels.REFUSED_STYLE)
        text.append(f" {what}: {reply.error}", style="bold")
        if reply.rule:
            text.append(f" [{reply.rule}]")
        self._show(text, refused=True)

    def note(self, message: str) -> None:
        """Something the user should know that is not a refusal (nothing was sent)."""
        self._show(Text(message, style="bold"), refused=False)

    def problem(self, message: str) -> None:
        self._show(Text(f"NOT SENT: {message}", style="bold"), refused=True)


class Trend(Static):
    """A sparkline of one parameter; `show` draws the latest samples at the widget's width."""

    def __init__(
        self, param: str, *, spans: Mapping[str, float] = sparkline.MIN_SPAN, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.param = param
        self.min_span = spans.get(param, 0.0)
        self.values: list[float | None] = []

    def show(self, values: Sequence[float | None]) -> None:
        self.values = list(values)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = self.size.width or 40
        line = sparkline.render(self.values, width, self.min_span) if len(self.values) > 1 else ""
        self.update(Text(line, style="cyan", no_wrap=True))
