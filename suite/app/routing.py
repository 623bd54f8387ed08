"""Which instance answers a command when several share the broker (suite/app/leases.py).

The instance serving the command's room answers it; the one with the site-wide duties
answers the rest (no room, an unknown room, an unreadable command), and a room nobody
served a moment ago unless it has an owner now. One instance alone answers everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from suite.app.case_service import CaseService
from suite.app.requests import (
    AcknowledgeAlarm,
    AdjustLimit,
    LogStep,
    Request,
    ScheduleCase,
    SilenceAlarm,
    WriteReport,
)
from suite.domain.alarms.model import Alarm
from suite.store import alarms as alarm_store
from suite.store import cases as case_store


async def _nobody(room: str) -> str | None:
    return None


@dataclass(frozen=True)
class Routing:
    """Where this instance stands; the default answers every command (one instance)."""

    rooms: frozenset[str] = frozenset()
    site_duties: bool = True
    owner_of: Callable[[str], Awaitable[str | None]] = _nobody
    everything: bool = True
    instance: str = ""
    """Named in every reply (which instance answered), when set."""


class CommandRouter:
    def __init__(
        self,
        routing: Routing,
        *,
        cases: CaseService,
        alarm: Callable[[str], Alarm | None] = lambda alarm_id: None,
    ) -> None:
        self.routing = routing
        self.cases = cases
        self.alarm = alarm  # an open alarm by id, from memory

    async def answers(self, request: Request | None) -> bool:
        """Whether this instance answers `request` (None: a command that cannot be read)."""
        routing = self.routing
        if routing.everything:
            return True
        room = await self.room_of(request) if request is not None else None
        if room is None:
            return routing.site_duties
        if room in routing.rooms:
            return True
        # A room nobody served a moment ago: the site's instance answers (with a refusal
        # naming who serves it), unless the room has an owner now.
        return routing.site_duties and await routing.owner_of(room) is None

    async def room_of(self, request: Request) -> str | None:
        """The room a request is about (None: none, or not known here)."""
        match request:
            case LogStep(case_ref=ref) | WriteReport(case_ref=ref):
                case = self.cases.get(ref) or self.cases.by_accession(ref)
                if case is not None:
                    return case.room
                async with self.cases.db.session() as session:
                    return await case_store.room_of(session, ref)
            case AcknowledgeAlarm(alarm_id=alarm_id) | SilenceAlarm(alarm_id=alarm_id):
                found = self.alarm(alarm_id)
                if found is not None:
                    return found.room
                async with self.cases.db.session() as session:
                    return await alarm_store.room_of(session, alarm_id)
            case AdjustLimit(room=room):
                return room
            case ScheduleCase(fields=fields):
                named = fields.get("room")
                return named if isinstance(named, str) else None
        return None
