"""The application without a running service, for the command line: the same use cases
(`suite.app.actions.Actions`), the same case service with the same transaction parts (the
HL7 outbox), fenced so that a room a running instance serves is never written behind its
back, and vitals stability read from the stored alarms.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from adapters.hl7.component import register_outbox
from suite.app.actions import Actions
from suite.app.case_service import CaseService
from suite.app.leases import outside_live_leases
from suite.app.roles import Permissions
from suite.app.stability import StoredStability
from suite.bus import Bus
from suite.clock import Clock, utc_now
from suite.settings import Settings
from suite.store.database import Database
from suite.store.running import running_database


@contextlib.asynccontextmanager
async def local_actions(
    settings: Settings, *, clock: Clock = utc_now
) -> AsyncIterator[tuple[Actions, Database]]:
    """`Actions` on the configured database alone (no alarm engine, no adapters running)."""
    async with running_database(settings.database_url) as database:
        cases = CaseService(database, Bus(), clock=clock, policy=settings.workflow.policy())
        cases.fence = outside_live_leases(clock)
        register_outbox(cases, settings, clock=clock)
        await cases.load()
        yield (
            Actions(
                cases=cases,
                users=settings.users,
                permissions=Permissions.with_overrides(settings.mqtt.permissions),
                clock=clock,
                stability=StoredStability(database, clock=clock),
            ),
            database,
        )
