"""The dashboard's picture of the suite, folded from what the client delivers. Pure, synchronous.

Room snapshots are authoritative for the open alarms of their room as of their time; alarm
events in between update single alarms. Because the two arrive on different topics, each
alarm remembers the service time it is known as of, and an older snapshot never brings back
an alarm a newer event cleared (nor drops one a newer event raised).

While the link is down everything stays as last known and `stale_since` says since when.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from suite.domain.alarms.model import Priority
from tui.history import VitalsHistory
from tui.views import (
    AlarmUpdate,
    AlarmView,
    ConnectionStatus,
    DeviceStatus,
    Link,
    Reading,
    RoomState,
    ServiceStatus,
    VitalsReading,
)

TREND_POINTS = 120  # two minutes of a 1 Hz monitor


@dataclass(frozen=True, slots=True)
class Current:
    """The freshest value of a parameter in a room, from a sample or the snapshot."""

    value: float | None
    at: datetime | None
    device: str


class SuiteModel:
    def __init__(self, *, stale_after_s: float = 30.0) -> None:
        self.stale_after_s = stale_after_s
        self.rooms: dict[str, RoomState] = {}
        self.alarms: dict[str, AlarmView] = {}
        self.alarm_log: deque[AlarmUpdate] = deque(maxlen=200)
        # The sparklines' last samples; None is a sample without the value (drawn as a gap).
        self.trends: dict[tuple[str, str], list[tuple[datetime, float | None]]] = {}
        self.link: ConnectionStatus | None = None
        self.service: ServiceStatus | None = None
        self.stale_since: datetime | None = None
        self.device_status: dict[tuple[str, str], bool | None] = {}
        self.clock_rate = 1.0  # service seconds per real second (a simulated day runs faster)
        self.version = 0  # bumped by every change; screens redraw when it moved
        self._asof: dict[str, datetime] = {}
        self._cleared: OrderedDict[str, datetime] = OrderedDict()
        self._current: dict[tuple[str, str], Current] = {}
        self.history = VitalsHistory()

    # ---- folding ------------------------------------------------------------------------------

    def apply_state(self, state: RoomState) -> None:
        previous = self.rooms.get(state.room)
        if previous is not None and previous.at > state.at:
            return  # an older snapshot arrived late
        self.rooms[state.room] = state
        listed = {a.alarm_id for a in state.alarms}
        for alarm in state.alarms:
            cleared = self._cleared.get(alarm.alarm_id)
            if cleared is not None and cleared >= state.at:
                continue
            if self._asof.get(alarm.alarm_id, state.at) <= state.at:
                self._put_alarm(alarm, state.at)
        for alarm_id, alarm in list(self.alarms.items()):
            gone = alarm.room == state.room and alarm_id not in listed
            if gone and self._asof.get(alarm_id, state.at) <= state.at:
                self._drop_alarm(alarm_id, state.at)
        for param, vital in state.vitals.items():
            self._observe(state.room, param, vital.value, vital.at, vital.device)
        self.version += 1

    def apply_alarm(self, update: AlarmUpdate) -> None:
        self.alarm_log.append(update)
        alarm = update.alarm
        newer = alarm is not None and self._asof.get(alarm.alarm_id, update.at) <= update.at
        if alarm is not None and alarm.alarm_id and newer:
            if update.event == "cleared" or alarm.state == "cleared":
                self._drop_alarm(alarm.alarm_id, update.at)
            elif alarm.alarm_id not in self._cleared:
                self._put_alarm(alarm, update.at)
        self.version += 1

    def apply_reading(self, reading: Reading) -> None:
        if isinstance(reading, DeviceStatus):
            self.device_status[(reading.room, reading.device)] = reading.online
        elif isinstance(reading, VitalsReading):
            for param, value in reading.values.items():
                self._observe(reading.room, param, value, reading.at, reading.device)
        self.version += 1

    def apply_link(self, status: ConnectionStatus | ServiceStatus) -> None:
        if isinstance(status, ServiceStatus):
            self.service = status
        else:
            self.link = status
            if status.link is Link.CONNECTED:
                self.stale_since = None
            elif self.stale_since is None and self.rooms:
                self.stale_since = status.at
        self.version += 1

    def _put_alarm(self, alarm: AlarmView, at: datetime) -> None:
        self.alarms[alarm.alarm_id] = alarm
        self._asof[alarm.alarm_id] = at

    def _drop_alarm(self, alarm_id: str, at: datetime) -> None:
        self.alarms.pop(alarm_id, None)
        self._asof.pop(alarm_id, None)
        self._cleared[alarm_id] = at
        while len(self._cleared) > 2_000:
            self._cleared.popitem(last=False)

    def _observe(
        self, room: str, param: str, value: float | None, at: datetime | None, device: str
    ) -> None:
        key = (room, param)
        known = self._current.get(key)
        newer = known is None or known.at is None or at is None or at > known.at
        if newer:
            self._current[key] = Current(value, at, device)
        if at is None:
            return
        if value is not None:
            self.history.add(room, param, at, value)  # the trend plots over the case
        trend = self.trends.get(key)
        if trend is None:
            trend = self.trends[key] = []
        # Kept in device-time order even when a snapshot overtakes the samples it repeats.
        i = bisect.bisect_left(trend, at, key=lambda point: point[0])
        if i < len(trend) and trend[i][0] == at:
            return
        trend.insert(i, (at, value))
        if len(trend) > TREND_POINTS:
            del trend[0]

    # ---- questions the screens ask ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.link is Link.CONNECTED

    def room_names(self) -> list[str]:
        return sorted(self.rooms)

    def current(self, room: str, param: str) -> Current | None:
        return self._current.get((room, param))

    def trend(self, room: str, param: str) -> list[float | None]:
        return [v for _, v in self.trends.get((room, param), ())]

    def active_alarms(self, room: str | None = None) -> list[AlarmView]:
        """Open alarms, highest priority first, unacknowledged before acknowledged, oldest first."""
        return sort_alarms(a for a in self.alarms.values() if room is None or a.room == room)

    def highest_alarm(self, room: str) -> AlarmView | None:
        found = self.active_alarms(room)
        return found[0] if found else None

    def banner_alarms(self) -> list[AlarmView]:
        """The high-priority alarms every screen shows."""
        return [a for a in self.active_alarms() if a.priority is Priority.HIGH]

    def room_stale(self, room: str, now: datetime) -> bool:
        """Whether what is shown of `room` may be out of date: the snapshot is older than
        `stale_after_s` real seconds by the service's clock (`now`, running at `clock_rate`)."""
        if not self.connected:
            return True
        state = self.rooms.get(room)
        if state is None:
            return True
        return (now - state.at).total_seconds() / self.clock_rate > self.stale_after_s


def sort_alarms(alarms: Iterable[AlarmView]) -> list[AlarmView]:
    def key(a: AlarmView) -> tuple[int, int, float]:
        raised = a.raised_at.timestamp() if a.raised_at else 0.0
        return (-a.priority.rank, 0 if a.needs_ack else 1, raised)

    return sorted(alarms, key=key)
