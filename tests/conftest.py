"""Shared fixtures: real peers on loopback, a fresh database per test, and simulated time."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from suite.app.case_service import CaseService
from suite.bus import Bus
from suite.store import migrate
from suite.store.database import Database
from tests.peers import Mosquitto, Postgres, create_database, run_mosquitto, run_postgres

# `PROCSUITE_DB_URL=postgresql://... make test` (or `make test-postgres`): every test that
# uses a database gets a fresh one on that server instead of SQLite. Taken out of the
# environment here, and set again per test (`_external_database`) to that test's database,
# so that Settings() and the service subprocesses of a test use it.
pytest_plugins = ["tests.log_scan"]

EXTERNAL_DB = os.environ.pop("PROCSUITE_DB_URL", None)


class FakeClock:
    """Simulated time: tests move it on; nothing reads the real clock."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self.now += timedelta(seconds=seconds, **kw)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    with run_postgres() as server:
        yield server


_db_names = itertools.count()


@pytest.fixture(autouse=True)
def _external_database(monkeypatch: pytest.MonkeyPatch) -> str | None:
    """With PROCSUITE_DB_URL given to the run: this test's own database on that server."""
    if EXTERNAL_DB is None:
        return None
    url = create_database(EXTERNAL_DB, f"t{os.getpid()}_{next(_db_names)}")
    monkeypatch.setenv("PROCSUITE_DB_URL", url)
    return url


@pytest.fixture(
    params=(
        ["external"]
        if EXTERNAL_DB
        else ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
    )
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _external_database: str | None) -> str:
    """A fresh, migrated database: SQLite always, PostgreSQL too when it is installed (or
    only the PROCSUITE_DB_URL server's, when one is given)."""
    if _external_database is not None:
        url = _external_database
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'procsuite.db'}"
    else:
        server: Postgres = request.getfixturevalue("postgres_server")
        url = server.create_database(f"t{os.getpid()}_{next(_db_names)}")
    migrate.upgrade_sync(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, _external_database: str | None) -> str:
    """The test's database: SQLite, or the PROCSUITE_DB_URL server's when one is given."""
    url = _external_database or f"sqlite:///{tmp_path / 'procsuite.db'}"
    migrate.upgrade_sync(url)
    return url


@pytest_asyncio.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    import asyncio

    db = Database.from_url(db_url)
    writer = asyncio.create_task(db.run())
    try:
        yield db
    finally:
        db.close()
        await writer
        await db.dispose()


@pytest_asyncio.fixture
async def cases(database: Database, clock: FakeClock) -> CaseService:
    service = CaseService(database, Bus(), clock=clock)
    await service.load()
    return service


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    with run_mosquitto() as broker:
        yield broker
