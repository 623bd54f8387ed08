"""Typed requests of the application layer: who asks, from where, and what.

Every entry point (an MQTT command, the CLI, the dashboard through MQTT) turns its wire
format into one of these and hands it to `suite.app.actions.Actions`; the answer is a typed
result or a `DomainError` (a refusal naming the rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from suite.domain.envelope import Source
from suite.domain.errors import InvalidValue
from suite.settings import Role


class BadRequest(InvalidValue):
    """A request whose content does not make sense (a missing field, an unknown name)."""

    rule = "bad-command"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks and through which entry point.

    `role` is None for an authenticated user of the command channel (the service looks the
    user up in `settings.users`); the local command line, run by someone with access to the
    database itself, acts as `Role.ADMIN` under the name it is given.
    """

    user: str
    source: Source
    role: Role | None = None


@dataclass(frozen=True, slots=True)
class LogStep:
    """Log `step` (a name of `suite.app.steps.STEPS`) with `key=value` words."""

    case_ref: str  # case id or accession number
    step: str
    words: Sequence[str] = ()
    at: datetime | None = None  # None: now
    seen_version: int | None = None  # the case version the form was filled in on (stale.py)


@dataclass(frozen=True, slots=True)
class ScheduleCase:
    """Schedule a case: `fields` as the command channel documents them (docs/mqtt.md)."""

    fields: Mapping[str, Any]
    ordered_at: datetime | None = None  # None: now
    scheduled_at: datetime | None = None  # None: when ordered


@dataclass(frozen=True, slots=True)
class AcknowledgeAlarm:
    alarm_id: str


@dataclass(frozen=True, slots=True)
class SilenceAlarm:
    """Pause an alarm's audio for the configured time (IEC 60601-1-8 AUDIO PAUSED)."""

    alarm_id: str


@dataclass(frozen=True, slots=True)
class AdjustLimit:
    room: str
    parameter: str
    low: float | None = None
    high: float | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ReplayMessage:
    message_id: int


@dataclass(frozen=True, slots=True)
class AssignImage:
    sop_instance_uid: str
    case_ref: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class WriteReport:
    """Write the procedure report of a case where the service keeps its files."""

    case_ref: str  # case id or accession number


@dataclass(frozen=True, slots=True)
class Resync:
    """Ask the service to publish every room's state again."""


@dataclass(frozen=True, slots=True)
class WhoAmI:
    """Who the caller is: role, what it may do, the site's drug lists, the service's time."""


@dataclass(frozen=True, slots=True)
class StepLogged:
    case_id: str
    phase: str
    version: int
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "phase": self.phase,
            "version": self.version,
            "events": list(self.events),
        }


Request = (
    LogStep
    | ScheduleCase
    | AcknowledgeAlarm
    | SilenceAlarm
    | AdjustLimit
    | ReplayMessage
    | AssignImage
    | Resync
    | WhoAmI
    | WriteReport
)

# The action name of each request on the command channel and in the permission table.
ACTION_OF: dict[type, str] = {
    LogStep: "log_step",
    ScheduleCase: "schedule_case",
    AcknowledgeAlarm: "ack_alarm",
    SilenceAlarm: "silence_alarm",
    AdjustLimit: "adjust_limit",
    ReplayMessage: "hl7_replay",
    AssignImage: "dicom_assign",
    Resync: "resync",
    WhoAmI: "whoami",
    WriteReport: "report",
}
