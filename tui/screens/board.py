"""The suite board: one block of rows per room with its patient, procedure, phase and times,
the cement countdown, the current vitals against their limits, the highest alarm and the dose.

The layout follows the terminal: column widths grow with its width (80 to 200 columns) and
every room gets as many lines as the height allows (2 to 5), most important first
(tui/room_summary.py says what each line holds)."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tui import labels
from tui.model import SuiteModel
from tui.room_summary import Reading, RoomBlocks, room_blocks
from tui.screens.base import SuiteScreen
from tui.views import AlarmView

HINT = (
    "Keys: ↑/↓ choose a room · Enter or c its case (r there: report) · v its vitals"
    " (t there: trends) · i integration · ctrl+q quit"
)
HINT_SHORT = "↑↓ room · Enter case (r report) · v vitals (t trends) · i IT · ^q quit"
VITALS = ("hr", "spo2", "nibp_sys", "nibp_dia", "rr", "etco2")
# Fixed lines around the table: status bar, title, hint, table header, footer.
CHROME_LINES = 5
MIN_LINES, MAX_LINES = 2, 7


def widths_for(width: int) -> dict[str, int]:
    """Column widths for a terminal `width` columns wide (the alarm column takes the rest)."""
    if width >= 150:
        sizes = {"room": 5, "who": 30, "phase": 28, "vitals": 56}
    elif width >= 120:
        sizes = {"room": 5, "who": 26, "phase": 24, "vitals": 34}
    else:
        sizes = {"room": 5, "who": 19, "phase": 18, "vitals": 16}
    used = sum(w + 1 for w in sizes.values())
    sizes["alarm"] = max(12, width - used - 1)
    return sizes


TITLES = {
    "room": "Room",
    "who": "Patient / procedure",
    "phase": "Phase / times",
    "vitals": "Vitals ▲▼=limit",
    "alarm": "Alarm / dose",
}


def _short(alarm: AlarmView) -> Text:
    """ "!! MED HR 125/min > 120 (ack)": another open alarm, on one line."""
    text = labels.priority(alarm.priority)
    text.append(f" {alarm.message}" + ("" if alarm.needs_ack else " (ack)"))
    return text


def wrap(line: Text, width: int, most: int) -> list[Text]:
    """`line` cut at spaces into at most `most` lines of `width` (styles kept)."""
    plain, start = line.plain, 0
    offsets: list[int] = []
    while len(plain) - start > width and len(offsets) < most - 1:
        cut = plain.rfind(" ", start, start + width + 1)
        cut = cut if cut > start else start + width
        offsets.append(cut)
        start = cut
    parts = list(line.divide(offsets))
    return [p if i == 0 else p[1:] if p.plain.startswith(" ") else p for i, p in enumerate(parts)]


def cell(lines: list[Text], height: int, width: int) -> Text:
    """`lines` in `height` lines of `width`: the first height-1 as they are, the rest joined
    on the last line (so nothing is dropped before it has to be)."""
    shown = [ln.copy() for ln in lines[:height]]
    if shown and len(shown[0].plain) > width and len(lines) < height:
        # A long first line (an alarm's message) wraps onto the lines left free.
        first = wrap(shown[0], width, height - len(lines) + 1)
        shown = first + shown[1:]
    if len(lines) > height and shown:
        last = shown[-1]
        for extra in lines[height:]:
            last.append("  ")
            last.append_text(extra)
    for line in shown:
        line.truncate(width, overflow="ellipsis")
    return Text("\n").join(shown)


class BoardScreen(SuiteScreen):
    DEFAULT_CSS = """
    #board-hint { height: 1; }
    """
    BINDINGS = [
        Binding("c", "open_case", "Case"),
        Binding("v", "open_vitals", "Vitals"),
    ]

    def __init__(self) -> None:
        super().__init__(name="board")
        self._layout_shown: tuple[object, ...] = ()
        self._cells: dict[tuple[str, str], Text] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("Suite board", id="board-title", classes="title")
        yield Static("", id="board-hint", classes="dim")
        table: DataTable[Text] = DataTable(
            id="rooms", cursor_type="row", cell_padding=0, zebra_stripes=False
        )
        yield table
        yield Static("", id="board-empty", classes="dim")

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#rooms", DataTable)

    def highlighted_room(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    def action_open_case(self) -> None:
        room = self.highlighted_room()
        if room is not None:
            self.suite.open_case(room)

    def action_open_vitals(self) -> None:
        room = self.highlighted_room()
        if room is not None:
            self.suite.open_vitals(room)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.suite.open_case(str(event.row_key.value))

    def _layout(self) -> tuple[dict[str, int], int]:
        width = self.size.width or self.app.size.width
        height = self.size.height or self.app.size.height
        rooms = max(1, len(self.suite.model.room_names()))
        table = self.table.size.height
        if table > 2:
            free = table - 1  # the table's own height (1fr) less its header row
        else:  # not laid out yet: estimate from the screen
            free = height - CHROME_LINES - min(3, len(self.suite.model.banner_alarms()))
        return widths_for(width), max(MIN_LINES, min(MAX_LINES, free // rooms))

    def draw(self, model: SuiteModel, now: datetime) -> None:
        table = self.table
        widths, lines = self._layout()
        width = self.size.width or self.app.size.width
        self.put("#board-hint", HINT if len(HINT) <= width else HINT_SHORT)
        rooms = model.room_names()
        self.put(
            "#board-empty", "" if rooms else "no rooms yet: waiting for the service's room states"
        )
        layout = (tuple(widths.items()), lines)
        current_rows = [str(k.value) for k in table.rows]
        if layout != self._layout_shown or current_rows != rooms:
            cursor = self.highlighted_room()
            table.clear(columns=True)
            self._cells.clear()
            self._layout_shown = layout
            for key, width in widths.items():
                table.add_column(TITLES[key], key=key, width=width + 1)
            for room in rooms:
                cells = self._row(model, room, now, widths, lines)
                self._cells.update({(room, k): v for k, v in cells.items()})
                table.add_row(*(cells[k] for k in widths), key=room, height=lines)
            if cursor in rooms:
                table.move_cursor(row=rooms.index(cursor))
            return
        for room in rooms:
            for key, value in self._row(model, room, now, widths, lines).items():
                if self._cells.get((room, key)) != value:
                    self._cells[(room, key)] = value
                    table.update_cell(room, key, value)

    def blocks(
        self, model: SuiteModel, room: str, now: datetime, widths: dict[str, int]
    ) -> RoomBlocks:
        """What the board shows of `room` (also used by the wall display's tests)."""
        state = model.rooms[room]
        readings: dict[str, Reading | None] = {}
        for param in VITALS:
            current = model.current(room, param)
            readings[param] = Reading(current.value if current else None, state.limits.get(param))
        open_alarms = model.active_alarms(room)
        top = open_alarms[0] if open_alarms else None
        alarm = None
        if top is not None:
            alarm = labels.priority(top.priority)
            alarm.append(f" {top.message}")
            if not top.needs_ack:
                alarm.append(" (ack)")
        return room_blocks(
            state,
            readings=readings if any(r and r.value is not None for r in readings.values()) else {},
            alarm=alarm,
            more_alarms=[_short(a) for a in open_alarms[1:]],
            now=now,
            tz=self.suite.tz,
            widths=widths,
        )

    def _row(
        self, model: SuiteModel, room: str, now: datetime, widths: dict[str, int], lines: int
    ) -> dict[str, Text]:
        b = self.blocks(model, room, now, widths)
        room_lines = [Text(room, style="bold")]
        if model.room_stale(room, now):
            room_lines.append(Text("STALE", style=labels.STALE_STYLE))
        blocks = {"room": room_lines, "who": b.who, "phase": b.phase, "vitals": b.vitals,
                  "alarm": b.alarm}  # fmt: skip
        return {k: cell(blocks[k], lines, w) for k, w in widths.items()}
