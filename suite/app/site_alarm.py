"""A site-wide technical alarm an adapter or the store raises about itself (room "*": no
procedure room owns it), e.g. the DICOM store's disk is full or the database is unreachable.

It goes to the alarm service over the bus like the HL7 outage alarm: raised once per episode,
cleared when the condition ends, and adopted after a restart so the same episode keeps its
alarm. Raising and clearing never block and never raise: they may be called from any thread
through `threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from suite.bus import Bus, BusOverflow
from suite.domain.alarms.model import AlarmCleared, AlarmRaised, AlarmSource, Category, Priority
from suite.store.database import Database, StoreError

log = logging.getLogger(__name__)

SITE_ROOM = "*"


class SiteAlarm:
    def __init__(
        self,
        bus: Bus,
        *,
        clock: Callable[[], datetime],
        kind: str,
        device: str,
        priority: Priority = Priority.MEDIUM,
    ) -> None:
        self.bus, self.clock = bus, clock
        self.kind, self.device, self.priority = kind, device, priority
        self.alarm_id: str | None = None
        self.raised = 0

    @property
    def active(self) -> bool:
        return self.alarm_id is not None

    def raise_(self, message: str) -> None:
        """Raise the alarm unless this episode already has it."""
        if self.alarm_id is not None:
            return
        self.alarm_id = f"{self.kind}-{uuid.uuid4().hex[:12]}"
        self.raised += 1
        log.error("site alarm %s: %s", self.kind, message)
        self._publish(
            AlarmRaised(
                alarm_id=self.alarm_id,
                room=SITE_ROOM,
                at=self.clock(),
                kind=self.kind,
                category=Category.TECHNICAL,
                priority=self.priority,
                message=message,
                source=AlarmSource(rule=self.kind, device=self.device),
            )
        )

    def clear(self, reason: str) -> None:
        if self.alarm_id is None:
            return
        alarm_id, self.alarm_id = self.alarm_id, None
        log.info("site alarm %s cleared: %s", self.kind, reason)
        self._publish(
            AlarmCleared(alarm_id=alarm_id, room=SITE_ROOM, at=self.clock(), reason=reason)
        )

    async def adopt(self, db: Database) -> None:
        """Take over this alarm if it is still open from before a restart."""
        from suite.store.alarms import open_alarms

        try:
            async with db.session() as session:
                found = await open_alarms(session, rooms=[SITE_ROOM])
        except (StoreError, OSError) as exc:
            log.debug("site alarm %s: open alarms not read: %s", self.kind, exc)
            return
        for alarm, _origin in found:
            if alarm.kind == self.kind and alarm.source.device == self.device:
                self.alarm_id = alarm.alarm_id

    def _publish(self, event: AlarmRaised | AlarmCleared) -> None:
        try:
            self.bus.publish(event)
        except BusOverflow:
            log.error("site alarm %s not published: the alarm stream is full", event.alarm_id)


class FromThread:
    """A `SiteAlarm` raised and cleared from another thread (the DICOM association threads):
    the calls run on the service's event loop."""

    def __init__(self, alarm: SiteAlarm | None, loop: asyncio.AbstractEventLoop | None) -> None:
        self.alarm, self.loop = alarm, loop

    def raise_(self, message: str) -> None:
        if self.alarm is not None and self.loop is not None and not self.alarm.active:
            self.loop.call_soon_threadsafe(self.alarm.raise_, message)

    def clear(self, reason: str) -> None:
        if self.alarm is not None and self.loop is not None and self.alarm.active:
            self.loop.call_soon_threadsafe(self.alarm.clear, reason)
