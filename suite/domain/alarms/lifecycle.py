"""The book of current alarms: one per condition, and its lifecycle.

Rules say "this condition started" or "it ended"; the book turns that into events:

- started, no alarm for the key yet          -> AlarmRaised (a new id)
- started, latched alarm whose condition ended -> AlarmConditionReturned (same alarm)
- started, alarm already there                -> nothing (one alarm, not ten)
- ended, non-latching alarm                    -> AlarmCleared
- ended, latching alarm not yet acknowledged   -> AlarmConditionEnded (stays until acked)
- ended, latching alarm acknowledged           -> AlarmCleared
- acknowledged, condition still present        -> AlarmAcknowledged
- acknowledged, latched with condition ended   -> AlarmAcknowledged + AlarmCleared
- unacknowledged past its escalation time      -> AlarmEscalated (one priority step up)

A key is (room, kind, device): physiological and procedure alarms are one per room and
kind (device ""); technical alarms are one per room, device and kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from suite.domain.alarms.config import AlarmConfig
from suite.domain.alarms.errors import AlarmAlreadyCleared, UnknownAlarm
from suite.domain.alarms.model import (
    Alarm,
    AlarmAcknowledged,
    AlarmCleared,
    AlarmConditionEnded,
    AlarmConditionReturned,
    AlarmEscalated,
    AlarmEvent,
    AlarmRaised,
    AlarmSource,
    AlarmState,
    Category,
    Priority,
)

Key = tuple[str, str, str]  # (room, kind, device or "")

_CLEARED_MEMORY = 10_000  # ids of cleared alarms remembered to answer "already cleared"


@dataclass(slots=True)
class _Entry:
    alarm: Alarm
    key: Key
    priority_since: datetime  # when it was raised or last escalated


class AlarmBook:
    """Current (not yet cleared) alarms, by id and by key."""

    def __init__(self, config: AlarmConfig, *, id_factory: Callable[[], str] | None) -> None:
        self._config = config
        self._id_factory = id_factory
        self._entries: dict[str, _Entry] = {}
        self._by_key: dict[Key, str] = {}
        self._cleared: dict[str, None] = {}  # insertion-ordered set, bounded
        self._counters: dict[str, int] = {}

    # ---- queries ---------------------------------------------------------------------------

    def get(self, key: Key) -> Alarm | None:
        alarm_id = self._by_key.get(key)
        return self._entries[alarm_id].alarm if alarm_id is not None else None

    def keys_of_device(self, room: str, device: str) -> list[Key]:
        return [k for k in self._by_key if k[0] == room and k[2] == device]

    def active(self, room: str | None = None) -> list[Alarm]:
        """Copies of the current alarms: highest priority first, then oldest first."""
        found = [
            replace(e.alarm, history=list(e.alarm.history))
            for e in self._entries.values()
            if room is None or e.alarm.room == room
        ]
        found.sort(key=lambda a: (-a.priority.rank, a.raised_at, a.alarm_id))
        return found

    # ---- rules -----------------------------------------------------------------------------

    def condition_started(
        self,
        key: Key,
        *,
        category: Category,
        priority: Priority,
        message: str,
        source: AlarmSource,
        case_id: str | None,
        now: datetime,
    ) -> list[AlarmEvent]:
        room, kind, _ = key
        current = self.get(key)
        if current is not None:
            if current.condition_active:
                return []
            return self._apply(AlarmConditionReturned(current.alarm_id, room, now))
        raised = AlarmRaised(
            alarm_id=self._new_id(room),
            room=room,
            at=now,
            kind=kind,
            category=category,
            priority=priority,
            message=message,
            source=source,
            latching=priority in self._config.latching,
            case_id=case_id,
        )
        self._entries[raised.alarm_id] = _Entry(Alarm.from_raised(raised), key, now)
        self._by_key[key] = raised.alarm_id
        return [raised]

    def condition_ended(self, key: Key, *, now: datetime, reason: str) -> list[AlarmEvent]:
        current = self.get(key)
        if current is None or not current.condition_active:
            return []
        if current.latching and current.state is AlarmState.ACTIVE:
            return self._apply(AlarmConditionEnded(current.alarm_id, current.room, now))
        return self._apply(AlarmCleared(current.alarm_id, current.room, now, reason=reason))

    # ---- people and time -------------------------------------------------------------------

    def acknowledge(self, alarm_id: str, *, user: str, now: datetime) -> list[AlarmEvent]:
        entry = self._entries.get(alarm_id)
        if entry is None:
            if alarm_id in self._cleared:
                raise AlarmAlreadyCleared(f"alarm {alarm_id} is already cleared")
            raise UnknownAlarm(f"there is no alarm {alarm_id}")
        alarm = entry.alarm
        if alarm.state is AlarmState.ACKNOWLEDGED:
            return []  # a second nurse acknowledging the same alarm changes nothing
        events = self._apply(AlarmAcknowledged(alarm_id, alarm.room, now, user=user))
        if not alarm.condition_active:
            reason = "acknowledged after the condition ended"
            events += self._apply(AlarmCleared(alarm_id, alarm.room, now, reason=reason))
        return events

    def escalate(self, *, now: datetime) -> list[AlarmEvent]:
        """Escalate every unacknowledged alarm whose time at its priority is up."""
        events: list[AlarmEvent] = []
        for entry in list(self._entries.values()):
            alarm = entry.alarm
            after = self._config.escalation_after_s(alarm.priority)
            if alarm.state is not AlarmState.ACTIVE or after is None:
                continue
            if alarm.priority.raised() is alarm.priority:
                continue
            if (now - entry.priority_since).total_seconds() >= after:
                message = f"not acknowledged for {after:.0f} s: {alarm.message}"
                escalated = AlarmEscalated(
                    alarm.alarm_id, alarm.room, now, priority=alarm.priority.raised(),
                    message=message,
                )  # fmt: skip
                events += self._apply(escalated)
        return events

    # ---- restart ---------------------------------------------------------------------------

    def restore(self, alarm: Alarm, *, key: Key) -> None:
        """Take back an alarm the store kept (cleared ones only reserve their id)."""
        self._reserve_id(alarm.alarm_id, alarm.room)
        if alarm.state is AlarmState.CLEARED:
            self._remember_cleared(alarm.alarm_id)
            return
        since = alarm.raised_at
        for ev in alarm.history:
            if isinstance(ev, AlarmRaised | AlarmEscalated):
                since = max(since, ev.at)
        copy = replace(alarm, history=list(alarm.history))
        self._entries[alarm.alarm_id] = _Entry(copy, key, since)
        self._by_key[key] = alarm.alarm_id

    # ---- internals -------------------------------------------------------------------------

    def _apply(self, ev: AlarmEvent) -> list[AlarmEvent]:
        entry = self._entries[ev.alarm_id]
        entry.alarm.apply(ev)
        if isinstance(ev, AlarmEscalated):
            entry.priority_since = ev.at
        if isinstance(ev, AlarmCleared):
            del self._entries[ev.alarm_id]
            if self._by_key.get(entry.key) == ev.alarm_id:
                del self._by_key[entry.key]
            self._remember_cleared(ev.alarm_id)
        return [ev]

    def _remember_cleared(self, alarm_id: str) -> None:
        self._cleared[alarm_id] = None
        if len(self._cleared) > _CLEARED_MEMORY:
            del self._cleared[next(iter(self._cleared))]

    def _new_id(self, room: str) -> str:
        if self._id_factory is not None:
            return self._id_factory()
        n = self._counters.get(room, 0) + 1
        self._counters[room] = n
        return f"{room}-{n}"

    def _reserve_id(self, alarm_id: str, room: str) -> None:
        prefix, _, number = alarm_id.rpartition("-")
        if prefix == room and number.isdigit():
            self._counters[room] = max(self._counters.get(room, 0), int(number))
