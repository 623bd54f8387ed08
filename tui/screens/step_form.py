"""The form of one step, and the checklist form with every item.

Every field with a fixed set of values is a `Choice` (enums, yes/no, the sedation drug
from the site's list); only numbers and free text are typed. The signer of a time-out or
imaging check is the user and is shown, not asked. Before it is sent the step is checked
with the service's own parser (suite/steps.py), so a typing error is named at once; the form
then sends itself with the case version its user saw (`seen_version`), and a refusal keeps
it open with what was typed (forms.py `Form`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Key
from textual.widgets import Footer, Input, Label, Static

from suite.app.steps import parse_step
from suite.domain.checklist import MAY_BE_NOT_APPLICABLE, ChecklistItem, ChecklistStatus
from suite.domain.errors import DomainError
from tui import step_guide
from tui.choice import Choice
from tui.screens.forms import Form, Sender, _row, choice_row
from tui.views import ReceivedImage

DRUG_ROWS = 3
SIGNER_FIELDS = {"signed_by"}  # the user who signs: shown, never typed


class StepForm(Form):
    """The fields of one step, prefilled; returns {"fields": {...}, "at": ISO time or None}
    (and "reply" when it sent itself)."""

    def __init__(
        self,
        step: str,
        values: dict[str, str],
        *,
        title: str,
        now: Callable[[], datetime],
        tz: tzinfo | None,
        user: str = "",
        drugs: tuple[tuple[str, str], ...] = (),
        local_anesthetics: tuple[str, ...] = (),
        levels: tuple[str, ...] = (),
        images: tuple[ReceivedImage, ...] = (),
        send: Sender | None = None,
    ) -> None:
        super().__init__(send=send)
        self.step, self.values, self.title_text = step, values, title
        self.now, self.tz = now, tz
        self.user = user
        self.drugs = drugs  # (drug, unit) of the site's list
        self.step_fields = step_guide.fields_of(step)
        self._units = dict(drugs)
        # Fields whose values come from a list: the case's levels, the site's local drugs.
        self.lists: dict[str, tuple[str, ...]] = {"level": levels}
        if step == "local":
            self.lists["drug"] = local_anesthetics
        # The image step picks one of the case's received images not linked yet.
        self.images = {i.sop_instance_uid: i for i in images if not i.linked}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Log {self.title_text}", classes="title")
            for f in self.step_fields:
                value = self.values.get(f.name, "")
                if f.name in SIGNER_FIELDS:
                    yield Horizontal(
                        Label(f.name, classes="field-name"),
                        Static(self.user or value, id=f"f-{f.name}"),
                        classes="field",
                    )
                elif f.name == "drugs" and self.drugs:
                    yield from self._drug_rows()
                elif f.name == "sop_instance_uid":
                    yield self._image_row()
                elif f.choices or self.lists.get(f.name):
                    listed = f.choices or self.lists[f.name]
                    # No prefill: nothing is chosen until the user chooses (never a default
                    # "true" for a confirmation).
                    values = listed if value in listed and f.required else ("", *listed)
                    yield choice_row(f.name, values, value, "<- -> or a letter")
                else:
                    yield _row(f.name, value, f.hint)
            yield _row("time", "", "HH:MM or HH:MM:SS today; blank = now")
            yield Static("", id="error", classes="error")
        yield Footer()

    def _image_row(self) -> Horizontal:
        shown = {"": "- (no received image chosen)" if self.images else "- none received yet"}
        for uid, im in self.images.items():
            at = im.received_at.astimezone(self.tz).strftime("%H:%M:%S") if im.received_at else "--"
            shown[uid] = f"{im.modality} {at} series ..{im.series_uid[-6:]}"
        return Horizontal(
            Label("image", classes="field-name"),
            Choice(("", *self.images), id="f-sop_instance_uid", shown=shown),
            classes="field",
        )

    def _drug_rows(self) -> ComposeResult:
        names = ("", *(d for d, _ in self.drugs))
        for i in range(DRUG_ROWS):
            yield Horizontal(
                Label("drugs" if i == 0 else "", classes="field-name"),
                Choice(names, id=f"f-drug-{i}", shown={"": "- (none)"}),
                Input(placeholder="dose", id=f"f-dose-{i}", compact=True, classes="dose"),
                Label("", id=f"unit-{i}", classes="unit"),
                classes="field",
            )

    def on_choice_changed(self, event: Choice.Changed) -> None:
        name = event.choice.id or ""
        image = self.images.get(event.choice.value)
        if name == "f-sop_instance_uid" and image is not None and self.query("#f-modality"):
            self.query_one("#f-modality", Input).value = image.modality  # from the image
        if name.startswith("f-drug-"):  # the unit follows the drug chosen
            unit = self._units.get(event.choice.value, "")
            self.query_one(f"#unit-{name.removeprefix('f-drug-')}", Label).update(unit)

    def _drugs_text(self) -> str | None:
        """The drug rows as `drug:dose:unit,...`; None (after saying why) when a dose is bad."""
        parts = []
        for i in range(DRUG_ROWS):
            drug = self.query_one(f"#f-drug-{i}", Choice).value
            dose = self.query_one(f"#f-dose-{i}", Input).value.strip()
            if not drug:
                continue
            try:
                float(dose)
            except ValueError:
                self.error(f"dose of {drug}: type a number")
                self.query_one(f"#f-dose-{i}", Input).focus()
                return None
            parts.append(f"{drug}:{dose}:{self._units.get(drug, '')}")
        return ",".join(parts)

    def typed(self) -> dict[str, str] | None:
        typed: dict[str, str] = {}
        for f in self.step_fields:
            if f.name in SIGNER_FIELDS:
                typed[f.name] = self.user or self.values.get(f.name, "")
            elif f.name == "drugs" and self.drugs:
                drugs = self._drugs_text()
                if drugs is None:
                    return None
                typed[f.name] = drugs
            else:
                widget = self.query_one(f"#f-{f.name}")
                typed[f.name] = str(getattr(widget, "value", "")).strip()
        return typed

    def submit(self) -> None:
        typed = self.typed()
        if typed is None:
            return
        missing = [f.name for f in self.step_fields if f.required and not typed[f.name]]
        if missing:
            self.error(f"fill in {', '.join(missing)}")
            return
        now = self.now()
        try:
            at = step_guide.parse_clock(self.query_one("#f-time", Input).value, now=now, tz=self.tz)
        except ValueError as exc:
            self.error(str(exc))
            return
        filled = {k: v for k, v in typed.items() if v}
        try:
            parse_step(self.step, [f"{k}={v}" for k, v in filled.items()], at=at or now)
        except DomainError as exc:
            self.error(exc.message)
            return
        self.finish({"fields": filled, "at": at.isoformat() if at else None})


CHECK_ITEMS = tuple(i for i in ChecklistItem if i is not ChecklistItem.LABS)


def _statuses(item: ChecklistItem) -> tuple[str, ...]:
    na = (ChecklistStatus.NOT_APPLICABLE.value,) if item in MAY_BE_NOT_APPLICABLE else ()
    return ("", ChecklistStatus.DONE.value, *na, ChecklistStatus.NOT_DONE.value)


class ChecklistForm(Form):
    """Every checklist item on one form: key 1..6 steps item 1..6 through its answers
    (done, not applicable where allowed, not done); Ctrl+S records the items changed, one
    command each (checklist items are idempotent per item on the service)."""

    def __init__(
        self,
        recorded: Mapping[str, tuple[str, str]],
        *,
        title: str,
        send: Sender | None = None,
        focus_item: str = "",
    ) -> None:
        super().__init__(send=send)
        self.recorded = {k: v[0] for k, v in recorded.items()}  # item -> status on the case
        self.title_text = title
        self.focus_item = focus_item
        self.stored: dict[str, str] = {}  # items this form recorded already

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Checklist {self.title_text}", classes="title")
            yield Static(
                Text("keys 1-6 answer an item (again: the next answer); Ctrl+S records", "dim")
            )
            for n, item in enumerate(CHECK_ITEMS, start=1):
                yield Horizontal(
                    Label(f"{n} {item.value}", classes="field-name wide-name"),
                    Choice(
                        _statuses(item),
                        self.recorded.get(item.value, ""),
                        id=f"f-{item.value}",
                        shown={"": "(not answered)"},
                    ),
                    classes="field",
                )
            yield Static("", id="error", classes="error")
        yield Footer()

    def focus_first(self) -> None:
        target = self.query(f"#f-{self.focus_item}") if self.focus_item else None
        if target:
            target.first().focus()
        else:
            super().focus_first()

    def on_key(self, event: Key) -> None:
        char = event.character or ""
        if char.isdigit() and 1 <= int(char) <= len(CHECK_ITEMS):
            event.stop()
            choice = self.query_one(f"#f-{CHECK_ITEMS[int(char) - 1].value}", Choice)
            choice.action_step(1)
            choice.focus()

    def changed(self) -> dict[str, str]:
        """item -> status for the items answered here and not yet on the case."""
        found = {}
        for item in CHECK_ITEMS:
            value = self.query_one(f"#f-{item.value}", Choice).value
            known = self.stored.get(item.value) or self.recorded.get(item.value)
            if value and value != known:
                found[item.value] = value
        return found

    def submit(self) -> None:
        changed = self.changed()
        if not changed:
            self.error("nothing changed: press 1-6 to answer an item, Escape to close")
            return
        self.finish({"items": changed})

    async def _send(self, value: dict[str, Any]) -> None:
        assert self.send is not None
        notes = []
        for item, status in value["items"].items():
            self.error(Text(f"sending {item} ...", style="dim"))
            reply = await self.send({"fields": {"item": item, "status": status}, "at": None})
            self.last_reply = reply
            if reply.ok:
                self.stored[item] = status
                if not reply.result.get("events", ["?"]):
                    notes.append(f"{item} was already {status} (nothing stored)")
            elif reply.rule == "already-done":
                self.stored[item] = status
                notes.append(reply.error)
            else:
                self.refused(reply)
                self.query_one(f"#f-{item}", Choice).set_class(True, "-invalid")
                return
        self.dismiss({**value, "reply": self.last_reply, "notes": notes})
