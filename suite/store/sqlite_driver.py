"""SQLite through aiosqlite with one trip to aiosqlite's thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips to the connection's thread for a statement
that returns rows (open a cursor, execute, fetch, close) and three for one that does not;
each trip is a queue hand-off and a wake-up of the event loop (about 60 µs on the 2-core
machine, docs/benchmarks.md, "The store's writer"). Here a statement is one trip: the
sqlite3 cursor is opened, executed, read and closed in one call on aiosqlite's thread, and
what SQLAlchemy asks of the cursor afterwards (description, rowcount, lastrowid, rows) is
kept; a transaction's BEGIN goes with its first statement, and the pool's rollback of a
connection with no transaction open costs no trip. Everything else (errors, transactions, savepoints, connection lifecycle) is the
library's: the classes below only replace the cursor. Given to SQLAlchemy as the DBAPI
module (`create_async_engine(..., module=dbapi())`), so URLs stay `sqlite+aiosqlite`.
`Connection._execute` (aiosqlite's queue to its thread, which SQLAlchemy's adapter also uses
directly) is not public: pyproject.toml pins aiosqlite below 0.23 for it, and
tests/store/test_sqlite_driver.py counts the trips.

`execute_all` goes further for statements whose results nobody reads (the rows of a group
commit, an upsert and its message row): they are queued as SQLAlchemy executes them and
reach SQLite together, in one trip, the first that fails stopping the rest.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(
    db: sqlite3.Connection, operation: str, parameters: Any, *, many: bool, begin: str | None
) -> _Outcome:
    """On aiosqlite's thread: the transaction's deferred BEGIN, if any, then the whole life of
    one sqlite3 cursor."""
    if begin is not None:
        db.execute(begin)
    cursor = db.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _QueuedFailed(Exception):
    def __init__(self, at: int, error: Exception) -> None:
        super().__init__(str(error))
        self.at = at  # index in the queue (-1: the BEGIN sent ahead of it)
        self.error = error


# One queued statement: (its step in `execute_all`, SQL, parameters, executemany).
_Queued = tuple[int, str, Any, bool]


def _run_all(db: sqlite3.Connection, queued: list[_Queued], *, begin: str | None) -> None:
    """On aiosqlite's thread: the pending BEGIN, then every queued statement in order."""
    if begin is not None:
        try:
            db.execute(begin)
        except Exception as exc:
            raise _QueuedFailed(-1, exc) from exc
    for at, (_step, operation, parameters, many) in enumerate(queued):
        try:
            if many:
                db.executemany(operation, parameters).close()
            elif parameters is None:
                db.execute(operation).close()
            else:
                db.execute(operation, parameters).close()
        except Exception as exc:
            raise _QueuedFailed(at, exc) from exc


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A DBAPI cursor whose statement runs in one call on aiosqlite's thread."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No sqlite3 cursor is opened here (the library's cursor spends a trip on it).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        return None  # the sqlite3 cursor is closed already, its rows kept

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        connection: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if not parameters and _is_begin(operation):
            # Sent with the transaction's first statement instead (no trip of its own).
            connection._begin = operation
            self._description, self._rowcount, self._lastrowid = None, -1, None
            return
        if connection._queued is not None:
            self._queue(connection, operation, parameters, many=False)
            return
        try:
            await_(self._trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        connection: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if connection._queued is not None:
            self._queue(connection, operation, seq_of_parameters, many=True)
            return
        try:
            await_(self._trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def _queue(
        self, connection: OneTripConnection, operation: Any, parameters: Any, *, many: bool
    ) -> None:
        assert connection._queued is not None
        connection._queued.append((connection._step, operation, parameters, many))
        self._description, self._rowcount, self._lastrowid = None, -1, None
        self._rows = collections.deque()

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapted._execute_mutex:
            begin, adapted._begin = adapted._begin, None
            outcome: _Outcome = await connection._execute(  # type: ignore[no-untyped-call]
                _run, connection._conn, operation, parameters, many=many, begin=begin
            )
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


def _is_begin(operation: Any) -> bool:
    return isinstance(operation, str) and operation.lstrip()[:5].upper() == "BEGIN"


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin", "_queued", "_step")
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None  # a BEGIN not sent yet: it goes with the next statement
        self._queued: list[_Queued] | None = None  # while `execute_all` collects statements
        self._step = 0

    async def _send_queued(self, queued: list[_Queued]) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._execute_mutex:
            begin, self._begin = self._begin, None
            await connection._execute(  # type: ignore[no-untyped-call]
                _run_all, connection._conn, queued, begin=begin
            )

    def commit(self) -> None:
        if self._begin is not None:  # begun and nothing done: nothing to commit
            self._begin = None
            return
        super().commit()

    def rollback(self) -> None:
        self._begin = None
        # The pool rolls back every connection it takes back, after each commit too: when
        # SQLite has no transaction open there is nothing to undo, so no trip is spent.
        db: sqlite3.Connection | None = self._connection._connection
        try:
            idle = db is not None and not db.in_transaction
        except sqlite3.Error:  # a Python that checks the thread: ask on the right one
            idle = False
        if not idle:
            super().rollback()


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (its `module=` argument)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDbapi:
    return OneTripDbapi(aiosqlite, sqlite3)


class StepFailed(Exception):
    """Step `index` of `execute_all` failed; `error` is what the library raised for it."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"statement {index + 1}: {error}")
        self.index = index
        self.error = error


async def execute_all(conn: AsyncConnection, steps: Sequence[tuple[Executable, Any]]) -> None:
    """Run `steps` (statement, parameters) in order in `conn`'s transaction, for statements
    whose results are not read. Through this driver they reach SQLite together, in one trip
    (with the transaction's BEGIN when it is still to be sent); through any other driver
    (PostgreSQL), one after the other. The first that fails stops the rest: `StepFailed`
    names it and carries the library's error (an `IntegrityError` as SQLAlchemy raises it)."""
    raw = await conn.get_raw_connection()
    driver = raw.dbapi_connection
    if not isinstance(driver, OneTripConnection):
        for index, (stmt, params) in enumerate(steps):
            try:
                await conn.execute(stmt, params)
            except Exception as exc:
                raise StepFailed(index, exc) from exc
        return
    queued: list[_Queued] = []

    def queue_all(sync_conn: Connection) -> None:
        # SQLAlchemy compiles each statement and binds its parameters as always; the
        # cursor queues it instead of taking a trip.
        for index, (stmt, params) in enumerate(steps):
            driver._step = index
            try:
                sync_conn.execute(stmt, params)
            except Exception as exc:
                raise StepFailed(index, exc) from exc

    driver._queued = queued
    try:
        # run_sync: the library's execute insists on an await, and queuing makes none.
        await conn.run_sync(queue_all)
    finally:
        driver._queued = None
    try:
        await driver._send_queued(queued)
    except _QueuedFailed as failed:
        step, operation, parameters, _ = (
            queued[failed.at] if failed.at >= 0 else (0, "BEGIN", None, False)
        )
        error = DBAPIError.instance(
            operation, parameters, failed.error, conn.dialect.loaded_dbapi.Error,
            dialect=conn.dialect,
        )  # fmt: skip
        raise StepFailed(step, error) from failed.error
    except ValueError as exc:  # aiosqlite's "no active connection": the library's error for it
        lost = sqlite3.OperationalError(str(exc))
        error = DBAPIError.instance(
            "", None, lost, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        )
        raise StepFailed(queued[0][0] if queued else 0, error) from exc
