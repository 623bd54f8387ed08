"""Where messages from the service land: topic -> decoded value -> the right bounded feed.

Both clients (MQTT and the in-process fake) hand every message they receive to `Inbox.handle`
with its topic below `procsuite/<site>/`, so the fake exercises the same decoding as the
real connection. An unreadable message is counted per kind and logged once, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime

from tui import wire
from tui.feeds import Feed, LatestFeed
from tui.views import (
    AlarmUpdate,
    ConnectionStatus,
    Link,
    Reading,
    Reply,
    RoomState,
    ServiceStatus,
)

log = logging.getLogger(__name__)


class Inbox:
    def __init__(self, *, user: str, clock: Callable[[], datetime]) -> None:
        self.user = user
        self.clock = clock
        self.faults: Counter[str] = Counter()
        self.states: LatestFeed[str, RoomState] = LatestFeed("states", key=lambda s: s.room)
        self.full_state_rooms: set[str] = set()  # rooms whose full state this user reads
        # Alarm events are never dropped quietly: past 10,000 unread the oldest goes, the
        # dashboard is told and resynchronises from the snapshots (which list open alarms).
        self.alarms: Feed[AlarmUpdate] = Feed(
            "alarms", 10_000, lossless=True, on_fault=self._alarm_overflow
        )
        self.readings: Feed[Reading] = Feed("readings", 5_000)  # trends: oldest dropped
        self.links: Feed[ConnectionStatus | ServiceStatus] = Feed("links", 100)
        self.pending: dict[str, asyncio.Future[Reply]] = {}

    def link(self, link: Link, detail: str = "", *, attempt: int = 0, resync: bool = False) -> None:
        self.links.put(ConnectionStatus(link, self.clock(), detail, attempt, resync))

    def _alarm_overflow(self, name: str) -> None:
        self.faults["alarm_feed_overflow"] += 1
        self.link(
            Link.CONNECTED, "alarm events came faster than shown; resynchronising", resync=True
        )

    def counters(self) -> Mapping[str, int]:
        return {
            **self.faults,
            "readings_dropped": self.readings.dropped,
            "alarm_events_dropped": self.alarms.dropped,
        }

    def expect(self, command_id: str) -> asyncio.Future[Reply]:
        done: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.pending[command_id] = done
        return done

    def fail_pending(self, why: str, rule: str) -> None:
        for command_id, waiting in self.pending.items():
            if not waiting.done():
                waiting.set_result(Reply(command_id, False, error=why, rule=rule))

    def handle(self, topic: str, payload: bytes) -> None:
        """Decode one message (topic relative to the site root) into its feed."""
        parts = topic.split("/")
        try:
            match parts:
                case ["rooms", room, "state"]:
                    state = wire.decode_state(room, payload)
                    self.full_state_rooms.add(room)
                    if state is not None:
                        self.states.put(state)
                case ["rooms", room, "state", "it"] if room not in self.full_state_rooms:
                    # IT's broker account reads only the redacted state (no vitals, no
                    # names); a user who reads the full one never falls back to it.
                    state = wire.decode_state(room, payload)
                    if state is not None:
                        self.states.put(state)
                case ["alarms", room]:
                    self.alarms.put(wire.decode_alarm_event(room, payload))
                case ["rooms", room, "vitals", device]:
                    self.readings.put(wire.decode_vitals(room, device, payload))
                case ["rooms", room, "devices", device, "status"]:
                    self.readings.put(wire.decode_device_status(room, device, payload))
                case ["status"]:
                    self.links.put(wire.decode_service_status(payload))
                case ["reply", user] if user == self.user:
                    reply = wire.decode_reply(payload)
                    waiting = self.pending.get(reply.id)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(reply)
                case _:
                    self.faults["unexpected_topic"] += 1
        except wire.WireError as exc:
            kind = f"unreadable_{parts[0] if parts[0] != 'rooms' else parts[-1]}"
            self.faults[kind] += 1
            if self.faults[kind] == 1:
                log.warning("tui: unreadable message on %s: %s", topic, exc)


class InboxStreams:
    """The `SuiteClient` streams, read from the client's `Inbox` (both clients share them)."""

    inbox: Inbox

    def states(self) -> AsyncIterator[RoomState]:
        return aiter(self.inbox.states)

    def alarms(self) -> AsyncIterator[AlarmUpdate]:
        return aiter(self.inbox.alarms)

    def readings(self) -> AsyncIterator[Reading]:
        return aiter(self.inbox.readings)

    def links(self) -> AsyncIterator[ConnectionStatus | ServiceStatus]:
        return aiter(self.inbox.links)

    def counters(self) -> Mapping[str, int]:
        return self.inbox.counters()
