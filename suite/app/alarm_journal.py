"""The alarm journal: the service's view of open alarms, and their events, announced first.

Every event (from the engine or another producer) is folded into the view at once, so the
room state shows it; appended to the local alarm journal file and fsync'd
(suite/store/alarm_wal.py); then announced on the bus (`AlarmAnnounced`) for the MQTT
outbox, which publishes it at once. Nothing on that path touches the database. One task
reconciles the local journal into the central store (the alarm rows and the append-only
`alarm_events`) as soon as it can, in order and exactly once (by the event's `uid`), and
after each commit publishes `AlarmStored` (for the PCD-04 outbox, which works from the
store). A database outage only delays that task: alarms, acknowledgements and limit changes
are annunciated meanwhile, and what waits is counted (`waiting_for_store`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from suite.app.alarm_records import event_name, event_payload
from suite.bus import Bus
from suite.domain.alarms.model import (
    Alarm,
    AlarmAcknowledged,
    AlarmAudioPaused,
    AlarmCleared,
    AlarmConditionEnded,
    AlarmConditionReturned,
    AlarmEvent,
    AlarmRaised,
    Category,
    LimitAdjusted,
)
from suite.store import alarms as alarm_store
from suite.store.alarm_journaled import Journaled, alarm_json, record_json, save_journaled
from suite.store.alarm_wal import AlarmWal, WalEntry
from suite.store.database import Database, StoreError

log = logging.getLogger(__name__)

ENGINE, BUS = "engine", "bus"  # where an alarm came from (who acknowledges it)
ALARM_JOURNAL_KIND = "alarm_journal_failed"  # the technical alarm when the local file fails


@dataclass(frozen=True, slots=True)
class AlarmStored:
    """Published on the bus after alarm events are committed, in commit order."""

    events: tuple[alarm_store.StoredEvent, ...]


@dataclass(frozen=True, slots=True)
class AlarmAnnounced:
    """Published on the bus once alarm events are in the local journal, in journal order:
    what the alarm topic publishes at once."""

    entries: tuple[WalEntry, ...]


@dataclass(slots=True)
class _Open:
    alarm: Alarm
    origin: str
    ended_at: datetime | None = None


class AlarmJournal:
    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        clock: Callable[[], datetime],
        case_for_room: Callable[[str], str | None],
        wal: AlarmWal | None = None,
    ) -> None:
        self.db, self.bus, self.clock = db, bus, clock
        self.case_for_room = case_for_room
        self.wal = wal if wal is not None else AlarmWal(None)
        self._open: dict[str, _Open] = {}
        self._recently_cleared: OrderedDict[str, Alarm] = OrderedDict()
        self.calm: dict[str, datetime | None] = {}  # room -> end of its last physiological alarm
        self._wake = asyncio.Event()
        self._stored_event = asyncio.Event()
        self.listeners: list[Callable[[str], None]] = []  # told the room of every change
        # told (ok, why) when the local journal starts or stops failing (a technical alarm)
        self.health_listeners: list[Callable[[bool, str], None]] = []
        self._healthy = True
        self.stored = 0
        self.store_failures = 0
        self.store_error: str | None = None

    # ---- the view ---------------------------------------------------------------------------

    def restore(self, opened: Iterable[tuple[Alarm, str]]) -> None:
        for alarm, origin in opened:
            self._open[alarm.alarm_id] = _Open(alarm, origin)

    def origin_of(self, alarm_id: str) -> str | None:
        found = self._open.get(alarm_id)
        return found.origin if found is not None else None

    def is_cleared(self, alarm_id: str) -> bool:
        return alarm_id not in self._open and alarm_id in self._recently_cleared

    def active(self, room: str | None = None) -> list[Alarm]:
        """Open alarms (not cleared), highest priority first, then oldest first."""
        found = [o.alarm for o in self._open.values() if room is None or o.alarm.room == room]
        return sorted(found, key=lambda a: (-a.priority.rank, a.raised_at))

    def get(self, alarm_id: str) -> Alarm | None:
        found = self._open.get(alarm_id)
        return found.alarm if found is not None else self._recently_cleared.get(alarm_id)

    def physiological_condition_in(self, room: str) -> bool:
        return any(
            o.alarm.room == room
            and o.alarm.category is Category.PHYSIOLOGICAL
            and o.alarm.condition_active
            for o in self._open.values()
        )

    @property
    def queued(self) -> int:
        """Events announced but not yet in the central store."""
        return self.wal.waiting_for_store

    @property
    def overflows(self) -> int:
        """1 while the local journal is full (events beyond it are kept in memory only)."""
        return int(self.wal.full)

    # ---- folding and storing ------------------------------------------------------------

    def emit(self, events: Iterable[AlarmEvent], origin: str) -> list[WalEntry]:
        """Fold the events into the view, write them to the local journal and announce them;
        returns their journal entries. Never waits and never touches the database."""
        items: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        rooms: list[str] = []
        for event in events:
            record, view = self._fold(event, origin)
            if record is None:
                continue
            alarm = None if view is None else alarm_json(view[0], origin=view[1], ended_at=view[2])
            items.append((record_json(record), alarm))
            rooms.append(event.room)
        if not items:
            return []
        entries = self.wal.append(items)
        self._check_health()
        self.bus.publish(AlarmAnnounced(tuple(entries)))
        for room in rooms:
            for listener in self.listeners:
                listener(room)
        self._wake.set()
        return entries

    async def emit_and_wait(self, events: Iterable[AlarmEvent], origin: str) -> None:
        """`emit`; the events are durable in the local journal when it returns (an
        acknowledgement during a database outage is answered at once)."""
        self.emit(events, origin)

    def _check_health(self) -> None:
        healthy = self.wal.error is None and not self.wal.full
        if healthy == self._healthy:
            return
        self._healthy = healthy
        why = (
            f"the local alarm journal is full ({self.wal.max_entries} events wait for the "
            "database); newer alarm events are kept in memory only"
            if self.wal.full
            else f"the local alarm journal cannot be written ({self.wal.error}); alarm events "
            "are kept in memory until the database has them"
        )
        for listener in self.health_listeners:
            listener(healthy, "" if healthy else why)

    def _fold(
        self, event: AlarmEvent, origin: str
    ) -> tuple[alarm_store.EventRecord | None, tuple[Alarm, str, datetime | None] | None]:
        room_case = self.case_for_room(event.room)
        if isinstance(event, LimitAdjusted):
            case_id = event.case_id or room_case
            payload = event_payload(event, None, case_id=case_id)
            return self._record(event, case_id, payload, user=event.user), None
        if isinstance(event, AlarmRaised):
            if event.alarm_id in self._open:
                log.warning("alarms: %s raised twice; ignored", event.alarm_id)
                return None, None
            alarm = Alarm.from_raised(event)
            if alarm.case_id is None:
                alarm.case_id = room_case
            tracked = self._open[event.alarm_id] = _Open(alarm, origin)
        else:
            found = self._open.get(event.alarm_id)
            if found is None:
                log.warning(
                    "alarms: %s for unknown or cleared alarm %s; ignored",
                    event_name(event),
                    event.alarm_id,
                )
                return None, None
            tracked = found
            tracked.alarm.apply(event)
            if isinstance(event, AlarmConditionReturned):
                # The condition is back: the alarm is no longer "ended", so a later end
                # (and the room's calm-since) counts from that later end, not the first.
                tracked.ended_at = None
            elif isinstance(event, AlarmConditionEnded | AlarmCleared):
                tracked.ended_at = tracked.ended_at or event.at
                if tracked.alarm.category is Category.PHYSIOLOGICAL:
                    calm = self.calm.get(event.room)
                    self.calm[event.room] = (
                        max(calm, tracked.ended_at) if calm else tracked.ended_at
                    )
        alarm = tracked.alarm
        if isinstance(event, AlarmCleared):
            del self._open[event.alarm_id]
            self._recently_cleared[event.alarm_id] = alarm
            while len(self._recently_cleared) > 1000:
                self._recently_cleared.popitem(last=False)
        alarm.history.clear()  # the log is in the store; keep memory flat
        payload = event_payload(event, alarm, case_id=alarm.case_id)
        user = event.user if isinstance(event, AlarmAcknowledged | AlarmAudioPaused) else None
        record = self._record(event, alarm.case_id, payload, user=user)
        return record, (alarm, tracked.origin, tracked.ended_at)

    @staticmethod
    def _record(
        event: AlarmEvent, case_id: str | None, payload: dict[str, Any], *, user: str | None
    ) -> alarm_store.EventRecord:
        return alarm_store.EventRecord(
            alarm_id=event.alarm_id,
            room=event.room,
            case_id=case_id,
            event=event_name(event),
            at=event.at,
            user=user,
            payload=payload,
        )

    async def run(self) -> None:
        """Reconcile the local journal into the central store, in order, until stopped."""
        delay = 0.5
        while True:
            chunk = self.wal.to_store()
            if not chunk:
                self._stored_event.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self.store(chunk)
            except StoreError as exc:
                self.store_failures += 1
                if self.store_error is None:
                    log.error(
                        "alarms: %d events wait for the database (%s); they are announced "
                        "and kept in the local journal",
                        self.wal.waiting_for_store,
                        exc,
                    )
                self.store_error = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if self.store_error is not None:
                log.info("alarms: the database is back; the alarm journal is catching up")
            self.store_error = None
            delay = 0.5

    async def store(self, chunk: list[WalEntry]) -> None:
        """Store one chunk of the journal (each event once) and move its cursor on."""
        found: list[tuple[int, str, dict[str, Any]]] = []
        entries = [Journaled(e.uid, e.record, e.alarm) for e in chunk]

        async def job(session: AsyncSession) -> None:
            found[:] = await save_journaled(session, entries, now=self.clock())

        def committed() -> None:
            stored = tuple(alarm_store.StoredEvent(i, room, p) for i, room, p in found)
            if stored:
                self.bus.publish(AlarmStored(stored))

        await self.db.write(job, after_commit=committed)
        self.wal.mark_stored(chunk[-1].seq)
        self._check_health()
        self.stored += len(found)

    async def flush(self, within_s: float) -> None:
        """At a clean stop: store what the local journal holds, for at most `within_s`; what
        is left stays in the journal and is stored at the next start."""
        try:
            async with asyncio.timeout(within_s):
                while chunk := self.wal.to_store():
                    await self.store(chunk)
        except (TimeoutError, StoreError) as exc:
            log.warning(
                "alarms: %d events stay in the local journal for the next start (%s)",
                self.wal.waiting_for_store,
                type(exc).__name__,
            )

    async def catch_up(self) -> None:
        """Store what an earlier run left in the local journal (at start-up, before the view
        is restored from the store); raises StoreError if the database cannot take it."""
        while chunk := self.wal.to_store():
            await self.store(chunk)

    async def drain(self) -> None:
        """Wait until every event emitted so far is stored (for tests and shutdown)."""
        while self.wal.waiting_for_store:
            self._stored_event.clear()
            self._wake.set()
            await self._stored_event.wait()
