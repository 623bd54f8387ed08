"""The database handle: an async engine, read sessions, and one writer task with group commit.

Every write goes through `Database.write(job)`. The writer task takes the jobs queued so far,
runs them in one transaction and commits once, then answers each caller. When a job raises,
the batch is rolled back and run again with a savepoint per job, so only that job fails and
its caller gets the error; a failed commit fails every job of the batch. A job may therefore
run more than once: it must only touch the session it is given. Callers hear back only after the commit, so an ACK or a DICOM
success status sent after `await write(...)` is sent after the data is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.errors import StoreError as StoreError  # re-exported: the store raises it
from suite.store import sqlite_driver

log = logging.getLogger(__name__)

# The drivers log each statement with its parameters (patient names among them) at DEBUG:
# sqlalchemy.engine at INFO too: whatever level the process logs at, they stay at WARNING.
for _driver in ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "asyncpg"):
    logging.getLogger(_driver).setLevel(logging.WARNING)

T = TypeVar("T")
Job = Callable[[AsyncSession], Awaitable[Any]]
AfterCommit = Callable[[], None]


class ConcurrencyError(StoreError):
    """Another writer appended to the same case first; reload and decide again."""


def async_url(url: str) -> str:
    """The async driver form of a database URL (`sqlite+aiosqlite`, `postgresql+asyncpg`)."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine for `url`; SQLite gets WAL, foreign keys and proper savepoints.

    The directory of a SQLite file is not created here: a typo in the URL must not make a
    new database somewhere (suite/startup.py refuses it; the default lives in data_dir).
    """
    url = async_url(url)
    if url.startswith("sqlite"):
        # One trip to aiosqlite's thread per statement (suite/store/sqlite_driver.py).
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, module=sqlite_driver.dbapi()
        )
        _sqlite_pragmas(engine)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take BEGIN into our hands
    # (SQLAlchemy's documented recipe for the aiosqlite dialect).
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before any ACK or success status is sent for it.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # The writer begins IMMEDIATE so it never fails to upgrade a read lock; reads defer.
        conn.exec_driver_sql(
            f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'DEFERRED')}"
        )


def is_outage(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (not the job's fault)."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


_DRIVER_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "psycopg")


def as_store_error(exc: BaseException, doing: str) -> BaseException:
    """`exc` as the store's error when it is the driver's or the connection's (a refused
    statement, a dropped or refused connection, a full disk, a timeout); anything else, ours
    (a `StoreError` or a domain error a job raised), unchanged. The one mapping every read
    (`session`) and every write (`write`) goes through, so no component sees a driver error."""
    if isinstance(exc, StoreError) or not isinstance(exc, Exception):
        return exc
    foreign = isinstance(exc, SQLAlchemyError | OSError) or type(exc).__module__.startswith(
        _DRIVER_MODULES
    )
    if not foreign:
        return exc
    error = StoreError(f"{doing}: {_short(exc)}")
    error.__cause__ = exc
    return error


class _JobFailed(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _Pending:
    job: Job
    future: asyncio.Future[Any]
    after_commit: AfterCommit | None


class Database:
    """Owns the engine and the single writer task (run it in the service's TaskGroup)."""

    def __init__(
        self, engine: AsyncEngine, *, max_batch: int = 500, max_queue: int = 50_000
    ) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        # SQLite: the writer keeps its connection between batches (no pool checkout, reset
        # and session set-up per batch); a batch that fails for any reason but a job's own
        # error drops it, and the next batch opens a fresh one.
        self._held: AsyncConnection | None = None
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue(maxsize=max_queue)
        self._closed = False
        self.batches = 0
        self.jobs = 0
        self.commit_failures = 0
        self.failing_since: float | None = None  # loop time of the first failed commit
        self.last_error = ""
        # Told (ok, error) when commits start failing and when they succeed again.
        self.health_listeners: list[Callable[[bool, str], None]] = []

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads (and for tests); writes go through `write`.

        The one place where the driver's errors on reads become `StoreError` (a dropped
        connection, a database that is restarting), so no reader sees a foreign error.
        """
        try:
            async with AsyncSession(self.engine, expire_on_commit=False) as session:
                yield session
        except Exception as exc:
            mapped = as_store_error(exc, "the database could not be read")
            if mapped is exc:
                raise
            raise mapped from exc

    async def read(self, job: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run the read-only `job` in a session of its own (`session`, so a driver error
        comes out as `StoreError`) and return what it returns."""
        async with self.session() as session:
            return await job(session)

    async def write(
        self,
        job: Callable[[AsyncSession], Awaitable[T]],
        *,
        after_commit: AfterCommit | None = None,
    ) -> T:
        """Run `job` in the next batch; return its result once the batch is committed.

        `after_commit` runs in the writer right after the commit, in commit order (for
        publishing what was written in the order it was written).
        """
        if self._closed:
            raise StoreError("the store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(job, future, after_commit))
        except asyncio.QueueFull:
            raise StoreError(
                f"the store's write queue is full ({self._queue.maxsize} jobs)"
            ) from None
        return await future

    async def run(self) -> None:
        """The writer loop; returns after `close()` once every queued job is done."""
        try:
            while True:
                first = await self._queue.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < self.max_batch and not self._queue.empty():
                    item = self._queue.get_nowait()
                    if item is None:
                        await self._commit(batch)
                        return
                    batch.append(item)
                await self._commit(batch)
        finally:
            await self._release()

    async def _release(self) -> None:
        """Give the writer's held connection back (the writer has stopped)."""
        held, self._held = self._held, None
        if held is not None:
            with contextlib.suppress(Exception):
                await held.close()

    async def _commit(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.cancelled()]
        if not live:
            return
        try:
            try:
                results = await self._run_batch(live, isolate=False)
            except _JobFailed as failed:
                if len(live) == 1:
                    results = [(live[0], False, failed.error)]
                else:
                    # Run the batch again with each job in its own savepoint, so only the
                    # failing job fails and the others still commit together.
                    results = await self._run_batch(live, isolate=True)
        except Exception as exc:
            log.exception("store: commit of %d jobs failed", len(live))
            error = StoreError(f"database commit failed: {exc}")
            for pending in live:
                if not pending.future.done():
                    pending.future.set_exception(error)
            self._health(ok=False, error=str(exc).splitlines()[0] if str(exc) else repr(exc))
            return
        if self.failing_since is not None:
            self._health(ok=True, error="")
        self.batches += 1
        self.jobs += len(live)
        for pending, ok, value in results:
            if ok and pending.after_commit is not None:
                try:
                    pending.after_commit()
                except Exception:  # committed already; a failing listener must not stop the writer
                    log.exception("store: after-commit callback failed")
            if pending.future.done():
                continue
            if ok:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(as_store_error(value, "not stored"))

    async def _run_batch(
        self, batch: list[_Pending], *, isolate: bool
    ) -> list[tuple[_Pending, bool, Any]]:
        """Run every job in one transaction and commit. Without `isolate`, the first job that
        raises rolls the whole batch back (`_JobFailed`); with it, each job has a savepoint."""
        results: list[tuple[_Pending, bool, Any]] = []
        async with self._write_session() as session:
            for pending in batch:
                if not isolate:
                    try:
                        value = await pending.job(session)
                    except Exception as exc:
                        if is_outage(exc):
                            raise  # the database's fault, not the job's: every job fails
                        raise _JobFailed(exc) from exc
                    results.append((pending, True, value))
                    continue
                try:
                    async with session.begin_nested():
                        value = await pending.job(session)
                    results.append((pending, True, value))
                except Exception as exc:  # the job's own error goes back to its caller
                    if is_outage(exc):
                        raise
                    results.append((pending, False, exc))
        return results

    @contextlib.asynccontextmanager
    async def _write_session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits when the block ends without error."""
        if not self.is_sqlite:  # PostgreSQL: a pooled connection per batch (pre-pinged)
            async with (
                AsyncSession(self._write_engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                yield session
            return
        if self._held is None:
            self._held = await self._write_engine.connect()
        held = self._held
        try:
            async with held.begin():  # BEGIN IMMEDIATE; COMMIT at the end, ROLLBACK on error
                # The session joins the connection's transaction: it flushes into it, and
                # its close leaves the commit (or the rollback) to the block above.
                session = AsyncSession(bind=held, expire_on_commit=False)
                try:
                    yield session
                    await session.flush()
                finally:
                    await session.close()
        except _JobFailed:
            raise  # a job's own error: rolled back, the connection is fine
        except BaseException:
            # A failed commit, an outage or a cancel may leave the connection in any state.
            self._held = None
            with contextlib.suppress(Exception):
                await held.invalidate()
            raise

    def _health(self, *, ok: bool, error: str) -> None:
        if ok:
            self.failing_since = None
            log.warning("store: commits succeed again")
        else:
            self.commit_failures += 1
            self.last_error = error
            if self.failing_since is not None:
                return
            self.failing_since = asyncio.get_running_loop().time()
        for listener in self.health_listeners:
            try:
                listener(ok, error)
            except Exception:
                log.exception("store: a health listener failed")

    def close(self) -> None:
        """Stop taking writes; the writer finishes what is queued and returns."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)

    async def dispose(self) -> None:
        await self._release()
        await self.engine.dispose()


def _short(exc: BaseException) -> str:
    """The first line of a driver error (its SQL and parameters stay out of logs)."""
    text = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
    return text.splitlines()[0][:200]
