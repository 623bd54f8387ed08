"""The composition root: builds the store, the case service and the adapters, and runs them
under one `asyncio.TaskGroup` until told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from suite.bus import Bus
from suite.case_service import CaseService
from suite.settings import Settings
from suite.store import migrate
from suite.store.database import Database
from suite.tasks import stop_tasks

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


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


def build_components(ctx: ServiceContext) -> list[Component]:
    """The adapters this configuration asks for. Each adapter adds itself here."""
    components: list[Component] = []
    # -- adapters: one line each --
    if ctx.settings.dicom.enabled:
        from adapters.dicom.component import DicomAdapter

        components.append(DicomAdapter(ctx))
    from adapters.mqtt.wiring import components as mqtt_components

    components += mqtt_components(ctx)
    from adapters.hl7.component import hl7_components

    components += hl7_components(ctx)
    return components


class Service:
    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.ready = asyncio.Event()
        self.ctx: ServiceContext | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then shut down cleanly: adapters first, then the store."""
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(settings.database_url)
        db = Database.from_url(settings.database_url)
        bus = Bus()
        cases = CaseService(db, bus, clock=self.clock, policy=settings.workflow.policy())
        ctx = ServiceContext(settings=settings, db=db, bus=bus, cases=cases, clock=self.clock)
        self.ctx = ctx
        try:
            await cases.load()
            ctx.components = build_components(ctx)
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(db.run(), name="store-writer")
                running = [tg.create_task(comp.run(), name=comp.name) for comp in ctx.components]
                self.ready.set()
                log.info(
                    "procsuite ready: site=%s rooms=%s components=%s",
                    settings.site,
                    ",".join(settings.rooms),
                    ",".join(comp.name for comp in ctx.components) or "none",
                )
                await stop.wait()
                log.info("procsuite stopping")
                # In reverse order of start: clients stop before the embedded broker they use.
                # stop_tasks cancels again if a cancellation is lost (Python 3.11 wait_for).
                for task in reversed(running):
                    await stop_tasks([task])
                db.close()
                await writer
        finally:
            await db.dispose()
        log.info("procsuite stopped")
