"""Vitals and alarms of one room: live numbers with trends and limits, the open alarms by
priority (text and colour), acknowledge with `a`, silence (pause the audio of) the selected
alarm with `s`, adjust a limit for this patient with `l`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from suite.domain.alarms.parameters import Param
from tui import labels
from tui.model import SuiteModel
from tui.screens.base import ROOMS, SuiteScreen
from tui.screens.limit_form import LimitForm
from tui.trend_plots import TrendPlots
from tui.views import AlarmView, Reply
from tui.widgets import ResultLine, Trend


class VitalsScreen(SuiteScreen):
    DEFAULT_CSS = """
    VitalsScreen #plots { display: none; }
    """
    BINDINGS = [
        Binding("a", "acknowledge", "Ack"),
        Binding("s", "silence", "Silence"),
        Binding("l", "adjust_limit", "Limit"),
        Binding("c", "case", "Case"),
        Binding("t", "trends", "Trends"),
        Binding("left_square_bracket", "room(-1)", "Prev room", key_display="[", group=ROOMS),
        Binding("right_square_bracket", "room(1)", "Next room", key_display="]", group=ROOMS),
    ]

    def __init__(self, room: str) -> None:
        super().__init__(name="vitals")
        self.room = room
        self._alarm_rows: list[str] = []
        self._alarm_sig: tuple[Any, ...] | None = None
        self._plotted: tuple[int, int, float] | None = None  # (width, height, when) plotted

    def compose_body(self) -> ComposeResult:
        yield Static(id="vitals-head", classes="head")
        yield TrendPlots(id="plots")  # `t`: plots over the case instead of the numbers
        with Vertical(id="params"):
            for p in Param:
                with Horizontal(classes="param", id=f"row-{p.value}"):
                    yield Static(classes="param-value", id=f"value-{p.value}")
                    yield Trend(p.value, id=f"trend-{p.value}", classes="trend")
                    yield Static(classes="param-limits", id=f"limits-{p.value}")
        yield ResultLine(id="result")
        alarms: DataTable[Text] = DataTable(id="alarms", cursor_type="row", cell_padding=1)
        yield alarms
        yield Static(id="alarm-log", classes="log")

    def on_mount(self) -> None:
        table = self.query_one("#alarms", DataTable)
        table.add_column("Priority", key="priority", width=8)
        table.add_column("State", key="state")  # as wide as its longest: never cut
        table.add_column("Since", key="since", width=8)
        table.add_column("Alarm", key="message")
        super().on_mount()

    def draw(self, model: SuiteModel, now: datetime) -> None:
        room = self.room or ""
        state = model.rooms.get(room)
        head = Text(f"{room} vitals and alarms", style="bold")
        if state is not None and state.case is not None:
            head.append(
                f"  {state.case.procedure} {', '.join(state.case.levels)}  phase {state.case.phase}"
            )
        if model.room_stale(room, now):
            head.append("  STALE", style=labels.STALE_STYLE)
        self.put("#vitals-head", head)
        adjusted = {a.parameter: a for a in state.adjusted_limits} if state else {}
        for p in Param:
            key = p.value
            current = model.current(room, key)
            shown = Text(f"{labels.label(key):<9}", style="bold")
            number = current.value if current else None
            limit = state.limits.get(key) if state else None
            flag = labels.outside(number, limit.low, limit.high) if limit else ""
            shown.append(
                f"{labels.value(key, number):>5}", style=labels.OUT_OF_LIMIT_STYLE if flag else ""
            )
            shown.append(f" {labels.unit(key):<4}")
            if flag:
                shown.append(f" {flag}", style=labels.OUT_OF_LIMIT_STYLE)
            if current is not None and current.at is not None:
                age = (now - current.at).total_seconds()
                if age > 30:
                    shown.append(f" {labels.duration(age)} old", style="bold")
            self.put(f"#value-{key}", shown)
            self.query_one(f"#trend-{key}", Trend).show(model.trend(room, key))
            limit_text = Text(
                "limits "
                + (labels.limits(key, limit.low, limit.high) if limit else "not published")
            )
            if key in adjusted:
                a = adjusted[key]
                limit_text.append(f" set by {a.user}: {a.reason}", style="italic")
            self.put(f"#limits-{key}", limit_text)
        self._draw_alarms(model, now)
        self._draw_plots(model, now)

    def _draw_plots(self, model: SuiteModel, now: datetime) -> None:
        plots = self.query_one(TrendPlots)
        if not plots.display:
            return
        # At most once a second (plotting costs more than the numbers), and on a new size.
        stamp = (plots.size.width, plots.size.height, time.monotonic())
        last = self._plotted
        if last is not None and last[:2] == stamp[:2] and stamp[2] - last[2] < 1.0:
            return
        self._plotted = stamp
        plots.show(model, self.room or "", now)

    def action_trends(self) -> None:
        """Show the trend plots over the case in place of the numbers, or back."""
        plots = self.query_one(TrendPlots)
        plots.display = not plots.display
        # The plots take the numbers' place, and the alarm list's below 40 lines (the banner
        # keeps the high-priority alarms in view; `t` again brings the list back).
        self.query_one("#params").display = not plots.display
        small = (self.size.height or self.app.size.height) < 40
        for part in ("#alarms", "#alarm-log"):
            self.query_one(part).display = not (plots.display and small)
        self._plotted = None
        self.redraw()

    def _draw_alarms(self, model: SuiteModel, now: datetime) -> None:
        tz = self.suite.tz
        table = self.query_one("#alarms", DataTable)
        alarms = model.active_alarms(self.room)
        self.put("#alarm-log", self._log_text(model))
        states = [_state(a, now, tz) for a in alarms]  # the audio pause counts down
        signature = tuple(zip(alarms, states, strict=True))
        if signature == self._alarm_sig:
            return
        self._alarm_sig = signature
        rows = [a.alarm_id for a in alarms]
        cursor = self.highlighted_alarm()
        table.clear()
        for a, shown in zip(alarms, states, strict=True):
            table.add_row(
                labels.priority(a.priority),
                Text(shown, style="bold" if a.needs_ack else ""),
                labels.clock_time(a.raised_at, tz),
                a.message,
                key=a.alarm_id,
            )
        if not alarms:
            table.add_row(Text("none"), "", "", "no open alarms in this room", key="")
        self._alarm_rows = rows
        if cursor in rows:
            table.move_cursor(row=rows.index(cursor))

    def _log_text(self, model: SuiteModel) -> Text:
        """The room's last alarm events: who acknowledged, what cleared, which limit moved."""
        tz = self.suite.tz
        text = Text("Recent: ", style="bold")
        recent = [u for u in model.alarm_log if u.room == self.room][-3:]
        if not recent:
            text.append("no alarm events since this terminal connected", style="dim")
        for u in reversed(recent):
            what = u.alarm.message if u.alarm is not None else ""
            if u.limit is not None:
                lim = u.limit
                what = f"{labels.label(lim.parameter)} limits {labels.limits(lim.parameter, lim.low, lim.high)} ({lim.reason})"
            who = f" by {u.user}" if u.user else ""
            text.append(f"{labels.clock_time(u.at, tz)} {u.event.replace('_', ' ')}{who}: {what}; ")
        return text

    def highlighted_alarm(self) -> str | None:
        if not self._alarm_rows:
            return None
        table = self.query_one("#alarms", DataTable)
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value) if row_key.value else None

    # ---- actions --------------------------------------------------------------------------

    def selected_alarm(self) -> AlarmView | None:
        """The alarm the user sees selected, by its id (never by its position)."""
        return self.suite.model.alarms.get(self.highlighted_alarm() or "")

    def action_acknowledge(self) -> None:
        line = self.query_one(ResultLine)
        alarm = self.selected_alarm()
        if alarm is None:
            line.problem(f"no alarm selected in {self.room}: move the cursor onto one")
            return
        if not alarm.needs_ack:
            who = f" by {alarm.acknowledged_by}" if alarm.acknowledged_by else ""
            at = labels.clock_time(alarm.acknowledged_at, self.suite.tz)
            line.note(f"'{alarm.message}' is already acknowledged{who} at {at}; nothing sent")
            return
        what = f"acknowledge {alarm.priority.value} alarm '{alarm.message}'"
        self.suite.command(what, "ack_alarm", line, alarm_id=alarm.alarm_id)

    def action_silence(self) -> None:
        """Pause the audio of the alarm the user sees selected (by its id); it stays listed
        and, if it was, unacknowledged. A second silence starts the interval again."""
        line = self.query_one(ResultLine)
        alarm = self.selected_alarm()
        if alarm is None:
            line.problem(f"no alarm selected in {self.room}: move the cursor onto one")
            return
        what = f"silence {alarm.priority.value} alarm '{alarm.message}'"
        line.pending(what)
        self.run_worker(self._silence(what, alarm.alarm_id), group="commands")

    async def _silence(self, what: str, alarm_id: str) -> None:
        reply = await self.suite.send_command(what, "silence_alarm", alarm_id=alarm_id)
        until = reply.result.get("audio_paused_until") if reply.ok else None
        if isinstance(until, str):
            shown = labels.clock_time(datetime.fromisoformat(until), self.suite.tz)
            what += f": audio paused until {shown}"
        if self.is_mounted:
            self.query_one(ResultLine).show_reply(what, reply)

    def action_adjust_limit(self) -> None:
        room = self.room or ""
        alarm = self.selected_alarm()
        state = self.suite.model.rooms.get(room)
        form = LimitForm(
            room,
            alarm_parameter(alarm.kind) if alarm is not None else "",
            limits=state.limits if state is not None else None,
            side=alarm.kind.rsplit("_", 1)[-1] if alarm is not None else "",
            send=self._send_limit,
        )
        self.app.push_screen(form, self._adjusted)

    async def _send_limit(self, filled: dict[str, Any]) -> Reply:
        return await self.suite.send_command(_limit_words(filled), "adjust_limit", **filled)

    def _adjusted(self, filled: dict[str, Any] | None) -> None:
        if filled is not None and isinstance(filled.get("reply"), Reply) and self.is_mounted:
            self.query_one(ResultLine).show_reply(_limit_words(filled), filled["reply"])

    def action_case(self) -> None:
        if self.room:
            self.suite.open_case(self.room)

    def action_room(self, offset: int) -> None:
        room = self.step_room(offset)
        if room is not None and room != self.room:
            self.suite.open_vitals(room)


def _state(alarm: AlarmView, now: datetime, tz: Any) -> str:
    """The State column: "ACTIVE, audio paused 1:59" while its audio is paused."""
    paused = labels.audio_paused(alarm, now)
    state = labels.alarm_state(alarm, tz)
    return f"{state}, {paused}" if paused else state


def _limit_words(filled: dict[str, Any]) -> str:
    low, high = filled["low"], filled["high"]
    shown = f"{low if low is not None else '-'}-{high if high is not None else '-'}"
    return f"{filled['parameter']} limits {shown} in {filled['room']}"


def alarm_parameter(kind: str) -> str:
    """The parameter an alarm kind is about ("spo2_low" -> "spo2"); "" when none."""
    for p in sorted((p.value for p in Param), key=len, reverse=True):
        if kind.startswith(p + "_") or kind.endswith("_" + p) or kind == p:
            return p
    return ""
