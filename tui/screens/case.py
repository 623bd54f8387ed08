"""The case screen of one room: timeline, checklist and time-out, levels, cement countdown,
images and dose; `l` logs a step with a short form, `n` the suggested next one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from suite.app.sedation_drugs import DEFAULT_LOCAL_ANESTHETICS, DEFAULT_SEDATION_DRUGS
from tui import case_text, labels, step_guide
from tui.model import SuiteModel
from tui.report_key import request_report
from tui.screens.base import ROOMS, SuiteScreen
from tui.screens.forms import AskForm, StepPicker
from tui.screens.step_form import ChecklistForm, StepForm
from tui.views import CaseView, Reply, ScheduledCase
from tui.widgets import ResultLine


class CaseScreen(SuiteScreen):
    BINDINGS = [
        Binding("l", "log_step", "Log step"),
        Binding("n", "next_step", "Next step"),
        Binding("v", "vitals", "Vitals"),
        Binding("r", "report", "Report"),
        Binding("left_square_bracket", "room(-1)", "Prev room", key_display="[", group=ROOMS),
        Binding("right_square_bracket", "room(1)", "Next room", key_display="]", group=ROOMS),
    ]

    # How long `n` / `l` wait for the snapshot that shows the step just logged.
    CATCH_UP_S = 3.0

    def __init__(self, room: str) -> None:
        super().__init__(name="case")
        self.room = room
        self._expected: tuple[str, int] | None = None  # (case id, version) the service reported

    def compose_body(self) -> ComposeResult:
        yield Static(id="case-head", classes="head")
        yield Static(id="cement", classes="cement")
        yield ResultLine(id="result")
        with VerticalScroll(id="case-body"), Horizontal(id="case-cols"):
            with Vertical(classes="col"):
                yield Static(id="timeline", classes="panel")
                yield Static(id="levels", classes="panel")
                yield Static(id="images", classes="panel")
            with Vertical(classes="col"):
                yield Static(id="phases", classes="panel")
                yield Static(id="checklist", classes="panel")

    @property
    def scheduled(self) -> tuple[ScheduledCase, ...]:
        """The room's cases booked and not yet checked in, earliest first."""
        state = self.suite.model.rooms.get(self.room or "")
        return state.scheduled if state is not None else ()

    @property
    def case(self) -> CaseView | None:
        state = self.suite.model.rooms.get(self.room or "")
        return state.case if state is not None else None

    def draw(self, model: SuiteModel, now: datetime) -> None:
        tz = self.suite.tz
        case = self.case
        if case is None:
            scheduled = self.scheduled
            text = Text(f"{self.room}: no open case", style="bold")
            if scheduled:
                text.append(" (press n to check in the next scheduled case, l to pick one)")
            else:
                text.append(" (press l to check in a scheduled case by its accession number)")
            if self.room not in model.rooms:
                text = Text(f"{self.room}: no room state received yet", style="bold")
            self.put("#case-head", text)
            for panel in ("#cement", "#phases", "#checklist", "#images", "#timeline"):
                self.put(panel, "")
            self.put("#levels", case_text.scheduled(self.room or "", scheduled, tz))
            return
        text = case_text.header(case, now, tz)
        if model.room_stale(self.room or "", now):
            text = Text("STALE", style=labels.STALE_STYLE) + Text(" ") + text
        self.put("#case-head", text)
        self.put("#cement", case_text.cement(case, now, tz))
        self.put("#phases", case_text.phases(case, tz))
        self.put("#checklist", case_text.checklist(case, tz))
        self.put("#levels", case_text.levels(case, tz))
        self.put("#images", case_text.images_and_dose(case, tz))
        self.put("#timeline", case_text.timeline(case, tz))

    # ---- actions --------------------------------------------------------------------------

    def action_vitals(self) -> None:
        if self.room:
            self.suite.open_vitals(self.room)

    def action_room(self, offset: int) -> None:
        room = self.step_room(offset)
        if room is not None and room != self.room:
            self.suite.open_case(room)

    def action_log_step(self) -> None:
        def pick(case: CaseView) -> None:
            me = self.suite.identity
            allowed = me.steps if me is not None else None
            self.app.push_screen(StepPicker(step_guide.suggest(case)[0], allowed), self._picked)

        self._when_current(pick)

    def action_report(self) -> None:
        """Have the service write this case's procedure report (tui/report_key.py)."""
        request_report(self.suite, self.query_one(ResultLine), self.case)

    def action_next_step(self) -> None:
        if self.case is None:
            self._check_in(next_one=True)
            return
        self._when_current(lambda case: self._picked(step_guide.suggest(case)[0]))

    def _when_current(self, then: Callable[[CaseView], None]) -> None:
        """Run `then` on the case once the screen shows every step logged from here (the
        service's snapshot follows its reply by up to half a second)."""
        case = self.case
        if case is None:
            self._check_in()
        elif self._is_current(case):
            then(case)
        else:
            self.run_worker(self._catch_up(then), group="catch-up", exclusive=True)

    def _is_current(self, case: CaseView) -> bool:
        expected = self._expected
        return expected is None or case.case_id != expected[0] or case.version >= expected[1]

    async def _catch_up(self, then: Callable[[CaseView], None]) -> None:
        line = self.query_one(ResultLine)
        line.pending("waiting for the service's update of the case")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.CATCH_UP_S
        while loop.time() < deadline:
            case = self.case
            if case is not None and self._is_current(case):
                line.display = False
                then(case)
                return
            await asyncio.sleep(0.05)
        line.problem("the case on screen is behind the service; check it and try again")

    def _check_in(self, *, next_one: bool = False) -> None:
        """No open case here: check in a scheduled one, the room's next by default, another
        by its number in the list or any by its accession number (or case id)."""
        scheduled = self.scheduled
        if next_one and scheduled:
            self._checked_in({"accession": scheduled[0].accession})
            return
        form = AskForm(
            f"Check in a scheduled case in {self.room}",
            [("accession", "accession number (or case id, or the number in the list)")],
            values={"accession": scheduled[0].accession} if scheduled else {},
            note=str(case_text.scheduled(self.room or "", scheduled, self.suite.tz)).rstrip(),
        )
        self.app.push_screen(form, self._checked_in)

    def _checked_in(self, filled: dict[str, Any] | None) -> None:
        if filled is None:
            return
        accession = filled["accession"]
        scheduled = self.scheduled
        if accession.isdigit() and 1 <= int(accession) <= len(scheduled):
            accession = scheduled[int(accession) - 1].accession
        line = self.query_one(ResultLine)
        fields = {"case_id": accession, "step": "check-in", "fields": {}}
        self.suite.command(f"check-in of {accession}", "log_step", line, **fields)

    def _picked(self, step: str | None) -> None:
        case = self.case
        if step is None or case is None:
            return
        me = self.suite.identity
        if me is not None and not me.may_log(step):
            self._not_mine(step, case)
            return
        title = f"{case.room} {case.procedure} {', '.join(case.levels)}"
        send = self._sender(case, step)
        done = partial(self._sent, step)
        if step == "checklist":
            focus = step_guide.suggest(case)[1].get("item", "")
            form: StepForm | ChecklistForm = ChecklistForm(
                case.checklist, title=title, send=send, focus_item=focus
            )
            self.app.push_screen(form, done)
            return
        user = self.suite.client.user
        values = step_guide.prefill(step, case, user=user)
        drugs = me.drugs if me is not None and me.drugs else DEFAULT_SEDATION_DRUGS
        form = StepForm(
            step,
            values,
            title=f"{step}: {title}",
            now=self.suite.now,
            tz=self.suite.tz,
            user=user,
            drugs=drugs,
            local_anesthetics=me.local_anesthetics if me is not None else DEFAULT_LOCAL_ANESTHETICS,
            levels=case.levels,
            images=case.received_images,
            send=send,
        )
        self.app.push_screen(form, done)

    def _not_mine(self, step: str, case: CaseView) -> None:
        """A step this user's role may not log: say who does, and show its state read-only."""
        line = self.query_one(ResultLine)
        if step == "time-out":
            state = case.time_out or "NOT SIGNED - needle steps locked"
            line.note(f"time-out: {state}. The radiologist signs it on their dashboard.")
        else:
            line.note(f"{step} is not logged by a {self.suite.role}; {step_guide.suggest(case)[0]}")

    def _sender(self, case: CaseView, step: str) -> Callable[[dict[str, Any]], Awaitable[Reply]]:
        """How a form of `step` sends itself: on this case, with the version its user saw."""
        seen = case.version

        async def send(filled: dict[str, Any]) -> Reply:
            fields: dict[str, Any] = {
                "case_id": case.case_id,
                "step": step,
                "fields": filled["fields"],
                "seen_version": seen,
            }
            if filled.get("at") is not None:
                fields["at"] = filled["at"]
            reply = await self.suite.send_command(f"{step} on {case.room}", "log_step", **fields)
            self._logged(reply)
            return reply

        return send

    def _sent(self, step: str, filled: dict[str, Any] | None) -> None:
        if filled is None or not self.is_mounted:
            return
        reply = filled.get("reply")
        if not isinstance(reply, Reply):
            return
        line = self.query_one(ResultLine)
        what = f"{step} on {self.room}"
        notes = filled.get("notes") or []
        if reply.ok and not reply.result.get("events", ["?"]):
            line.note(f"{what}: already recorded as given; nothing stored")
        elif reply.ok and notes:
            line.note(f"{what}: " + "; ".join(notes))
        else:
            line.show_reply(what, reply)

    def _logged(self, reply: Reply) -> None:
        version = reply.result.get("version")
        case_id = reply.result.get("case_id")
        if reply.ok and isinstance(version, int) and isinstance(case_id, str):
            self._expected = (case_id, version)
