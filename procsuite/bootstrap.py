"""The composition root: builds the store, the case service and the adapters, and runs them
under one `asyncio.TaskGroup` until told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from suite.app.case_service import CaseService
from suite.app.context import Component, ServiceContext
from suite.app.leases import RoomLeases
from suite.app.services import build_application
from suite.app.site_alarm import SiteAlarm
from suite.bus import Bus
from suite.clock import utc_now
from suite.domain.alarms.model import Priority
from suite.settings import Settings
from suite.store import migrate
from suite.store.database import Database
from suite.supervisor import COMPONENT_FAILED_KIND, Supervised
from suite.tasks import stop_tasks

log = logging.getLogger(__name__)

DATABASE_DOWN_KIND = "database_unavailable"


def build_components(ctx: ServiceContext) -> list[Component]:
    """The application services (into `ctx`), then the adapters this configuration asks
    for, in the order they start (they stop in reverse). Each adapter adds itself here."""
    from adapters.dicom import status as dicom_status
    from adapters.hl7 import status as hl7_status

    components = build_application(ctx)
    ctx.status_sections["hl7"] = hl7_status.status_section(ctx.db)
    ctx.status_sections["dicom"] = dicom_status.status_section(ctx.db)
    # -- adapters: one line each --
    if ctx.settings.dicom.enabled:
        from adapters.dicom.component import DicomAdapter

        components.append(DicomAdapter(ctx))
    from adapters.mqtt.wiring import components as mqtt_components

    components += mqtt_components(ctx)
    from adapters.hl7.component import hl7_components

    components += hl7_components(ctx)
    from adapters.devices.component import device_components

    components += device_components(ctx)
    from adapters.devices.sdc.wiring import sdc_components

    components += sdc_components(ctx)
    from suite.watchdog import loop_watchdog

    components += loop_watchdog(ctx)
    return components


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        lease_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.clock = clock
        # Leases run on the wall clock shared with the other instances, even when the
        # domain runs on a simulated one (the demo).
        self.lease_clock = lease_clock
        self.ready = asyncio.Event()
        self.bus = Bus()
        self.ctx: ServiceContext | None = None
        self.leases: RoomLeases | None = None
        self.rebuilds = 0
        self.supervised: dict[str, Supervised] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then shut down cleanly: adapters first, then the store.

        When the rooms this instance serves change (a takeover, a room handed back), the
        adapters are stopped and built again for the new rooms, the cases re-read from the
        event log; the store keeps running.
        """
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(settings.database_url)
        db = Database.from_url(settings.database_url)
        bus = self.bus = Bus()
        self.supervised = {}
        cases = CaseService(db, bus, clock=self.clock, policy=settings.workflow.policy())
        leases = RoomLeases(db, settings.lease, home_rooms=settings.rooms, clock=self.lease_clock)
        db_alarm = SiteAlarm(
            bus, clock=self.clock, kind=DATABASE_DOWN_KIND, device=settings.lease.instance_id,
            priority=Priority.HIGH,
        )  # fmt: skip
        db.health_listeners.append(
            lambda ok, error: (
                db_alarm.clear("commits succeed again")
                if ok
                else db_alarm.raise_(
                    f"the database does not accept writes ({error}): case commands are refused; "
                    "alarms are announced from the local alarm journal and vitals wait in "
                    "memory until it is back"
                )
            )
        )
        self.leases = leases
        cases.fence = leases.fence
        try:
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(self._supervise(_Part("store-writer", db.run)).run())
                await db_alarm.adopt(db)
                await leases.start()
                keeper = tg.create_task(self._supervise(_Part("leases", leases.run)).run())
                follower = tg.create_task(
                    self._supervise(
                        _Part("case-follower", lambda: self._follow(cases, leases))
                    ).run()
                )
                while True:
                    await cases.load()
                    cases.clear_hooks()
                    leases.mark_built()
                    ctx = ServiceContext(
                        settings=settings, db=db, bus=bus, cases=cases, clock=self.clock,
                        rooms=leases.rooms, site_duties=leases.site, owner_of=leases.owner_of,
                        current_owner=leases.current_owner,
                    )  # fmt: skip
                    self.ctx = ctx
                    ctx.components = build_components(ctx)
                    running = [
                        tg.create_task(self._supervise(c).run(), name=c.name)
                        for c in ctx.components
                    ]
                    self.ready.set()
                    log.info(
                        "procsuite ready: site=%s instance=%s rooms=%s site-duties=%s "
                        "components=%s",
                        settings.site,
                        settings.lease.instance_id,
                        ",".join(ctx.served) or "none",
                        "yes" if ctx.site_duties else "no",
                        ",".join(comp.name for comp in ctx.components) or "none",
                    )
                    rebuild = await _first_of(stop, leases.changed)
                    log.info("procsuite stopping" if not rebuild else "procsuite: rooms changed")
                    # In reverse order of start: clients stop before the embedded broker they
                    # use. stop_tasks cancels again if a cancellation is lost (3.11 wait_for).
                    stuck = [t.get_name() for t in reversed(running) if not await stop_tasks([t])]
                    if not rebuild:
                        break
                    if stuck:
                        # Two of them would share a broker client id and a room: end the
                        # process instead; its supervisor starts a clean one.
                        raise RuntimeError(f"{', '.join(stuck)} would not stop for a rebuild")
                    self.rebuilds += 1
                await stop_tasks([follower, keeper])
                await leases.release_all()
                db.close()
                await writer
        finally:
            await db.dispose()
        log.info("procsuite stopped")

    def _supervise(self, component: Component) -> Supervised:
        """`component` under a supervisor (suite/supervisor.py); its alarm is kept across
        rebuilds, so a component that failed before a rebuild clears it once it runs."""
        before = self.supervised.get(component.name)
        alarm = before.alarm if before is not None else None
        if alarm is None:
            alarm = SiteAlarm(
                self.bus, clock=self.clock, kind=COMPONENT_FAILED_KIND, device=component.name
            )
        self.supervised[component.name] = Supervised(component, alarm)
        return self.supervised[component.name]

    async def _follow(self, cases: CaseService, leases: RoomLeases) -> None:
        """Pick up changes other processes make to the served rooms' cases."""
        while True:
            await asyncio.sleep(self.settings.lease.renew_s)
            try:
                await cases.follow(leases.rooms)
            except Exception as exc:  # the database is away: try again next time
                log.warning("cases: could not look for changes made elsewhere (%s)", exc)


class _Part:
    """A part of the service that is not an adapter (the store writer, the leases)."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name, self._run = name, run

    async def run(self) -> None:
        await self._run()


async def _first_of(stop: asyncio.Event, changed: asyncio.Event) -> bool:
    """Wait for a stop (False) or a change of rooms (True)."""
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(changed.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await stop_tasks(waits)
    return not stop.is_set()
