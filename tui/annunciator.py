"""When the dashboard sounds an alarm: pure, synchronous, on the time it is given.

IEC 60601-1-8 ordering: of the alarms that are unacknowledged and not audio paused, only the
highest priority sounds. A new alarm of that priority sounds at once, and so does one that
escalated into it, whose condition returned, whose audio pause ended, or that became the
highest when a higher one was acknowledged; after that the sound repeats every
`repeat_s[priority]` (None: once, no repeat; the default for low priority). Acknowledging an
alarm stops its repeats; an audio pause (the service's `audio_paused_until`) silences it
until that time. Every time is the service's clock as the dashboard sees it (a simulated-time
demo runs faster), passed in by the caller: nothing here reads a clock.

Intervals and their sources: docs/clinical-defaults.md "Dashboard sounds".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from suite.domain.alarms.model import Priority
from tui.views import AlarmView

# IEC 60601-1-8 interval between bursts: high 2.5-15 s, medium 2.5-30 s, low > 15 s or no
# repeat (figures as commonly quoted from the standard's burst table; see
# docs/clinical-defaults.md). Engineering choices within them.
DEFAULT_REPEAT_S: Mapping[Priority, float | None] = {
    Priority.HIGH: 10.0,
    Priority.MEDIUM: 20.0,
    Priority.LOW: None,
}


class SoundMode(StrEnum):
    """How the dashboard sounds: the terminal bell, an external command per priority, or not
    at all (a terminal next to a monitor that sounds by itself)."""

    BELL = "bell"
    COMMAND = "command"
    OFF = "off"


class Reason(StrEnum):
    ONSET = "onset"  # new to the sound: raised, escalated, returned, pause ended, uncovered
    REPEAT = "repeat"


@dataclass(frozen=True, slots=True)
class SoundPlan:
    """The dashboard's sound settings (`[tui]` settings and `procsuite tui` options)."""

    mode: SoundMode = SoundMode.BELL
    repeat_s: Mapping[Priority, float | None] = field(
        default_factory=lambda: dict(DEFAULT_REPEAT_S)
    )
    commands: Mapping[Priority, str] = field(default_factory=dict)  # used in COMMAND mode
    timeout_s: float = 10.0  # an external command running longer is stopped

    def command_for(self, priority: Priority) -> str | None:
        """The command to run for `priority`; None: the terminal bell (or nothing, when off)."""
        if self.mode is not SoundMode.COMMAND:
            return None
        return self.commands.get(priority) or None


@dataclass(frozen=True, slots=True)
class Annunciation:
    """One sound to make now: its priority and the alarms it is for."""

    priority: Priority
    alarm_ids: tuple[str, ...]
    rooms: tuple[str, ...]
    reason: Reason
    at: datetime


@dataclass(frozen=True, slots=True)
class _Seen:
    priority: Priority
    condition_active: bool
    sounding: bool  # unacknowledged and not audio paused when last looked at


class Annunciator:
    """Decides, at each `tick`, whether to sound and for what; keeps what it has sounded."""

    def __init__(self, plan: SoundPlan | None = None) -> None:
        self.plan = plan or SoundPlan()
        self._seen: dict[str, _Seen] = {}
        self._fresh: set[str] = set()  # sounding alarms not heard since they became new
        self._last: tuple[Priority, datetime] | None = None  # the last sound

    def tick(self, alarms: Iterable[AlarmView], now: datetime) -> Annunciation | None:
        """The sound to make at `now` for the dashboard's open alarms, or None."""
        sounding: list[AlarmView] = []
        seen: dict[str, _Seen] = {}
        for alarm in alarms:
            on = is_sounding(alarm, now)
            before = self._seen.get(alarm.alarm_id)
            state = _Seen(alarm.priority, alarm.condition_active, on)
            seen[alarm.alarm_id] = state
            if on:
                sounding.append(alarm)
                if _became_new(before, state):
                    self._fresh.add(alarm.alarm_id)
            else:
                self._fresh.discard(alarm.alarm_id)
        self._fresh &= set(seen)
        self._seen = seen
        if self.plan.mode is SoundMode.OFF or not sounding:
            return None
        top = max(a.priority.rank for a in sounding)
        loudest = [a for a in sounding if a.priority.rank == top]
        priority = loudest[0].priority
        fresh = [a for a in loudest if a.alarm_id in self._fresh]
        if fresh:
            reason = Reason.ONSET
        elif self._due(priority, now):
            reason = Reason.REPEAT
        else:
            return None
        self._fresh -= {a.alarm_id for a in loudest}
        self._last = (priority, now)
        return Annunciation(
            priority=priority,
            alarm_ids=tuple(a.alarm_id for a in loudest),
            rooms=tuple(sorted({a.room for a in loudest})),
            reason=reason,
            at=now,
        )

    def _due(self, priority: Priority, now: datetime) -> bool:
        interval = self.plan.repeat_s.get(priority)
        if interval is None or self._last is None:
            return False
        return (now - self._last[1]).total_seconds() >= interval


def is_sounding(alarm: AlarmView, now: datetime) -> bool:
    """Unacknowledged and its audio not paused at `now`."""
    paused = alarm.audio_paused_until is not None and now < alarm.audio_paused_until
    return alarm.needs_ack and not paused


def _became_new(before: _Seen | None, now: _Seen) -> bool:
    if before is None or not before.sounding:
        return True  # raised, or its pause ended (or it was seen acknowledged: never again)
    if now.priority.rank > before.priority.rank:
        return True  # escalated
    return now.condition_active and not before.condition_active  # its condition returned
