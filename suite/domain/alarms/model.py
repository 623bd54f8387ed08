"""The alarm vocabulary every producer and consumer shares.

Producers (the vitals alarm engine, the dose rules, the adapters' technical checks, the case
timers) emit these events; the service stores them with the case, publishes them on
`procsuite/<site>/alarms/<room>` and lets nurses acknowledge them.

Lifecycle: raised -> (escalated)* -> acknowledged -> cleared, or raised -> cleared when the
condition ends first. A latching alarm stays (as "condition ended, unacknowledged") until a
person acknowledges it, and is cleared then; if its condition comes back before that,
AlarmConditionReturned says so (the same alarm, not a new one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from suite.domain.alarms.errors import AlarmAlreadyCleared


class Priority(StrEnum):
    """IEC 60601-1-8 alarm priorities."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 1, "medium": 2, "high": 3}[self.value]

    def raised(self) -> Priority:
        """The next priority up (for escalation); high stays high."""
        return {Priority.LOW: Priority.MEDIUM}.get(self, Priority.HIGH)


class Category(StrEnum):
    PHYSIOLOGICAL = "physiological"
    TECHNICAL = "technical"
    PROCEDURE = "procedure"


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlarmSource:
    """Which rule fired, and on what evidence (sample times and values, or other facts)."""

    rule: str
    device: str = ""
    parameter: str = ""
    evidence: tuple[tuple[str, float | None], ...] = ()
    # Multi-parameter rules (the cement embolism pattern): each reading that fired it as
    # (parameter, iso time, value), and the baseline it was compared with (parameter, value).
    readings: tuple[tuple[str, str, float | None], ...] = ()
    baseline: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    alarm_id: str
    room: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AlarmRaised(AlarmEvent):
    kind: str  # e.g. "spo2_low", "device_offline", "suspected_cement_embolism", "dose_3gy"
    category: Category
    priority: Priority
    message: str
    source: AlarmSource
    latching: bool = False
    case_id: str | None = None


@dataclass(frozen=True, slots=True)
class AlarmEscalated(AlarmEvent):
    priority: Priority
    message: str = ""


@dataclass(frozen=True, slots=True)
class AlarmAcknowledged(AlarmEvent):
    user: str


@dataclass(frozen=True, slots=True)
class AlarmAudioPaused(AlarmEvent):
    """A person silenced the alarm's audio until `until` (IEC 60601-1-8 AUDIO PAUSED): the
    alarm stays shown and unacknowledged; its sound comes back at `until`, or sooner when it
    escalates or its condition returns."""

    user: str
    until: datetime


@dataclass(frozen=True, slots=True)
class AlarmConditionEnded(AlarmEvent):
    """The condition is gone but the alarm latches until acknowledged."""


@dataclass(frozen=True, slots=True)
class AlarmConditionReturned(AlarmEvent):
    """The condition of a latched alarm (ended, not yet acknowledged) is back.

    The alarm stays the same one; no second alarm of the same kind is raised.
    """


@dataclass(frozen=True, slots=True)
class AlarmCleared(AlarmEvent):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LimitAdjusted(AlarmEvent):
    """A nurse set a limit for this room's patient, with who and why."""

    parameter: str
    low: float | None
    high: float | None
    user: str
    reason: str
    case_id: str | None = None


@dataclass(slots=True)
class Alarm:
    """The current view of one alarm, folded from its events."""

    alarm_id: str
    room: str
    kind: str
    category: Category
    priority: Priority
    message: str
    source: AlarmSource
    raised_at: datetime
    latching: bool = False
    case_id: str | None = None
    state: AlarmState = AlarmState.ACTIVE
    condition_active: bool = True
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    cleared_at: datetime | None = None
    audio_paused_by: str | None = None
    audio_paused_until: datetime | None = None
    history: list[AlarmEvent] = field(default_factory=list)

    @classmethod
    def from_raised(cls, ev: AlarmRaised) -> Alarm:
        return cls(
            alarm_id=ev.alarm_id,
            room=ev.room,
            kind=ev.kind,
            category=ev.category,
            priority=ev.priority,
            message=ev.message,
            source=ev.source,
            raised_at=ev.at,
            latching=ev.latching,
            case_id=ev.case_id,
            history=[ev],
        )

    def apply(self, ev: AlarmEvent) -> None:
        self.history.append(ev)
        if isinstance(ev, AlarmEscalated):
            self.priority = ev.priority
            self.audio_paused_by = self.audio_paused_until = None  # louder: heard again
        elif isinstance(ev, AlarmAudioPaused):
            self.audio_paused_by, self.audio_paused_until = ev.user, ev.until
        elif isinstance(ev, AlarmAcknowledged):
            self.state = AlarmState.ACKNOWLEDGED
            self.acknowledged_by, self.acknowledged_at = ev.user, ev.at
        elif isinstance(ev, AlarmConditionEnded):
            self.condition_active = False
        elif isinstance(ev, AlarmConditionReturned):
            self.condition_active = True
            self.audio_paused_by = self.audio_paused_until = None
        elif isinstance(ev, AlarmCleared):
            self.state = AlarmState.CLEARED
            self.condition_active = False
            self.cleared_at = ev.at


def pause_audio(alarm: Alarm, *, user: str, now: datetime, seconds: float) -> AlarmAudioPaused:
    """The event that silences `alarm` for `seconds` from `now` (a second silence starts the
    interval again). A cleared alarm has no audio to pause: `AlarmAlreadyCleared`."""
    if alarm.state is AlarmState.CLEARED:
        raise AlarmAlreadyCleared(f"alarm {alarm.alarm_id} is already cleared")
    return AlarmAudioPaused(
        alarm.alarm_id, alarm.room, now, user=user, until=now + timedelta(seconds=seconds)
    )
