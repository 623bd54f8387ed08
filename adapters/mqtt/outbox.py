"""Alarm events to `procsuite/<site>/alarms/<room>`: at once, QoS 1, in order, none lost.

The events come from this instance's local alarm journal (suite/store/alarm_wal.py), never
from the database: the alarm service fsyncs each event there and announces it on the bus
(`AlarmAnnounced`), and this outbox publishes it at once through a bounded queue. When that
queue overflowed, after a reconnection and at start-up, the outbox reads the journal from
its cursor (`published`, kept beside the journal) instead, so events raised while the broker
was down go out in order when it returns, even across a restart of the service. Delivery is
at least once: `event_uid` identifies an event everywhere (`event_id` is its number in this
instance's journal, increasing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from adapters.mqtt import codec
from adapters.mqtt.state import Publisher
from adapters.mqtt.topics import Topics
from suite.app.alarm_journal import AlarmAnnounced
from suite.bus import Bus
from suite.store.alarm_wal import AlarmWal, WalEntry

log = logging.getLogger(__name__)


class AlarmOutbox:
    def __init__(
        self,
        *,
        topics: Topics,
        rooms: Sequence[str],
        wal: AlarmWal,
        bus: Bus,
        maxsize: int = 10_000,
    ) -> None:
        self.topics = topics
        self.rooms = list(rooms)
        self.wal = wal
        # Lossy on purpose: a dropped item is noticed (`dropped`) and re-read from the journal.
        self._feed = bus.subscribe("mqtt-alarm-outbox", AlarmAnnounced, maxsize=maxsize, lossy=True)
        self._seen_drops = 0
        self._cursor = 0  # the highest journal number published (or known to be)
        self._from_journal = True  # re-read the journal before trusting the feed
        self._unmarked = 0
        self.published = 0

    @property
    def backlog(self) -> int:
        return self._feed.queue.qsize()

    async def pump(self, client: Publisher) -> None:
        """Publish in order while connected; returns only by error (the connection broke)."""
        self._from_journal = True  # whatever was in flight may not have reached the broker
        self._cursor = self.wal.published
        while True:
            if self._from_journal or self._feed.dropped != self._seen_drops:
                self._seen_drops = self._feed.dropped
                self._from_journal = False
                await self._replay(client)
                continue
            if self._feed.queue.empty():
                self._mark()
                announced: AlarmAnnounced = await self._feed.get()
            else:
                announced = self._feed.get_nowait()
            if self._feed.dropped != self._seen_drops:
                continue  # this item may come after a gap: take it from the journal instead
            for entry in announced.entries:
                if entry.seq > self._cursor:
                    await self._publish(client, entry)
            if self._unmarked >= 100:
                self._mark()

    async def _replay(self, client: Publisher) -> None:
        """Publish every journal entry after the cursor, in order."""
        while batch := self.wal.unpublished(self._cursor):
            log.info("mqtt: publishing %d alarm events from the journal", len(batch))
            for entry in batch:
                await self._publish(client, entry)
            self._mark()
        # Items already queued up to here are in the journal too; the cursor skips them.

    async def _publish(self, client: Publisher, entry: WalEntry) -> None:
        if entry.room in self.rooms:
            body = {"event_id": entry.seq, "event_uid": entry.uid, **entry.payload}
            await client.publish(self.topics.alarms(entry.room), codec.to_json(body), qos=1)
            self.published += 1
        self._cursor = max(self._cursor, entry.seq)
        self._unmarked += 1

    def _mark(self) -> None:
        """Tell the journal what the broker has (its entries may then be dropped)."""
        if self._unmarked:
            self._unmarked = 0
            self.wal.mark_published(self._cursor)

    def close(self) -> None:
        self._feed.close()
