"""What every adapter's `components(ctx)` is given by the composition root (procsuite/bootstrap.py):
the settings, the store, the bus and the application services, passed explicitly, never global.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from suite.app.case_service import CaseService
from suite.bus import Bus
from suite.clock import utc_now
from suite.settings import Settings
from suite.store.database import Database

if TYPE_CHECKING:
    from suite.app.actions import Actions
    from suite.app.alarm_service import AlarmService
    from suite.app.sample_intake import SampleIntake
    from suite.app.vitals_service import VitalsRecorder

# A section of the service status (e.g. "hl7"), read from the store and the running
# components (given as the argument) by the adapter that owns it.
StatusSection = Callable[[list[Any]], Awaitable[dict[str, Any]]]


class Component(Protocol):
    """A long-running part of the service (an adapter's runner)."""

    name: str

    async def run(self) -> None: ...


@dataclass
class ServiceContext:
    """What every component is built from; passed explicitly, never global."""

    settings: Settings
    db: Database
    bus: Bus
    cases: CaseService
    clock: Callable[[], datetime] = utc_now
    components: list[Component] = field(default_factory=list)
    rooms: list[str] | None = None
    """The rooms this instance serves now (its leases); default: `settings.rooms`."""
    site_duties: bool = True
    """Whether this instance holds the site-wide duties (HL7 sender, PACS forwarder, site
    status, commands that name no room)."""
    owner_of: Callable[[str], str | None] | None = None
    """The instance serving a room as of the last lease round (None: nobody)."""
    current_owner: Callable[[str], Awaitable[str | None]] | None = None
    """The instance serving a room now, from the database (for routing commands)."""
    alarms: AlarmService | None = None
    recorder: VitalsRecorder | None = None
    samples: SampleIntake | None = None
    """The validated sample path every device source feeds (suite/app/sample_intake.py)."""
    actions: Actions | None = None
    """The people's use cases (suite/app/actions.py)."""
    status_sections: dict[str, StatusSection] = field(default_factory=dict)
    """Sections of the service status by name, registered by the adapters that own them."""

    def __post_init__(self) -> None:
        if self.rooms is None:
            self.rooms = list(self.settings.rooms)

    @property
    def served(self) -> list[str]:
        assert self.rooms is not None
        return self.rooms
