"""Where the discharge guard's "vitals stable since" comes from, whatever the entry point.

In the running service the alarm engine knows it (`AlarmService.stable_since`). A command
line working on the database alone reads it from the stored alarms: an open physiological
alarm whose condition is still active means "not stable now"; otherwise stability starts at
the end of the room's last physiological alarm condition (None: there never was one).
"""

from __future__ import annotations

from datetime import datetime

from suite.clock import Clock
from suite.domain.alarms.model import Category
from suite.store import alarms as alarm_store
from suite.store.database import Database


class StoredStability:
    """`Stability` from the alarm tables, for a process that runs no alarm engine."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def stable_since(self, room: str) -> datetime | None:
        async with self.db.session() as session:
            open_alarms = await alarm_store.open_alarms(session, rooms=[room])
            if any(
                alarm.category is Category.PHYSIOLOGICAL and alarm.condition_active
                for alarm, _origin in open_alarms
            ):
                return self.clock()
            return await alarm_store.last_calm(session, room)
