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
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
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
        try:
            await_(self._trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        try:
            await_(self._trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

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
    __slots__ = ("_begin",)
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None  # a BEGIN not sent yet: it goes with the next statement

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
