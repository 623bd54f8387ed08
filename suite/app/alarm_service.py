"""The alarm service: runs the pure alarm engine, announces every alarm event, stores it.

Inputs: vital samples and device status from the MQTT adapter (`observe`, `device_status`,
`technical`), the cases (CaseChanged on the bus: phase, latest cement injection, case id),
alarm events of other producers on the bus (the DICOM dose rules publish `AlarmRaised`), a
tick every second (stale feeds, escalation, delays), and nurses' acknowledgements and limit
adjustments.

Every event goes to the alarm journal (suite/app/alarm_journal.py): folded into the view of
open alarms at once, fsync'd to the local journal file, announced on the bus
(`AlarmAnnounced`, for the MQTT outbox), and reconciled into the central store as soon as it
can be. An acknowledgement returns once it is durable in the local journal: it never waits
for the database.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from suite.app.alarm_journal import BUS, ENGINE, AlarmAnnounced, AlarmJournal, AlarmStored
from suite.app.alarm_records import limit_from_payload
from suite.app.case_service import CaseChanged, CaseService
from suite.bus import Bus
from suite.domain import events as e
from suite.domain.alarms.config import AlarmConfig, Limit
from suite.domain.alarms.engine import AlarmEngine, VitalSample
from suite.domain.alarms.errors import AlarmAlreadyCleared, UnknownAlarm
from suite.domain.alarms.model import (
    Alarm,
    AlarmAcknowledged,
    AlarmCleared,
    AlarmEvent,
    AlarmState,
    LimitAdjusted,
    Priority,
    pause_audio,
)
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.domain.case import Case
from suite.store import alarms as alarm_store
from suite.store import vitals as vitals_store
from suite.store.alarm_wal import AlarmWal
from suite.store.database import Database
from suite.tasks import run_together

log = logging.getLogger(__name__)
STOP_FLUSH_S = 5.0  # a clean stop stores what the alarm journal holds for this long at most

Clock = Callable[[], datetime]
__all__ = ["AlarmAnnounced", "AlarmService", "AlarmStored"]


Context = tuple[str | None, Any, tuple[str, datetime] | None]

# How much stored vital-sign history a restart gives back to the engine: enough for the
# embolism rule's pre-injection baseline (its NIBP window is 3 x 5 min by default).
RESTORE_SAMPLES_S = 30 * 60
RESTORE_SAMPLES_MAX = 20_000  # per room: 30 min at ~10 messages/s


def _new_alarm_id() -> str:
    return "a-" + uuid.uuid4().hex[:12]


def injection_of(case: Case) -> tuple[str, datetime] | None:
    """(level, time) of the case's latest cement injection, or None."""
    latest: tuple[str, datetime] | None = None
    for level, state in case.levels:
        for inj in state.injections:
            if latest is None or inj.at >= latest[1]:
                latest = (str(level), inj.at)
    return latest


class AlarmService:
    name = "alarms"

    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        cases: CaseService,
        clock: Clock,
        config: AlarmConfig,
        rooms: Sequence[str],
        tick_s: float = 1.0,
        journal_path: Path | None = None,
        id_factory: Callable[[], str] = _new_alarm_id,
    ) -> None:
        """`journal_path`: the local alarm journal's file (None: kept in memory only, for
        tests of other parts; the service always gives one)."""
        self.db, self.bus, self.cases, self.clock = db, bus, cases, clock
        self.config = config
        self.rooms = list(rooms)
        self.tick_s = tick_s
        self.engine = AlarmEngine(config, id_factory=id_factory)
        self._context: dict[str, Context] = {}
        self.journal = AlarmJournal(
            db=db,
            bus=bus,
            clock=clock,
            case_for_room=self.case_for_room,
            wal=AlarmWal(journal_path),
        )
        self._emit = self.journal.emit
        self._subscribe()
        self._closed = False
        self.loaded = asyncio.Event()

    # ---- inputs (synchronous; never block the caller) -----------------------------------

    def observe(self, sample: VitalSample, *, now: datetime | None = None) -> None:
        """Evaluate one sample; `now` is the service time it arrived (default: the clock)."""
        events = self.engine.observe(sample, now=self.clock() if now is None else now)
        if events:
            self._emit(events, ENGINE)

    def device_status(self, room: str, device: str, *, online: bool) -> None:
        self._emit(self.engine.device_status(room, device, online=online, now=self.clock()), ENGINE)

    def technical(
        self, room: str, device: str, *, kind: str, message: str, fault: str | None = None
    ) -> None:
        """A problem an adapter found; `fault` (e.g. "wrong_unit") picks the priority from
        `AlarmConfig.technical_priority` (medium when the site has not set it: readings are
        being lost, as with a sensor off)."""
        priority = self.config.technical_priority.get(fault or kind, Priority.MEDIUM)
        events = self.engine.technical(
            room, device, kind=kind, message=message, now=self.clock(), priority=priority
        )
        self._emit(events, ENGINE)

    def device_alarm(
        self, room: str, device: str, *, kind: str, message: str, priority: Priority
    ) -> None:
        """An alarm condition the device itself reports (an SDC alert condition), shown with
        the device's priority; one per (room, device, kind), ended by `clear_technical`. It
        stands beside procsuite's own alarms: it never replaces, ends or silences them."""
        events = self.engine.technical(
            room, device, kind=kind, message=message, now=self.clock(), priority=priority
        )
        self._emit(events, ENGINE)

    def forget_device(self, room: str, device: str) -> None:
        """A monitor was removed on purpose (its retained status deleted)."""
        self._emit(self.engine.forget_device(room, device, now=self.clock()), ENGINE)

    def clear_technical(self, room: str, device: str, *, kind: str) -> None:
        self._emit(self.engine.clear_technical(room, device, kind=kind, now=self.clock()), ENGINE)

    def tick(self) -> None:
        self._emit(self.engine.tick(now=self.clock()), ENGINE)

    # ---- nurses' actions (return once stored) -------------------------------------------

    async def acknowledge(self, alarm_id: str, *, user: str) -> Alarm:
        """Acknowledge an alarm; returns its view once the acknowledgement is stored.

        Raises `UnknownAlarm` / `AlarmAlreadyCleared` (DomainErrors) naming the alarm.
        """
        now = self.clock()
        journal = self.journal
        origin = journal.origin_of(alarm_id)
        found = journal.get(alarm_id)
        if origin == BUS and found is not None:
            events = self._ack_external(found, user=user, now=now)
        else:
            if journal.is_cleared(alarm_id):
                raise AlarmAlreadyCleared(f"alarm {alarm_id} is already cleared")
            events = self.engine.acknowledge(alarm_id, user=user, now=now)
            origin = ENGINE
        await journal.emit_and_wait(events, origin)
        alarm = journal.get(alarm_id)
        assert alarm is not None
        return alarm

    def _ack_external(self, alarm: Alarm, *, user: str, now: datetime) -> list[AlarmEvent]:
        if alarm.state is AlarmState.ACKNOWLEDGED:
            raise AlarmAlreadyCleared(f"alarm {alarm.alarm_id} is already acknowledged")
        # Other producers' alarms (dose thresholds) are notifications: no condition ends
        # them, so a person's acknowledgement clears them.
        return [
            AlarmAcknowledged(alarm.alarm_id, alarm.room, now, user=user),
            AlarmCleared(alarm.alarm_id, alarm.room, now, reason=f"acknowledged by {user}"),
        ]

    async def pause_audio(self, alarm_id: str, *, user: str) -> Alarm:
        """Silence an open alarm's audio for the configured `audio_pause_s`; returns its view
        once the pause is stored (and so in the audit trail). The alarm stays open and, if it
        was, unacknowledged. Raises `UnknownAlarm` / `AlarmAlreadyCleared`."""
        journal = self.journal
        found, origin = journal.get(alarm_id), journal.origin_of(alarm_id)
        if found is None:
            raise UnknownAlarm(f"there is no alarm {alarm_id}")
        seconds = self.engine.config.audio_pause_s
        event = pause_audio(found, user=user, now=self.clock(), seconds=seconds)  # cleared?
        await journal.emit_and_wait([event], origin or ENGINE)
        alarm = journal.get(alarm_id)
        assert alarm is not None
        return alarm

    async def adjust_limit(
        self,
        room: str,
        param: Param,
        *,
        low: float | None,
        high: float | None,
        user: str,
        reason: str,
    ) -> list[AlarmEvent]:
        events = self.engine.adjust_limit(
            room, param, low=low, high=high, user=user, reason=reason, now=self.clock()
        )
        await self.journal.emit_and_wait(events, ENGINE)
        return events

    # ---- queries ------------------------------------------------------------------------

    def active(self, room: str | None = None) -> list[Alarm]:
        """Open alarms (not cleared), highest priority first, then oldest first."""
        return self.journal.active(room)

    def get(self, alarm_id: str) -> Alarm | None:
        return self.journal.get(alarm_id)

    def limits(self, room: str) -> dict[Param, Limit]:
        """The limits in force in `room` (its phase's, with any patient adjustment)."""
        return dict(self.engine.limits(room))

    def adjust_bounds(self, param: Param) -> tuple[float, float]:
        """What a limit of `param` may be set to for a patient: the configured bounds, else
        the parameter's physical range (shown by the dashboard's limit form)."""
        info = PARAMETERS[param]
        return self.engine.config.adjust_bounds.get(param, (info.physical_min, info.physical_max))

    def adjusted_limits(self, room: str) -> list[LimitAdjusted]:
        """The per-patient limit changes in force in `room`."""
        return list(self.engine.adjusted_limits(room))

    def baseline(self, room: str) -> dict[Param, float]:
        """The patient's own baseline (for the embolism pattern), by parameter."""
        return dict(self.engine.baseline(room))

    def capnography(self, room: str) -> dict[str, object]:
        """The capnography rules' view of `room`: the monitors counted as a connected
        capnograph and the EtCO2 baseline taken after sedation started (None: not yet)."""
        return {
            "capnographs": self.engine.capnographs(room),
            "etco2_baseline": self.engine.etco2_baseline(room),
        }

    @property
    def listeners(self) -> list[Callable[[str], None]]:
        """Told the room of every change (the room state marks it dirty)."""
        return self.journal.listeners

    def case_for_room(self, room: str) -> str | None:
        context = self._context.get(room)
        return context[0] if context is not None else None

    def vitals_stable_since(self, room: str) -> datetime | None:
        """When the room's last physiological alarm condition ended (None: none ever);
        now, while one is still going on (for the discharge guard)."""
        if self.journal.physiological_condition_in(room):
            return self.clock()
        return self.journal.calm.get(room)

    async def stable_since(self, room: str) -> datetime | None:
        """`suite.app.actions.Stability`: the same, for the discharge use case."""
        return self.vitals_stable_since(room)

    @property
    def queued(self) -> int:
        return self.journal.queued

    @property
    def stored(self) -> int:
        return self.journal.stored

    @property
    def overflows(self) -> int:
        return self.journal.overflows

    # ---- folding and storing ------------------------------------------------------------

    # ---- cases -----------------------------------------------------------------------------

    def _sync_room(self, room: str) -> None:
        case = self.cases.active_in_room(room)
        context: Context = (
            (case.case_id, case.phase, injection_of(case)) if case else (None, None, None)
        )
        if self._context.get(room) == context:
            return
        self._context[room] = context
        case_id, phase, injection = context
        first = (
            min((i.at for _, st in case.levels for i in st.injections), default=None)
            if case
            else None
        )
        events = self.engine.set_context(
            room,
            case_id=case_id,
            phase=phase,
            injection=injection,
            injection_started_at=first,
            now=self.clock(),
        )
        self._emit(events, ENGINE)
        for listener in self.listeners:
            listener(room)

    def _on_case(self, change: CaseChanged) -> None:
        moved = any(isinstance(r.event, e.OrderChanged) for r in change.records)
        for room in self.rooms if moved else [change.case.room]:
            if room in self.rooms:
                self._sync_room(room)

    # ---- start-up and the loops -------------------------------------------------------------

    async def load(self) -> None:
        """Store what the local journal holds from an earlier run, then restore open alarms
        and this patient's limits from the store; sync every room."""
        if not self.loaded.is_set():
            self.journal.wal.open()
        await self.journal.catch_up()
        since = self.clock() - timedelta(seconds=RESTORE_SAMPLES_S)
        samples: list[VitalSample] = []
        async with self.db.session() as session:
            # "*" holds the site's alarms (e.g. the HL7 outbound outage), not tied to a room.
            opened = await alarm_store.open_alarms(session, rooms=[*self.rooms, "*"])
            limits: list[LimitAdjusted] = []
            for room in self.rooms:
                self.journal.calm[room] = await alarm_store.last_calm(session, room)
                stored = await vitals_store.samples(
                    session, room=room, since=since, limit=RESTORE_SAMPLES_MAX
                )
                samples += [VitalSample(s.room, s.device, s.at, s.values, s.seq) for s in stored]
                case = self.cases.active_in_room(room)
                if case is not None:
                    limits += [
                        limit_from_payload(p)
                        for p in await alarm_store.limits_for(session, case.case_id)
                    ]
        self.journal.restore(opened)
        self.engine.restore([a for a, o in opened if o == ENGINE], limits, samples=samples)
        for room in self.rooms:
            self._sync_room(room)
        if opened:
            log.info("alarms: restored %d open alarms", len(opened))
        if samples:
            log.info("alarms: restored %d recent vital samples", len(samples))
        self.loaded.set()

    async def run(self) -> None:
        if self._closed:  # started again (by the supervisor) after a failure
            self._subscribe()
            self._closed = False
        try:
            if not self.loaded.is_set():
                await self.load()
            await run_together(
                {
                    "alarm-store": self.journal.run(),
                    "alarm-tick": self._tick_loop(),
                    "alarm-cases": self._case_loop(),
                    "alarm-inbox": self._inbox_loop(),
                }
            )
        finally:
            self._inbox.close()
            self._case_feed.close()
            self._closed = True
            if self.loaded.is_set():
                await self.journal.flush(STOP_FLUSH_S)
            self.journal.wal.close()

    def _subscribe(self) -> None:
        self._inbox = self.bus.subscribe("alarm-service", AlarmEvent, maxsize=10_000)
        self._case_feed = self.bus.subscribe("alarm-service-cases", CaseChanged, maxsize=10_000)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.tick()

    async def _case_loop(self) -> None:
        while True:
            self._on_case(await self._case_feed.get())

    async def _inbox_loop(self) -> None:
        while True:
            event: AlarmEvent = await self._inbox.get()
            self._emit([event], BUS)

    async def drain(self) -> None:
        """Wait until every event emitted so far is stored (for tests and shutdown)."""
        await self.journal.drain()
