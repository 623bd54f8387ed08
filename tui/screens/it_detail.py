"""The IT view's pop-ups: one HL7 message opened (raw message, its ACK, its effect), one
DICOM association opened (who, from where, when, what was stored or queried, the result),
and the case picker that assigns an unmatched image (pick, never type an id)."""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui import labels
from tui.it_lists import AssociationRow, ImageRow, MessageRow, segments
from tui.views import RoomState


class MessageDetail(ModalScreen[str | None]):
    """One message: what it is, its ACK and effect, then the raw message and the raw ACK,
    one segment a line. `r` replays an outbound message; Escape closes."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("r", "replay", "Replay")]

    def __init__(self, row: MessageRow, *, width: int, tz: object = None) -> None:
        super().__init__()
        self.row, self.width, self.tz = row, width, tz

    def compose(self) -> ComposeResult:
        row = self.row
        head = Text(row.label(), style="bold")
        head.append(f"\n{labels.clock_time(row.at, self.tz)}  ")  # type: ignore[arg-type]
        head.append(f"{'from' if row.direction == 'in' else 'to'} {row.peer or '-'}  ")
        head.append(f"ACK {row.ack or '(none yet)'}", style="bold reverse" if row.problem else "")
        head.append(f"\neffect: {row.effect or '-'}   case: {row.case or '-'}")
        body = Text("Message\n", style="bold underline")
        for line in segments(row.raw, self.width) or ["(not published)"]:
            body.append(line + "\n")
        body.append("ACK\n", style="bold underline")
        for line in segments(row.ack_raw, self.width) or ["(none)"]:
            body.append(line + "\n")
        with Vertical(classes="dialog wide-dialog"):
            yield Static(head, id="detail-head")
            with VerticalScroll(id="detail-body"):
                yield Static(body, id="detail-raw")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_replay(self) -> None:
        if self.row.direction == "out":
            self.dismiss("replay")
        else:
            self.query_one("#detail-head", Static).update(
                Text("only an outbound message can be replayed", style="bold reverse")
            )


class AssociationDetail(ModalScreen[None]):
    """One DICOM association: calling AE, address, opened and closed, how it ended, what it
    asked, the instances it stored with the status each was answered, the information
    models it queried, what was refused. Escape closes."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, row: AssociationRow, *, tz: tzinfo | None = None) -> None:
        super().__init__()
        self.row, self.tz = row, tz

    def compose(self) -> ComposeResult:
        a = self.row
        head = Text(a.label(), style="bold")
        opened = labels.clock_time(a.opened_at, self.tz)
        closed = labels.clock_time(a.closed_at, self.tz) if a.closed_at else "still open"
        head.append(f"\ncalling AE {a.calling_ae or '?'}  from {a.address or '?'}")
        head.append(f"\nopened {opened}  closed {closed}  result ")
        head.append(a.outcome.upper(), style="bold reverse" if a.problem else "bold")
        head.append(f"\nasked: {a.asked or 'nothing'}   refused: {a.refused or 'none'}")
        body = Text(f"Stored ({len(a.stored)})\n", style="bold underline")
        for uid, sop_class, status in a.stored:
            answered = status or "not answered"
            body.append(f"{uid}  {sop_class}  ")
            body.append(answered, style="" if status == "success" else "bold reverse")
            body.append("\n")
        if not a.stored:
            body.append("(no instances stored)\n", style="dim")
        body.append("Queried\n", style="bold underline")
        body.append(f"{a.queried}\n" if a.queried else "(no queries)\n")
        with Vertical(classes="dialog wide-dialog"):
            yield Static(head, id="detail-head")
            with VerticalScroll(id="detail-body"):
                yield Static(body, id="detail-raw")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)


class CasePicker(ModalScreen[str | None]):
    """Pick the case an image belongs to: the open and scheduled cases of every room."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, image: ImageRow, rooms: dict[str, RoomState]) -> None:
        super().__init__()
        self.image, self.rooms = image, rooms

    def compose(self) -> ComposeResult:
        options = []
        for room in sorted(self.rooms):
            state = self.rooms[room]
            if state.case is not None:
                k = state.case
                text = f"{room} {k.accession}  {k.mrn} {k.patient_name}  {k.procedure} {', '.join(k.levels)}  ({k.phase})"
                options.append(Option(text, id=k.case_id))
            for s in state.scheduled:
                text = f"{room} {s.accession}  {s.mrn} {s.patient_name}  {s.procedure} {', '.join(s.levels)}  (scheduled)"
                options.append(Option(text, id=s.case_id))
        im = self.image
        with Vertical(classes="dialog"):
            yield Static(
                f"Assign image {im.modality} of patient {im.patient_id or '?'}"
                f" (accession {im.accession or '?'}) to which case? Enter picks",
                classes="title",
            )
            yield OptionList(*options, id="cases")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
