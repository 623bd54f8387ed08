"""Rows that a case transaction writes once for all of its cases.

The case service appends the events of many cases in one transaction (group commit). A
transaction part (an HL7 message row, its order's keys) that finds a `Deferred` in the
session (`deferred_of`) adds its rows there instead of running a statement per case; the
case service runs each statement once, as an executemany, after every part has run, still
in the same transaction. Outside a case transaction there is none, and the part runs its
statements at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store.sqlite_driver import StepFailed, execute_all

KEY = "procsuite.deferred"

Values = Mapping[str, Any]
# The error to raise instead of a unique constraint's (e.g. `DuplicateMessage`).
OnConflict = Callable[[IntegrityError], Exception]


class _Run:
    __slots__ = ("stmt", "rows", "keys", "on_conflict")

    def __init__(self, stmt: Executable, on_conflict: OnConflict | None) -> None:
        self.stmt = stmt
        self.rows: list[Values] = []
        self.keys: set[Hashable] = set()
        self.on_conflict = on_conflict


class Deferred:
    """Rows per statement, run in the order each statement was first used."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self._open: dict[int, _Run] = {}

    def add(
        self,
        stmt: Executable,
        row: Values,
        *,
        key: Hashable | None = None,
        on_conflict: OnConflict | None = None,
    ) -> None:
        """Add `row` to `stmt`'s executemany. With `key`, a row whose key is in the current
        run starts a new one (PostgreSQL refuses to upsert one key twice in a statement)."""
        run = self._open.get(id(stmt))
        if run is None or (key is not None and key in run.keys):
            run = _Run(stmt, on_conflict)
            self._runs.append(run)
            self._open[id(stmt)] = run
        run.rows.append(row)
        if key is not None:
            run.keys.add(key)

    def __len__(self) -> int:
        return sum(len(r.rows) for r in self._runs)

    async def flush(self, session: AsyncSession) -> None:
        """Run every statement once with its rows (then forget them)."""
        runs, self._runs, self._open = self._runs, [], {}
        if not runs:
            return
        conn = await session.connection()
        try:
            # On SQLite, every statement in one trip (suite/store/sqlite_driver.py).
            await execute_all(conn, [(run.stmt, list(run.rows)) for run in runs])
        except StepFailed as failed:
            run, error = runs[failed.index], failed.error
            if isinstance(error, IntegrityError) and run.on_conflict is not None:
                raise run.on_conflict(error) from error
            raise error from None


def deferred_of(session: AsyncSession) -> Deferred | None:
    """The session's `Deferred` while a case transaction collects rows; else None."""
    found = session.info.get(KEY)
    return found if isinstance(found, Deferred) else None


def begin_deferred(session: AsyncSession) -> Deferred:
    """Start collecting rows in `session` (forgetting any a failed job left behind)."""
    deferred = Deferred()
    session.info[KEY] = deferred
    return deferred


def end_deferred(session: AsyncSession) -> None:
    """Stop collecting rows in `session`."""
    session.info.pop(KEY, None)
