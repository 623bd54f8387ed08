"""The suite board: one line per room with its case, phase, time, vitals and top alarm."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tui import case_text, labels
from tui.model import SuiteModel
from tui.screens.base import SuiteScreen

PROCEDURE_ABBREVIATION = {"kyphoplasty": "KP", "vertebroplasty": "VP"}

# (key, title, width); the alarm column takes what is left.
NARROW = [
    ("room", "Room", 5),
    ("case", "Case", 9),
    ("phase", "Phase", 16),
    ("time", "Time", 7),
    ("hr", "HR", 3),
    ("spo2", "SpO2", 4),
    ("nibp", "NIBP", 7),
]
WIDE_EXTRA = [
    ("patient", "Patient", 22),
    ("etco2", "EtCO2", 5),
    ("rr", "RR", 3),
    ("devices", "Devices", 11),
]
WIDE_AT = 120


def _cell(text: str | Text, width: int) -> Text:
    shown = text if isinstance(text, Text) else Text(text)
    shown.truncate(width, overflow="ellipsis")
    return shown


class BoardScreen(SuiteScreen):
    BINDINGS = [
        Binding("c", "open_case", "Case"),
        Binding("v", "open_vitals", "Vitals"),
    ]

    def __init__(self) -> None:
        super().__init__(name="board")
        self._columns: list[tuple[str, str, int]] = []
        self._cells: dict[tuple[str, str], Text] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("Suite board", id="board-title", classes="title")
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

    def _layout(self) -> list[tuple[str, str, int]]:
        width = self.size.width or self.app.size.width
        columns = list(NARROW)
        if width >= WIDE_AT:
            columns[2:2] = WIDE_EXTRA[:1]
            columns += WIDE_EXTRA[1:]
        used = sum(w + 1 for _, _, w in columns)
        columns.append(("alarm", "Highest alarm", max(12, width - used - 1)))
        return columns

    def draw(self, model: SuiteModel, now: datetime) -> None:
        table = self.table
        columns = self._layout()
        rooms = model.room_names()
        self.put(
            "#board-empty", "" if rooms else "no rooms yet: waiting for the service's room states"
        )
        current_rows = [str(k.value) for k in table.rows]
        if columns != self._columns or current_rows != rooms:
            cursor = self.highlighted_room()
            table.clear(columns=True)
            self._cells.clear()
            self._columns = columns
            for key, title, width in columns:
                table.add_column(title, key=key, width=width + 1)
            for room in rooms:
                cells = self._row(model, room, now)
                self._cells.update({(room, k): v for k, v in cells.items()})
                table.add_row(*(cells[k] for k, _, _ in columns), key=room)
            if cursor in rooms:
                table.move_cursor(row=rooms.index(cursor))
            return
        for room in rooms:
            for key, value in self._row(model, room, now).items():
                if self._cells.get((room, key)) != value:
                    self._cells[(room, key)] = value
                    table.update_cell(room, key, value)

    def _row(self, model: SuiteModel, room: str, now: datetime) -> dict[str, Text]:
        state = model.rooms[room]
        case = state.case
        stale = model.room_stale(room, now)
        widths = {k: w for k, _, w in self._columns}
        cells: dict[str, str | Text] = {"room": room}
        if case is None and state.scheduled:
            booked = state.scheduled[0]  # the next one, checked in from the case screen
            at = labels.clock_time(booked.scheduled_at, self.suite.tz, seconds=False)
            cells.update(case="-", phase=f"next {at}", time="")
            cells["patient"] = f"{booked.mrn} {booked.patient_name}"
        elif case is None:
            cells.update(case="-", patient="", phase="no case", time="")
        else:
            abbreviation = PROCEDURE_ABBREVIATION.get(case.procedure, case.procedure[:2])
            cells["case"] = f"{abbreviation} {','.join(case.levels)}"
            cells["patient"] = f"{case.mrn} {case.patient_name}"
            cells["phase"] = case.phase
            elapsed = case_text.procedure_elapsed(case, now)
            cells["time"] = labels.duration(elapsed) if elapsed is not None else ""
        if stale:
            cells["time"] = Text("STALE", style=labels.STALE_STYLE)
        for param in ("hr", "spo2", "etco2", "rr"):
            current = model.current(room, param)
            cells[param] = labels.value(param, current.value if current else None)
        sys_, dia = model.current(room, "nibp_sys"), model.current(room, "nibp_dia")
        cells["nibp"] = (
            f"{labels.value('nibp_sys', sys_.value if sys_ else None)}/"
            f"{labels.value('nibp_dia', dia.value if dia else None)}"
        )
        online = sum(1 for d in state.devices if d.online)
        offline = sum(1 for d in state.devices if d.online is False)
        cells["devices"] = f"{online} on" + (f", {offline} OFF" if offline else "")
        top = model.highest_alarm(room)
        if top is None:
            cells["alarm"] = "none"
        else:
            alarm = labels.priority(top.priority)
            alarm.append(f" {top.message}")
            cells["alarm"] = alarm
        return {k: _cell(cells.get(k, ""), w) for k, w in widths.items()}
