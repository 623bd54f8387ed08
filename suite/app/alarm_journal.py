"""The alarm journal: the service's view of open alarms, and their events stored in order.

Every event (from the engine or another producer) is folded into the view at once, so the
room state shows it, then queued; one task stores the queue in batches through the single
database writer (the alarm rows and the append-only `alarm_events`) and, after each commit,
publishes `AlarmStored` on the bus, in commit order, for the MQTT outbox. Callers that must
know an event is durable (an acknowledgement) wait for their batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
from suite.store.database import Database, StoreError

log = logging.getLogger(__name__)

ENGINE, BUS = "engine", "bus"  # where an alarm came from (who acknowledges it)


@dataclass(frozen=True, slots=True)
class AlarmStored:
    """Published on the bus after alarm events are committed, in commit order."""

    events: tuple[alarm_store.StoredEvent, ...]


@dataclass(slots=True)
class _Open:
    alarm: Alarm
    origin: str
    ended_at: datetime | None = None


@dataclass(slots=True)
class _Batch:
    records: list[alarm_store.EventRecord] = field(default_factory=list)
    views: dict[str, tuple[Alarm, str, datetime | None]] = field(default_factory=dict)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class AlarmJournal:
    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        clock: Callable[[], datetime],
        case_for_room: Callable[[str], str | None],
        queue_size: int = 10_000,
    ) -> None:
        self.db, self.bus, self.clock = db, bus, clock
        self.case_for_room = case_for_room
        self.queue_size = queue_size
        self._open: dict[str, _Open] = {}
        self._recently_cleared: OrderedDict[str, Alarm] = OrderedDict()
        self.calm: dict[str, datetime | None] = {}  # room -> end of its last physiological alarm
        self._queue: deque[_Batch] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self.listeners: list[Callable[[str], None]] = []  # told the room of every change
        self.stored = 0
        self.overflows = 0

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
        return self._queued

    # ---- folding and storing ------------------------------------------------------------

    def emit(self, events: Iterable[AlarmEvent], origin: str) -> _Batch | None:
        batch: _Batch | None = None
        for event in events:
            record, view = self._fold(event, origin)
            if record is None:
                continue
            if batch is None:
                batch = _Batch()
            batch.records.append(record)
            if view is not None:
                batch.views[view[0].alarm_id] = view
            for listener in self.listeners:
                listener(event.room)
        if batch is None:
            return None
        if self._queued + len(batch.records) > self.queue_size:
            # Never silent: the events stay in memory (the engine and the view have them);
            # the fault is counted and logged, and the batch is kept all the same.
            self.overflows += 1
            log.error(
                "alarms: %d events wait to be stored (limit %d); the store is falling behind",
                self._queued,
                self.queue_size,
            )
        self._queue.append(batch)
        self._queued += len(batch.records)
        self._wake.set()
        return batch

    async def emit_and_wait(self, events: Iterable[AlarmEvent], origin: str) -> None:
        batch = self.emit(events, origin)
        if batch is not None:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            batch.waiters.append(done)
            await done

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
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batches: list[_Batch] = []
                while self._queue and len(batches) < 200:
                    batches.append(self._queue.popleft())
                await self._store(batches)

    async def _store(self, batches: list[_Batch]) -> None:
        records = [r for b in batches for r in b.records]
        views: dict[str, tuple[Alarm, str, datetime | None]] = {}
        for b in batches:
            views.update(b.views)
        ids: list[int] = []

        async def job(session: AsyncSession) -> None:
            ids[:] = await alarm_store.save(
                session, alarms=views.values(), events=records, now=self.clock()
            )

        def committed() -> None:
            stored = tuple(
                alarm_store.StoredEvent(i, r.room, r.payload)
                for i, r in zip(ids, records, strict=True)
            )
            self.bus.publish(AlarmStored(stored))

        delay = 0.5
        while True:
            try:
                await self.db.write(job, after_commit=committed)
                break
            except StoreError:
                log.exception("alarms: storing %d events failed; retrying", len(records))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self.stored += len(records)
        self._queued -= len(records)
        for b in batches:
            for waiter in b.waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def drain(self) -> None:
        """Wait until every event emitted so far is stored (for tests and shutdown)."""
        while self._queued:
            await self._emit_and_wait_marker()

    async def _emit_and_wait_marker(self) -> None:
        marker = _Batch()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        marker.waiters.append(done)
        self._queue.append(marker)
        self._wake.set()
        await done
