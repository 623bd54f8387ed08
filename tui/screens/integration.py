"""The integration view for IT: HL7 messages in and out (with their ACK and effect; Enter
opens one: raw message, ACK), the unmatched DICOM images, the DICOM associations (Enter
opens one: who, when, what was stored or queried, the result), a filter (`f`), every device
with its last sample, the service's counters and this terminal's own link. `r` replays the
selected outbound message, `g` (or Enter on an image) assigns the selected image to a case
picked from a list: no id is ever typed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tui import it_lists, labels
from tui.it_lists import AssociationRow, ImageRow, MessageRow
from tui.model import SuiteModel
from tui.screens.base import SuiteScreen
from tui.screens.it_detail import AssociationDetail, CasePicker, MessageDetail
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
        Binding("f", "filter", "Filter"),
        Binding("r", "replay", "Replay HL7"),
        Binding("g", "assign", "Assign image"),
        Binding("s", "resync", "Resync"),
    ]

    def __init__(self) -> None:
        super().__init__(name="integration")
        self._device_rows: list[tuple[str | Text, ...]] | None = None
        self.filter = "all"
        self._messages: list[MessageRow] = []
        self._message_sig: tuple[Any, ...] | None = None
        self._images: list[ImageRow] = []
        self._image_sig: tuple[Any, ...] | None = None
        self._assoc_sig: tuple[Any, ...] | None = None
        self._associations: list[AssociationRow] = []

    def compose_body(self) -> ComposeResult:
        yield Static("Integration (IT)", classes="title")
        yield ResultLine(id="result")
        with VerticalScroll(id="it-body"):
            yield Static(id="it-hl7", classes="panel")
            hl7: DataTable[Text] = DataTable(id="hl7", cursor_type="row", classes="it-list")
            yield hl7
            yield Static(id="it-dicom", classes="panel")
            images: DataTable[Text] = DataTable(id="images", cursor_type="row", classes="it-list")
            yield images
            yield Static(id="it-assoc", classes="panel")
            assoc: DataTable[Text] = DataTable(id="assoc", cursor_type="row", classes="it-list")
            yield assoc
            devices: DataTable[Text] = DataTable(id="devices", cursor_type="row")
            yield devices
            yield Static(id="service", classes="panel")
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
        hl7 = self.query_one("#hl7", DataTable)
        for key, title in (
            ("dir", "Dir"), ("id", "#"), ("at", "Time"), ("type", "Type"),
            ("control", "Control id"), ("ack", "ACK"), ("effect", "Effect"), ("case", "Case"),
        ):  # fmt: skip
            hl7.add_column(title, key=key)
        images = self.query_one("#images", DataTable)
        for key, title in (
            ("at", "Received"), ("modality", "Mod"), ("patient", "Patient id"),
            ("accession", "Accession"), ("uid", "SOP Instance UID"),
        ):  # fmt: skip
            images.add_column(title, key=key)
        assoc = self.query_one("#assoc", DataTable)
        for key, title in (
            ("ae", "Calling AE"), ("from", "From"), ("opened", "Opened"), ("closed", "Closed"),
            ("outcome", "Outcome"), ("asked", "Asked"), ("refused", "Refused"),
        ):  # fmt: skip
            assoc.add_column(title, key=key)
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
        data = service.data if service is not None else {}
        hl7 = data.get("hl7") if isinstance(data.get("hl7"), Mapping) else None
        dicom = data.get("dicom") if isinstance(data.get("dicom"), Mapping) else None
        self._draw_messages(hl7)
        self._draw_images(dicom)
        self._draw_associations(dicom)
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

    def _draw_messages(self, hl7: Mapping[str, Any] | None) -> None:
        tz = self.suite.tz
        rows = it_lists.messages(hl7)
        visible = it_lists.shown(rows, self.filter)
        head = Text("HL7 messages", style="bold underline")
        if hl7 is None:
            head.append("  no HL7 data published yet: the service's status carries no 'hl7'"
                        " section", style="dim")  # fmt: skip
        else:
            problems = sum(1 for r in rows if r.problem)
            head.append(f"  showing {self.filter} ({len(visible)} of {len(rows)}; {problems}"
                        " with a problem)  f filter, Enter opens, r replays an outbound one")  # fmt: skip
        self.put("#it-hl7", head)
        signature = (self.filter, tuple(visible))
        if signature == self._message_sig:
            return
        self._message_sig = signature
        table = self.query_one("#hl7", DataTable)
        selected = self.selected_message()
        table.clear()
        for r in visible:
            table.add_row(
                "IN" if r.direction == "in" else "OUT", str(r.id), labels.clock_time(r.at, tz),
                r.type, r.control_id,
                Text(r.ack or "-", style="bold reverse" if r.problem else ""),
                Text(r.effect[:60], no_wrap=True, overflow="ellipsis"), r.case,
                key=r.key,
            )  # fmt: skip
        self._messages = visible
        keys = [r.key for r in visible]
        if selected is not None and selected.key in keys:
            table.move_cursor(row=keys.index(selected.key))

    def _draw_images(self, dicom: Mapping[str, Any] | None) -> None:
        tz = self.suite.tz
        rows = it_lists.images(dicom)
        head = Text("DICOM: unmatched images", style="bold underline")
        if dicom is None:
            head.append("  no DICOM data published yet: the service's status carries no"
                        " 'dicom' section", style="dim")  # fmt: skip
        else:
            found = dicom.get("instances")
            stored: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
            head.append(f"  {len(rows)} listed; stored {stored.get('stored', '-')}, linked"
                        f" {stored.get('linked', '-')}  g assigns the selected one")  # fmt: skip
        self.put("#it-dicom", head)
        signature = tuple(rows)
        if signature == self._image_sig:
            return
        self._image_sig = signature
        table = self.query_one("#images", DataTable)
        selected = self.selected_image()
        table.clear()
        for im in rows:
            table.add_row(
                labels.clock_time(im.received_at, tz), im.modality, im.patient_id,
                im.accession, im.sop_instance_uid, key=im.sop_instance_uid,
            )  # fmt: skip
        self._images = rows
        uids = [im.sop_instance_uid for im in rows]
        if selected is not None and selected.sop_instance_uid in uids:
            table.move_cursor(row=uids.index(selected.sop_instance_uid))

    def _draw_associations(self, dicom: Mapping[str, Any] | None) -> None:
        tz = self.suite.tz
        rows = it_lists.associations(dicom)
        visible = it_lists.shown_associations(rows, self.filter)
        head = Text("DICOM associations", style="bold underline")
        if rows:
            problems = sum(1 for r in rows if r.problem)
            head.append(f"  the latest {len(rows)}, open ones first; showing"
                        f" {'problems' if self.filter == 'problems' else 'all'}"
                        f" ({len(visible)}; {problems} with a problem)  Enter opens")  # fmt: skip
        else:
            head.append("  none reported")
        self.put("#it-assoc", head)
        signature = (self.filter, tuple(visible))
        if signature == self._assoc_sig:
            return
        self._assoc_sig = signature
        table = self.query_one("#assoc", DataTable)
        cursor = table.cursor_row
        selected = self.selected_association()
        table.clear()
        for i, a in enumerate(visible):
            table.add_row(
                a.calling_ae or "?", a.address, labels.clock_time(a.opened_at, tz),
                labels.clock_time(a.closed_at, tz) if a.closed_at else "",
                Text(a.outcome.upper(), style="bold reverse" if a.problem else ""),
                a.asked or "-", Text(a.refused or "none", style="bold" if a.refused else ""),
                key=str(i),
            )  # fmt: skip
        self._associations = visible
        if selected in visible:
            table.move_cursor(row=visible.index(selected))
        elif visible:
            table.move_cursor(row=min(cursor, len(visible) - 1))

    def selected_association(self) -> AssociationRow | None:
        table = self.query_one("#assoc", DataTable)
        if not self._associations or table.row_count == 0:
            return None
        return self._associations[min(table.cursor_row, len(self._associations) - 1)]

    def selected_message(self) -> MessageRow | None:
        """The message the cursor is on, by its key (never by its position)."""
        table = self.query_one("#hl7", DataTable)
        if not self._messages or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((m for m in self._messages if m.key == key), None)

    def selected_image(self) -> ImageRow | None:
        table = self.query_one("#images", DataTable)
        if not self._images or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((im for im in self._images if im.sop_instance_uid == key), None)

    # ---- actions --------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.filter = it_lists.FILTERS[(it_lists.FILTERS.index(self.filter) + 1) % 4]
        self.redraw()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "assoc":
            association = self.selected_association()
            if association is not None:
                self.app.push_screen(AssociationDetail(association, tz=self.suite.tz))
            return
        if event.data_table.id == "images":
            self.action_assign()
            return
        if event.data_table.id != "hl7":
            return
        row = self.selected_message()
        if row is not None:
            width = max(40, self.app.size.width - 12)
            self.app.push_screen(
                MessageDetail(row, width=width, tz=self.suite.tz),
                lambda done: self._replay(row) if done == "replay" else None,
            )

    def action_replay(self) -> None:
        row = self.selected_message()
        if row is None or row.direction != "out":
            self.query_one(ResultLine).problem(
                "select an outbound message in the HL7 list (f shows only outbound ones)"
            )
            return
        self._replay(row)

    def _replay(self, row: MessageRow) -> None:
        self.run_worker(self._replay_now(row), group="commands")

    async def _replay_now(self, row: MessageRow) -> None:
        what = f"replay {row.label()}"
        reply = await self.suite.send_command(what, "hl7_replay", message_id=row.id)
        if reply.ok and reply.result.get("control_id"):
            what += f": queued again as control id {reply.result['control_id']}"
        if self.is_mounted:
            self.query_one(ResultLine).show_reply(what, reply)

    def action_assign(self) -> None:
        image = self.selected_image()
        if image is None:
            self.query_one(ResultLine).problem("no unmatched image selected")
            return
        rooms = dict(self.suite.model.rooms)
        self.app.push_screen(CasePicker(image, rooms), lambda case: self._assign(image, case))

    def _assign(self, image: ImageRow, case_id: str | None) -> None:
        if case_id is None:
            return
        fields = {"sop_instance_uid": image.sop_instance_uid, "case_id": case_id}
        what = f"assign image {image.modality} {image.sop_instance_uid[-12:]} to case {case_id}"
        self._send(what, "dicom_assign", fields)

    def action_resync(self) -> None:
        self._send("resynchronise", "resync", {})

    def _send(self, what: str, action: str, fields: dict[str, Any] | None) -> None:
        if fields is not None:
            self.suite.command(what, action, self.query_one(ResultLine), **fields)
