"""The integration view for IT: the service's status and counters, every device with its
last sample, the interfaces (HL7, DICOM) as far as the service publishes them, and this
terminal's own link. `r` asks the service to replay an outbound HL7 message, `g` to assign
an unmatched image to a case."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tui import labels
from tui.model import SuiteModel
from tui.screens.base import SuiteScreen
from tui.screens.forms import AskForm
from tui.widgets import ResultLine

# Sections of the service status shown on their own; the rest goes under "service".
INTERFACES = ("hl7", "dicom")


def flat(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """ "key: value" lines of a nested object ("ingest.faults.malformed: 3")."""
    lines = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            lines += flat(value, f"{name}.")
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            lines.append(f"{name}: {len(value)}")
            for item in value:
                shown = item.items() if isinstance(item, Mapping) else [("", item)]
                lines.append("  - " + ", ".join(f"{k}={v}" if k else str(v) for k, v in shown))
        elif isinstance(value, list):
            lines.append(f"{name}: {', '.join(str(v) for v in value) or '-'}")
        else:
            lines.append(f"{name}: {value if value not in (None, {}) else '-'}")
    return lines


class IntegrationScreen(SuiteScreen):
    BINDINGS = [
        Binding("r", "replay", "Replay HL7"),
        Binding("g", "assign", "Assign image"),
        Binding("s", "resync", "Resync"),
    ]

    def __init__(self) -> None:
        super().__init__(name="integration")
        self._device_rows: list[tuple[str | Text, ...]] | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("Integration (IT)", classes="title")
        yield ResultLine(id="result")
        with VerticalScroll(id="it-body"):
            yield Static(id="service", classes="panel")
            devices: DataTable[Text] = DataTable(id="devices", cursor_type="row")
            yield devices
            for name in INTERFACES:
                yield Static(id=f"it-{name}", classes="panel")
            yield Static(id="terminal", classes="panel")

    def on_mount(self) -> None:
        table = self.query_one("#devices", DataTable)
        for key, title in (
            ("room", "Room"),
            ("device", "Device"),
            ("status", "Status"),
            ("last", "Last sample"),
            ("samples", "Samples"),
            ("faults", "Input faults"),
        ):
            table.add_column(title, key=key)
        super().on_mount()

    def draw(self, model: SuiteModel, now: datetime) -> None:
        tz = self.suite.tz
        service = model.service
        text = Text("Service\n", style="bold underline")
        if service is None:
            text.append("no status published yet\n", style="dim")
        else:
            state = {True: "ONLINE", False: "OFFLINE", None: "unknown"}[service.online]
            text.append(f"{state}", style="bold" if service.online else "bold reverse")
            text.append(f"  as of {labels.clock_time(service.at, tz)}\n")
            rest = {k: v for k, v in service.data.items() if k not in (*INTERFACES, "online", "at")}
            text.append("\n".join(flat(rest)) + "\n")
        self.put("#service", text)
        for name in INTERFACES:
            panel = Text(f"{name.upper()}\n", style="bold underline")
            data = service.data.get(name) if service is not None else None
            if isinstance(data, Mapping) and data:
                panel.append("\n".join(flat(data)) + "\n")
            else:
                panel.append(
                    f"no {name.upper()} data published yet: the service's status carries no"
                    f" '{name}' section\n",
                    style="dim",
                )
            self.put(f"#it-{name}", panel)
        self._draw_devices(model, now)
        counters = self.suite.client.counters()
        link = model.link
        term = Text("This terminal\n", style="bold underline")
        term.append(f"link: {link.link.value if link else 'none'} {link.detail if link else ''}\n")
        term.append(f"stale since: {labels.clock_time(model.stale_since, tz)}\n")
        resync = self.suite.last_resync
        if resync is not None:
            at, reply = resync
            outcome = "done" if reply.ok else f"refused: {reply.error}"
            term.append(f"last resync: {labels.clock_time(at, tz)} {outcome}\n")
        term.append(", ".join(f"{k} {v}" for k, v in sorted(counters.items())) or "no faults")
        self.put("#terminal", term)

    def _draw_devices(self, model: SuiteModel, now: datetime) -> None:
        tz = self.suite.tz
        rows: list[tuple[str | Text, ...]] = []
        for room in model.room_names():
            state = model.rooms[room]
            for device in state.devices:
                online = model.device_status.get((room, device.name), device.online)
                if online is None:
                    status = Text("unknown")
                else:
                    status = Text("ONLINE") if online else Text("OFFLINE", style="bold reverse")
                last = device.last_sample_at
                age = f" ({labels.duration(labels.since(last, now))} ago)" if last else ""
                faults = state.faults.get(device.name, {})
                rows.append(
                    (
                        room,
                        f"{device.name} ({device.kind})" if device.kind else device.name,
                        status,
                        f"{labels.clock_time(last, tz)}{age}",
                        str(device.samples if device.samples is not None else "-"),
                        ", ".join(f"{k} {n}" for k, n in sorted(faults.items())) or "none",
                    )
                )
        if rows == self._device_rows:
            return  # unchanged: keep the cursor where IT left it
        self._device_rows = rows
        table = self.query_one("#devices", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in rows or [("-", "no devices reported", "", "", "", "")]:
            table.add_row(*row)
        table.move_cursor(row=min(cursor, max(0, table.row_count - 1)))

    # ---- actions --------------------------------------------------------------------------

    def action_replay(self) -> None:
        form = AskForm(
            "Replay an outbound HL7 message (from the outbox or quarantine)",
            [("message_id", "id of the outbound message")],
        )
        self.app.push_screen(form, lambda f: self._send("replay HL7 message", "hl7_replay", f))

    def action_assign(self) -> None:
        form = AskForm(
            "Assign an unmatched image to a case",
            [
                ("sop_instance_uid", "SOP Instance UID of the image"),
                ("case_id", "case id or accession"),
            ],
        )
        self.app.push_screen(form, lambda f: self._send("assign image", "dicom_assign", f))

    def action_resync(self) -> None:
        self._send("resynchronise", "resync", {})

    def _send(self, what: str, action: str, fields: dict[str, Any] | None) -> None:
        if fields is not None:
            self.suite.command(what, action, self.query_one(ResultLine), **fields)
