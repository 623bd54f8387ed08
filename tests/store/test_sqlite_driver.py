"""SQLite's driver: one trip to aiosqlite's thread per statement, and SQLAlchemy still sees
what a DBAPI cursor gives (rows, rowcount, lastrowid, errors, rollbacks)."""

import asyncio
from collections.abc import AsyncIterator

import aiosqlite.core
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from suite.store.database import Database, StoreError
from suite.store.sqlite_driver import StepFailed, execute_all
from tests.store.test_database import INSERT_CASE, case_rows, count, insert_case


@pytest_asyncio.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    if not sqlite_url.startswith("sqlite"):
        pytest.skip("the driver is SQLite's; PROCSUITE_DB_URL names another database")
    db = Database.from_url(sqlite_url)
    writer = asyncio.create_task(db.run())
    try:
        yield db
    finally:
        db.close()
        await writer
        await db.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each trip to aiosqlite's thread ran: the SQL, or the connection method's name."""
    seen: list[str] = []
    original = aiosqlite.core.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(args[1] if len(args) > 1 else getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    return seen


@pytest.mark.asyncio
async def test_a_one_statement_write_costs_two_trips_and_is_committed(
    sqlite_db: Database, trips: list[str]
) -> None:
    await sqlite_db.write(insert_case("k1"))  # warm: the pool's first connection
    trips.clear()
    await sqlite_db.write(insert_case("k2"))
    # The insert (BEGIN IMMEDIATE sent with it) and COMMIT; no rollback by the pool.
    assert len(trips) == 2, trips
    assert trips[0].startswith("insert into cases") and trips[-1] == "commit"
    assert await count(sqlite_db) == 2


@pytest.mark.asyncio
async def test_rows_rowcount_and_returning_come_back_through_the_one_trip(
    sqlite_db: Database,
) -> None:
    await asyncio.gather(*(sqlite_db.write(insert_case(f"k{i}")) for i in range(4)))

    async def update(session):  # type: ignore[no-untyped-def]
        result = await session.exec(
            text("update cases set room = 'IR2' where case_id in ('k1', 'k2')")
        )
        return result.rowcount

    async def returning(session):  # type: ignore[no-untyped-def]
        result = await session.exec(
            text("update cases set room = 'IR3' where case_id = 'k3' returning case_id, room")
        )
        return result.all()

    assert await sqlite_db.write(update) == 2
    assert [tuple(r) for r in await sqlite_db.write(returning)] == [("k3", "IR3")]
    async with sqlite_db.session() as s:
        rooms = (await s.exec(text("select case_id, room from cases order by case_id"))).all()
    assert [tuple(r) for r in rooms] == [("k0", "r"), ("k1", "IR2"), ("k2", "IR2"), ("k3", "IR3")]


@pytest.mark.asyncio
async def test_a_refused_statement_is_the_stores_error_and_its_savepoint_rolls_back(
    sqlite_db: Database,
) -> None:
    await sqlite_db.write(insert_case("k1"))
    results = await asyncio.gather(
        sqlite_db.write(insert_case("k1")),  # the same key: refused by SQLite
        sqlite_db.write(insert_case("k2")),
        return_exceptions=True,
    )
    assert isinstance(results[0], StoreError) and "UNIQUE" in str(results[0])
    assert results[1] == "k2"
    assert await count(sqlite_db) == 2


@pytest.mark.asyncio
async def test_a_session_that_rolls_back_leaves_nothing(sqlite_url: str) -> None:
    if not sqlite_url.startswith("sqlite"):
        pytest.skip("the driver is SQLite's; PROCSUITE_DB_URL names another database")
    db = Database.from_url(sqlite_url)
    try:
        async with db.session() as s:
            await insert_case("gone")(s)  # in the transaction the session began
            await s.rollback()  # an open transaction: the trip is made and undoes the insert
        assert await count(db) == 0
    finally:
        await db.dispose()


@pytest.mark.asyncio
async def test_execute_all_sends_its_statements_with_the_begin_in_one_trip(
    sqlite_db: Database, trips: list[str]
) -> None:
    await sqlite_db.write(insert_case("warm"))
    trips.clear()

    async def three(session):  # type: ignore[no-untyped-def]
        conn = await session.connection()
        await execute_all(
            conn,
            [
                (INSERT_CASE, case_rows("a1", "a2")),  # an executemany
                (INSERT_CASE, case_rows("a3")[0]),  # one row
                (text("update cases set room = 'IR2' where case_id = 'a1'"), None),
            ],
        )

    await sqlite_db.write(three)
    assert len(trips) == 2, trips  # BEGIN and the three statements, then COMMIT
    queued, commit = trips
    assert [step for step, *_ in queued] == [0, 1, 2] and commit == "commit"  # type: ignore[misc]
    async with sqlite_db.session() as s:
        rows = (await s.exec(text("select case_id, room from cases order by case_id"))).all()
    assert [tuple(r) for r in rows] == [("a1", "IR2"), ("a2", "r"), ("a3", "r"), ("warm", "r")]


@pytest.mark.asyncio
async def test_a_failing_step_is_named_with_the_librarys_error_and_nothing_stays(
    database: Database,
) -> None:
    """The same contract on every database: one trip on SQLite, one by one elsewhere."""
    await database.write(insert_case("k1"))
    seen: list[StepFailed] = []

    async def clashing(session):  # type: ignore[no-untyped-def]
        conn = await session.connection()
        try:
            await execute_all(
                conn,
                [
                    (INSERT_CASE, case_rows("new1", "new2")),
                    (INSERT_CASE, case_rows("k1")),  # the same key: refused by SQLite
                    (INSERT_CASE, case_rows("never")),
                ],
            )
        except StepFailed as failed:
            seen.append(failed)
            raise failed.error from None

    with pytest.raises(StoreError, match="(?i)unique"):
        await database.write(clashing)
    [failed] = seen
    assert failed.index == 1 and isinstance(failed.error, IntegrityError)
    assert "k1" in str(failed.error.params)  # the refused statement's own parameters
    # The batch was rolled back: the first step's rows are gone with it.
    async with database.session() as s:
        ids = (await s.exec(text("select case_id from cases"))).all()
    assert [r[0] for r in ids] == ["k1"]
    assert await database.write(insert_case("k2")) == "k2"  # the writer goes on
