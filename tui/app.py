"""The procsuite dashboard (Textual): board, case, vitals and alarms, integration.

Workers read the client's streams and post each item to the app as a `SuiteUpdate`; the app
folds it into the `SuiteModel` and redraws the screen on top at most every `redraw_s` (and
every second for the clocks and countdowns), so a busy suite costs a bounded redraw rate.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from suite.clock import utc_now
from tui.alarm_sound import AlarmSound
from tui.annunciator import Annunciation, Annunciator, SoundPlan
from tui.client import OFFLINE, TIMEOUT, SuiteClient
from tui.identity import Identity, identity
from tui.json_reader import WireError
from tui.model import SuiteModel
from tui.screens.base import SuiteScreen
from tui.screens.board import BoardScreen
from tui.screens.case import CaseScreen
from tui.screens.integration import IntegrationScreen
from tui.screens.refused import RefusedScreen
from tui.screens.vitals import VitalsScreen
from tui.service_clock import ServiceClock
from tui.views import AlarmUpdate, ConnectionStatus, Reply, RoomState, ServiceStatus
from tui.widgets import ResultLine

log = logging.getLogger(__name__)


class SuiteUpdate(Message):
    """Something arrived from the service (a snapshot, an alarm event, a reading, a status)."""

    def __init__(self, item: Any) -> None:
        super().__init__()
        self.item = item


class SuiteApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "procsuite"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("b", "board", "Board"),
        Binding("i", "integration", "IT"),
        Binding("escape", "board", "Board", show=False),
        # Ctrl+Q, not q: a stray key must not close the screen that shows the alarms.
        Binding("ctrl+q", "quit", "Quit"),
    ]

    def __init__(
        self,
        client: SuiteClient,
        *,
        clock: Callable[[], datetime] = utc_now,
        tz: tzinfo | None = None,
        redraw_s: float = 0.25,
        tick_s: float = 1.0,
        stale_after_s: float = 30.0,
        sound: SoundPlan | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        self.tz = tz
        self.redraw_s = redraw_s
        self.tick_s = tick_s
        self.model = SuiteModel(stale_after_s=stale_after_s)
        self.replies: deque[tuple[str, Reply]] = deque(maxlen=200)  # the latest answers
        self.last_resync: tuple[datetime, Reply] | None = None
        self.redraws = 0
        self._redraw_pending = False
        self.service_clock = ServiceClock()
        self.identity: Identity | None = None  # what the service said of this user at start
        self.refused: str = ""  # why the service refused this user, when it did
        self.annunciator = Annunciator(sound)
        self.alarm_sound = AlarmSound(
            self.annunciator.plan, bell=self.bell, on_problem=lambda _: self.schedule_redraw()
        )
        self.sounds: deque[Annunciation] = deque(maxlen=200)  # the latest sounds made

    def now(self) -> datetime:
        """The service's time when it has said it (every time on screen is the service's),
        else this terminal's clock."""
        return self.service_clock.now() or self.clock()

    @property
    def role(self) -> str:
        return self.identity.role if self.identity is not None else ""

    # ---- start-up and the feeds ---------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(BoardScreen())
        self.run_worker(self.client.run(), name="client", group="client")
        for name, stream in (
            ("states", self.client.states()),
            ("alarms", self.client.alarms()),
            ("readings", self.client.readings()),
            ("links", self.client.links()),
        ):
            self.run_worker(self._read(stream), name=f"read-{name}", group="feeds")
        self.set_interval(self.tick_s, self.schedule_redraw)
        self.run_worker(self._whoami(), name="whoami", group="whoami")

    WHOAMI_RETRY_S = 1.0

    async def _whoami(self) -> None:
        """Ask the service who this user is until it answers; an unknown user is refused
        here, at start, not at the first command."""
        while True:
            reply = await self.client.send("whoami")
            if reply.ok:
                try:
                    found = identity(reply.result)
                except WireError as exc:
                    log.warning("tui: unreadable whoami answer: %s", exc)
                    return
                self.identity = found
                if found.now is not None:
                    self.service_clock.anchor(found.now)
                self.schedule_redraw()
                return
            if reply.rule == "unknown-action":
                return  # an older service: no roles to learn, the commands still say
            if reply.rule not in (OFFLINE, TIMEOUT):
                self.refused = reply.error or reply.rule
                self.push_screen(RefusedScreen(self.client.user, self.client.where, self.refused))
                return
            await asyncio.sleep(self.WHOAMI_RETRY_S)

    async def _read(self, stream: AsyncIterator[Any]) -> None:
        async for item in stream:
            self.post_message(SuiteUpdate(item))

    def on_suite_update(self, message: SuiteUpdate) -> None:
        item = message.item
        model = self.model
        if isinstance(item, RoomState):
            self.service_clock.observe(item.at)
            model.clock_rate = self.service_clock.rate
            model.apply_state(item)
        elif isinstance(item, AlarmUpdate):
            model.apply_alarm(item)
        elif isinstance(item, ConnectionStatus | ServiceStatus):
            model.apply_link(item)
            if isinstance(item, ConnectionStatus) and item.resync:
                self.run_worker(self._resync(), group="commands")
        else:
            model.apply_reading(item)
        self.schedule_redraw()

    async def _resync(self) -> None:
        reply = await self.client.send("resync")
        self.last_resync = (self.now(), reply)
        if not reply.ok:
            log.warning("tui: resync refused: %s (%s)", reply.error, reply.rule)

    # ---- drawing ----------------------------------------------------------------------------

    def schedule_redraw(self) -> None:
        if not self._redraw_pending:
            self._redraw_pending = True
            self.set_timer(self.redraw_s, self.redraw)

    def redraw(self) -> None:
        """Sound what is due, and draw the topmost dashboard screen now."""
        self._redraw_pending = False
        if not self.is_running:
            return  # shutting down: the screens are being taken apart
        self.annunciate()
        for screen in reversed(self.screen_stack):
            if isinstance(screen, SuiteScreen):
                if screen.ready:
                    screen.redraw()
                    self.redraws += 1
                break

    def annunciate(self) -> None:
        """Sound the open alarms as the annunciator says at the service's time now (every
        update and every tick come here, through `redraw`)."""
        sound = self.annunciator.tick(self.model.alarms.values(), self.now())
        if sound is None:
            return
        self.sounds.append(sound)
        if self.alarm_sound.plan.command_for(sound.priority) is None:
            self.bell()
        else:
            self.run_worker(self.alarm_sound.play(sound), name="sound", group="sound")

    # ---- commands ---------------------------------------------------------------------------

    def command(
        self,
        what: str,
        action: str,
        line: ResultLine,
        *,
        on_reply: Callable[[Reply], None] | None = None,
        **fields: Any,
    ) -> None:
        """Send a command in a worker; `line` shows "sending", then DONE or REFUSED."""
        if self.refused:
            line.problem(f"user {self.client.user} is refused by the service: {self.refused}")
            return
        line.pending(what)
        self.run_worker(self._command(what, action, fields, line, on_reply), group="commands")

    async def send_command(self, what: str, action: str, **fields: Any) -> Reply:
        """Send a command now and return its reply (a form that stays open on a refusal)."""
        if self.refused:
            return Reply(
                "", False, error=f"user {self.client.user} is refused", rule="unknown-user"
            )
        reply = await self.client.send(action, **fields)
        self.replies.append((what, reply))
        return reply

    async def _command(
        self,
        what: str,
        action: str,
        fields: dict[str, Any],
        line: ResultLine,
        on_reply: Callable[[Reply], None] | None,
    ) -> None:
        reply = await self.client.send(action, **fields)
        self.replies.append((what, reply))
        if on_reply is not None:
            on_reply(reply)
        if line.is_mounted:
            line.show_reply(what, reply)

    # ---- navigation -------------------------------------------------------------------------

    def _show(self, screen: Screen[Any]) -> None:
        if self.refused:
            return  # an unknown user is shown nothing of the suite
        top = self.screen
        if isinstance(top, SuiteScreen) and not isinstance(top, BoardScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def open_case(self, room: str) -> None:
        self._show(CaseScreen(room))

    def open_vitals(self, room: str) -> None:
        self._show(VitalsScreen(room))

    def action_integration(self) -> None:
        self._show(IntegrationScreen())

    def action_board(self) -> None:
        top = self.screen
        if isinstance(top, SuiteScreen) and not isinstance(top, BoardScreen):
            self.pop_screen()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand("Suite board", "every room at a glance (b)", self.action_board)
        for room in self.model.room_names():
            yield SystemCommand(
                f"Case {room}", f"the case in {room}", partial(self.open_case, room)
            )
            yield SystemCommand(
                f"Vitals and alarms {room}",
                f"trends, limits, alarms in {room}",
                partial(self.open_vitals, room),
            )
        yield SystemCommand(
            "Integration (IT)", "interfaces, devices, counters (i)", self.action_integration
        )
        yield SystemCommand(
            "Resynchronise",
            "ask the service to republish every room",
            lambda: self.run_worker(self._resync()),
        )
        if isinstance(screen, CaseScreen):
            yield SystemCommand("Log a step", "on this case (l)", screen.action_log_step)
            yield SystemCommand(
                "Log the next step", "the suggested one (n)", screen.action_next_step
            )
        if isinstance(screen, VitalsScreen):
            yield SystemCommand(
                "Acknowledge alarm", "the highlighted one (a)", screen.action_acknowledge
            )
            yield SystemCommand(
                "Adjust a limit", "for this patient, with a reason (l)", screen.action_adjust_limit
            )
        yield from super().get_system_commands(screen)
