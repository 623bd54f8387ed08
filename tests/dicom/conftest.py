"""The DICOM adapter running on a free loopback port against a real database, and dcmtk."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from adapters.dicom.component import DicomAdapter
from suite.app.case_service import CaseService
from suite.app.context import ServiceContext
from suite.bus import Subscription
from suite.domain.alarms.model import AlarmEvent
from suite.settings import Settings
from suite.store import migrate
from suite.store.database import Database
from tests.conftest import FakeClock
from tests.peers import Postgres, missing

AE_TITLE = "PROCSUITE"
MODALITY_AE = "FLUORO1"


def dcmtk(tool: str, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a dcmtk tool by its full path (the venv's pynetdicom apps shadow the names)."""
    path = Path("/usr/bin") / tool
    if not path.exists():
        missing(f"dcmtk's {tool} (Debian package dcmtk)")
    env = {**os.environ, "TCP_NODELAY": "1"}  # without it Nagle makes dcmtk ~20x slower
    return subprocess.run(
        [str(path), *args], capture_output=True, text=True, timeout=timeout_s, env=env
    )


async def run_dcmtk(
    tool: str, *args: str, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """`dcmtk` in a worker thread: the event loop must keep serving the SCP meanwhile."""
    return await asyncio.to_thread(dcmtk, tool, *args, timeout_s=timeout_s)


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], *, timeout_s: float = 15.0, what: str = ""
) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what or check}")
        await asyncio.sleep(0.02)


@dataclass
class RunningScp:
    adapter: DicomAdapter
    settings: Settings
    cases: CaseService
    db: Database
    clock: FakeClock
    alarms: Subscription

    @property
    def port(self) -> int:
        return self.adapter.port

    @property
    def root(self) -> Path:
        return self.adapter.root

    def drain_alarms(self) -> list[AlarmEvent]:
        found = []
        while not self.alarms.queue.empty():
            found.append(self.alarms.get_nowait())
        return found


def dicom_settings(tmp_path: Path, **dicom: Any) -> Settings:
    options: dict[str, Any] = {
        "ae_title": AE_TITLE,
        "host": "127.0.0.1",
        "stations": {"IR1": MODALITY_AE, "IR2": "FLUORO2"},
        "timezone": "UTC",
        "timeout_s": 10.0,
    }
    options.update(dicom)
    return Settings(data_dir=tmp_path / "data", dicom_port=0, dicom=options)


@contextlib.asynccontextmanager
async def running_scp(
    cases: CaseService, database: Database, clock: FakeClock, settings: Settings
) -> AsyncIterator[RunningScp]:
    bus = cases.bus
    alarms = bus.subscribe("test-alarms", AlarmEvent)
    ctx = ServiceContext(settings=settings, db=database, bus=bus, cases=cases, clock=clock)
    adapter = DicomAdapter(ctx)
    task = asyncio.create_task(adapter.run(), name="dicom-under-test")
    try:
        await asyncio.wait_for(adapter.ready.wait(), timeout=10)
        yield RunningScp(adapter, settings, cases, database, clock, alarms)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        alarms.close()


@pytest_asyncio.fixture
async def scp(
    cases: CaseService, database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[RunningScp]:
    async with running_scp(cases, database, clock, dicom_settings(tmp_path)) as running:
        yield running


_db_names = itertools.count()


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite for the DICOM tests; the end-to-end test asks for PostgreSQL too, with
    `@pytest.mark.parametrize("db_url", [...], indirect=True)` (the storage path is the same)."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'procsuite.db'}"
    else:
        server: Postgres = request.getfixturevalue("postgres_server")
        url = server.create_database(f"dicom{os.getpid()}_{next(_db_names)}")
    migrate.upgrade_sync(url)
    return url
