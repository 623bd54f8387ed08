"""Alarm events to `procsuite/<site>/alarms/<room>`: QoS 1, in order, none lost.

The store is the outbox (suite/store/alarms.py: `published_at` stays NULL until the broker
acknowledged the event). In the common case the events come straight from the bus
(`AlarmStored`, in commit order) through a bounded queue; when that queue overflowed, after
a reconnection and at start-up, they are read back from the store from the last published
id on, so events raised while the broker was down go out in order when it returns. Delivery
is at least once: a consumer de-duplicates on `event_id`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from adapters.mqtt import codec
from adapters.mqtt.state import Publisher
from adapters.mqtt.topics import Topics
from suite.app.alarm_journal import AlarmStored
from suite.bus import Bus
from suite.store import alarms as alarm_store
from suite.store.alarms import StoredEvent
from suite.store.database import Database, StoreError

log = logging.getLogger(__name__)


class AlarmOutbox:
    def __init__(
        self,
        *,
        topics: Topics,
        rooms: Sequence[str],
        db: Database,
        bus: Bus,
        clock: Callable[[], datetime],
        maxsize: int = 10_000,
    ) -> None:
        self.topics = topics
        self.rooms = list(rooms)
        self.db = db
        self.clock = clock
        # Lossy on purpose: a dropped item is noticed (`dropped`) and re-read from the store.
        self._feed = bus.subscribe("mqtt-alarm-outbox", AlarmStored, maxsize=maxsize, lossy=True)
        self._seen_drops = 0
        self._cursor = 0  # the highest event id published (or known to be)
        self._from_store = True  # re-read the store before trusting the feed
        self._marks: list[int] = []
        self.published = 0

    @property
    def backlog(self) -> int:
        return self._feed.queue.qsize()

    async def pump(self, client: Publisher) -> None:
        """Publish in order while connected; returns only by error (the connection broke)."""
        self._from_store = True  # whatever was in flight may not have reached the broker
        while True:
            if self._from_store or self._feed.dropped != self._seen_drops:
                self._seen_drops = self._feed.dropped
                self._from_store = False
                await self._replay(client)
                continue
            if self._feed.queue.empty():
                await self._flush_marks()
                stored: AlarmStored = await self._feed.get()
            else:
                stored = self._feed.get_nowait()
            if self._feed.dropped != self._seen_drops:
                continue  # this item may come after a gap: take it from the store instead
            for event in stored.events:
                if event.event_id > self._cursor and event.room in self.rooms:
                    await self._publish(client, event)
            if len(self._marks) >= 100:
                await self._flush_marks()

    async def _replay(self, client: Publisher) -> None:
        """Publish every unpublished event after the cursor, in id order."""
        while True:
            async with self.db.session() as session:
                batch = await alarm_store.unpublished(
                    session, rooms=self.rooms, after_id=self._cursor, limit=500
                )
            if not batch:
                break
            log.info(
                "mqtt: publishing %d stored alarm events from id %d", len(batch), batch[0].event_id
            )
            for event in batch:
                await self._publish(client, event)
            await self._flush_marks()
        # Items already queued up to here are in the store too; the cursor skips them.

    async def _publish(self, client: Publisher, event: StoredEvent) -> None:
        payload = codec.to_json({"event_id": event.event_id, **event.payload})
        await client.publish(self.topics.alarms(event.room), payload, qos=1)
        self._cursor = max(self._cursor, event.event_id)
        self._marks.append(event.event_id)
        self.published += 1

    async def _flush_marks(self) -> None:
        if not self._marks:
            return
        ids, self._marks = self._marks, []
        now = self.clock()

        try:
            await self.db.write(functools.partial(alarm_store.mark_published, ids=ids, at=now))
        except StoreError:
            # Not fatal: unmarked events are published again after a restart (at least once).
            log.exception("mqtt: could not mark %d alarm events as published", len(ids))

    def close(self) -> None:
        self._feed.close()
