"""The single writer: group commit, a failing job fails alone, answers only after the commit."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from suite.store.database import StoreError


async def count(database, table="cases"):
    async with database.session() as s:
        return (await s.exec(text(f"select count(*) from {table}"))).one()[0]


INSERT_CASE = text(
    "insert into cases (case_id, accession, mrn, room, procedure, phase, version,"
    " scheduled_at, updated_at) values (:id, 'a', 'm', 'r', 'p', 'scheduled', 1, :at, :at)"
)


def case_rows(*ids: str) -> list[dict[str, object]]:
    """`INSERT_CASE`'s parameters for each case ID."""
    return [{"id": i, "at": datetime(2026, 11, 24, 8, tzinfo=UTC)} for i in ids]


def insert_case(case_id: str):
    async def job(session):
        await session.exec(INSERT_CASE, params=case_rows(case_id)[0])
        return case_id

    return job


@pytest.mark.asyncio
async def test_a_failing_job_fails_alone_and_the_rest_of_its_batch_commits(database):
    async def broken(session):
        raise ValueError("this job is wrong")

    jobs = [insert_case(f"k{i}") for i in range(5)]
    jobs.insert(2, broken)
    jobs.insert(4, insert_case("k0"))  # a duplicate key: fails in the database, alone
    results = await asyncio.gather(*(database.write(j) for j in jobs), return_exceptions=True)
    assert isinstance(results[2], ValueError)  # the job's own error, unchanged
    assert isinstance(results[4], StoreError)  # the driver's refusal, as the store's error
    assert [r for r in results if isinstance(r, str)] == ["k0", "k1", "k2", "k3", "k4"]
    assert await count(database) == 5
    assert database.batches <= 2


@pytest.mark.asyncio
async def test_after_commit_callbacks_run_in_commit_order_and_only_on_success(database):
    seen = []
    await asyncio.gather(
        database.write(insert_case("a"), after_commit=lambda: seen.append("a")),
        database.write(insert_case("a"), after_commit=lambda: seen.append("dup")),
        database.write(insert_case("b"), after_commit=lambda: seen.append("b")),
        return_exceptions=True,
    )
    assert seen == ["a", "b"]


@pytest.mark.asyncio
async def test_a_closed_store_refuses_writes_but_finishes_what_was_queued(db_url):
    from suite.store.database import Database

    db = Database.from_url(db_url)
    writer = asyncio.create_task(db.run())
    pending = asyncio.ensure_future(db.write(insert_case("last")))
    await asyncio.sleep(0)
    db.close()
    assert await pending == "last"
    await writer
    with pytest.raises(StoreError, match="closed"):
        await db.write(insert_case("late"))
    await db.dispose()


@pytest.mark.asyncio
async def test_a_read_the_driver_refuses_is_a_store_error(database):
    """The driver's error on a read reaches the reader as `StoreError`, the one type every
    component catches (suite/store/database.py `as_store_error`)."""
    with pytest.raises(StoreError, match="could not be read"):
        async with database.session() as s:
            await s.exec(text("select * from no_such_table"))
    assert await count(database) == 0  # the store still answers afterwards


@pytest.mark.asyncio
async def test_after_a_full_disk_the_writer_opens_a_fresh_connection_and_commits_again(
    tmp_path,
):
    """SQLite: the writer keeps one connection between batches. A commit that fails on a
    full disk (ENOSPC, a real tmpfs) fails its jobs with the store's error and tells the
    health listeners; once there is room, the next write commits on a fresh connection and
    is there for every reader. Nothing written before the fault is lost."""
    from suite.store import migrate
    from suite.store.database import Database
    from tests.peers import small_disk

    disk = tmp_path / "disk"
    disk.mkdir()
    with small_disk(disk, size_mib=2) as fill:
        url = f"sqlite:///{disk / 'procsuite.db'}"
        await migrate.upgrade(url)
        db = Database.from_url(url)
        health: list[tuple[bool, str]] = []
        db.health_listeners.append(lambda ok, why: health.append((ok, why)))
        writer = asyncio.create_task(db.run())
        try:
            assert await db.write(insert_case("before")) == "before"
            kept = db._held
            assert kept is not None  # the writer's own connection, kept between batches
            fill(True)
            # A batch big enough that its pages cannot stay in memory until the commit.
            big = [insert_case(f"full-{i}") for i in range(400)]
            results = await asyncio.gather(*(db.write(j) for j in big), return_exceptions=True)
            assert results and all(isinstance(r, StoreError) for r in results), results[:3]
            assert "full" in str(results[0]) or "disk" in str(results[0])
            assert health and health[0][0] is False
            assert db._held is None  # dropped with the failed batch

            fill(False)
            assert await db.write(insert_case("after")) == "after"
            assert health[-1] == (True, "")
            assert db._held is not None and db._held is not kept
            async with db.session() as s:
                rows = (await s.exec(text("select case_id from cases order by case_id"))).all()
            assert [r[0] for r in rows] == ["after", "before"]
        finally:
            db.close()
            await writer
            await db.dispose()


@pytest.mark.asyncio
async def test_a_writer_cancelled_in_a_batch_leaves_nothing_half_written(sqlite_url):
    """A cancel that lands while a batch runs (the service stopping) rolls the batch back; a
    new writer on the same store commits as if nothing happened."""
    from suite.store.database import Database

    db = Database.from_url(sqlite_url)
    writer = asyncio.create_task(db.run())
    started = asyncio.Event()

    async def slow(session):
        await insert_case("half")(session)
        started.set()
        await asyncio.sleep(30)

    pending = asyncio.ensure_future(db.write(slow))
    await asyncio.wait_for(started.wait(), 10)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    pending.cancel()
    await asyncio.gather(pending, return_exceptions=True)
    assert db._held is None
    writer = asyncio.create_task(db.run())
    try:
        assert await db.write(insert_case("whole")) == "whole"
        async with db.session() as s:
            rows = (await s.exec(text("select case_id from cases"))).all()
        assert [r[0] for r in rows] == ["whole"]
    finally:
        db.close()
        await writer
        await db.dispose()
