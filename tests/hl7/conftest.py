"""HL7 fixtures: the HL7 components of a service on a real database and free loopback ports."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import hl7
import pytest
import pytest_asyncio

from adapters.hl7.component import hl7_components
from adapters.hl7.listener import Hl7Listener
from suite.app.case_service import CaseService
from suite.app.context import ServiceContext
from suite.bus import Bus
from suite.settings import Settings
from suite.store import migrate
from suite.store.database import Database
from tests.conftest import FakeClock
from tests.peers import free_port


def make_settings(data_dir: Any, **hl7: Any) -> Settings:
    base: dict[str, Any] = {"time_zone": "Europe/Berlin", "frame_timeout_s": 5.0}
    base.update(hl7)
    return Settings(
        data_dir=data_dir,
        hl7_port=0,
        rooms=["IR1", "IR2"],
        hl7=base,
    )


@dataclass
class Stack:
    """The HL7 components of one service instance, running."""

    settings: Settings
    db: Database
    cases: CaseService
    bus: Bus
    clock: FakeClock
    components: list[Any]
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def listener(self) -> Hl7Listener:
        return next(c for c in self.components if isinstance(c, Hl7Listener))

    @property
    def port(self) -> int:
        return self.listener.port

    def component(self, name: str) -> Any:
        return next(c for c in self.components if c.name == name)


@contextlib.asynccontextmanager
async def run_stack(url: str, settings: Settings, clock: FakeClock) -> AsyncIterator[Stack]:
    """Database writer, case service and the HL7 components, as `Service.run` builds them."""
    db = Database.from_url(url)
    writer = asyncio.create_task(db.run())
    bus = Bus()
    cases = CaseService(db, bus, clock=clock, policy=settings.workflow.policy())
    await cases.load()
    ctx = ServiceContext(settings=settings, db=db, bus=bus, cases=cases, clock=clock)
    components = hl7_components(ctx)
    stack = Stack(settings, db, cases, bus, clock, components)
    stack.tasks = [asyncio.create_task(c.run(), name=c.name) for c in components]
    try:
        for c in components:
            if isinstance(c, Hl7Listener):
                async with asyncio.timeout(10):
                    await c.ready.wait()
        yield stack
    finally:
        for task in stack.tasks:
            task.cancel()
        results = await asyncio.gather(*stack.tasks, return_exceptions=True)
        db.close()
        await writer
        await db.dispose()
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                raise r


_pg_names = itertools.count()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated PostgreSQL database (the server is started once per session)."""
    server = request.getfixturevalue("postgres_server")
    url: str = server.create_database(f"hl7_{os.getpid()}_{next(_pg_names)}")
    migrate.upgrade_sync(url)
    return url


@pytest_asyncio.fixture
async def stack(sqlite_url: str, tmp_path: Any, clock: FakeClock) -> AsyncIterator[Stack]:
    async with run_stack(sqlite_url, make_settings(tmp_path), clock) as s:
        yield s


async def send(port: int, *messages: str | bytes, wait_s: float = 10) -> list[bytes]:
    """Send each message MLLP-framed on one connection; the ACKs, unframed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    acks = []
    try:
        for m in messages:
            data = m.encode() if isinstance(m, str) else m
            writer.write(b"\x0b" + data + b"\x1c\r")
            await writer.drain()
            async with asyncio.timeout(wait_s):
                acks.append((await reader.readuntil(b"\x1c\r"))[1:-2])
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return acks


def msa(ack: bytes) -> tuple[str, str, str]:
    """(MSA-1, MSA-2, MSA-3) of an ACK, unescaped by python-hl7."""
    m = hl7.parse(ack.decode("utf-8"))
    seg = m.segment("MSA")
    text = m.unescape(str(seg(3))) if len(seg) > 3 else ""
    return (str(seg(1)), str(seg(2)), text)


def field_of(ack: bytes, path: str) -> str:
    return str(hl7.parse(ack.decode("latin-1"))[path])


async def eventually(check: Callable[[], Any], *, within_s: float = 10, what: str = "") -> Any:
    """Poll `check` until it returns something truthy (or fail after `within_s` seconds)."""
    try:
        async with asyncio.timeout(within_s):
            while True:
                value = check()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what or check}") from None


__all__ = [
    "Stack",
    "eventually",
    "field_of",
    "free_port",
    "make_settings",
    "msa",
    "run_stack",
    "send",
]
