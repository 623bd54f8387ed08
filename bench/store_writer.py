"""The store's writer: what one durable write costs through `Database.write`, with SQLite's
driver as procsuite builds it (one trip to aiosqlite's thread per statement,
suite/store/sqlite_driver.py) and with SQLAlchemy's own aiosqlite adapter, against bare
aiosqlite and bare sqlite3 doing the same BEGIN IMMEDIATE / INSERT / COMMIT, in one run.

Every figure is a one-row insert committed with WAL and `synchronous=FULL`, as the service
runs. "one writer" waits for each commit before the next (the latency an HL7 ACK or a DICOM
answer waits for); "ten writers" has ten callers at once (the writer group-commits). Rounds
alternate between the variants and the best round of each counts.

    .venv/bin/python -m bench store_writer      (BENCH_WRITES=... to change the count)
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from bench._common import save

WRITES = int(os.environ.get("BENCH_WRITES", "2000"))
ROUNDS = 3


async def _through_database(path: Path, *, one_trip: bool) -> tuple[float, float, float]:
    """(ms per write with one writer, writes/s with ten, jobs per commit with ten)."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, insert
    from sqlalchemy.ext.asyncio import create_async_engine

    from suite.store import database, sqlite_driver

    url = f"sqlite+aiosqlite:///{path}"
    extra: dict[str, Any] = {"module": sqlite_driver.dbapi()} if one_trip else {}
    engine = create_async_engine(url, connect_args={"timeout": 30}, **extra)
    database._sqlite_pragmas(engine)
    metadata = MetaData()
    table = Table("t", metadata, Column("id", Integer, primary_key=True), Column("v", String))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    db = database.Database(engine)
    writer = asyncio.create_task(db.run())
    statement = insert(table)

    async def job(session: Any) -> None:
        await session.execute(statement, [{"v": "x"}])

    try:
        for _ in range(50):
            await db.write(job)
        started = time.perf_counter()
        for _ in range(WRITES):
            await db.write(job)
        one = (time.perf_counter() - started) / WRITES * 1000

        async def caller() -> None:
            for _ in range(WRITES // 10):
                await db.write(job)

        batches, jobs = db.batches, db.jobs
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(10)))
        ten = WRITES / (time.perf_counter() - started)
        per_commit = (db.jobs - jobs) / max(1, db.batches - batches)
    finally:
        db.close()
        await writer
        await engine.dispose()
    return one, ten, per_commit


async def _bare_aiosqlite(path: Path) -> float:
    import aiosqlite

    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        started = time.perf_counter()
        for _ in range(WRITES):
            await db.execute("BEGIN IMMEDIATE")
            await db.execute("INSERT INTO t (v) VALUES (?)", ("x",))
            await db.execute("COMMIT")
        return (time.perf_counter() - started) / WRITES * 1000


def _bare_sqlite3(path: Path) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        started = time.perf_counter()
        for _ in range(WRITES):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t (v) VALUES (?)", ("x",))
            db.execute("COMMIT")
        return (time.perf_counter() - started) / WRITES * 1000
    finally:
        db.close()


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)  # sqlmodel's advice on execute()
    best: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(ROUNDS):
            for name in ("one_trip", "library_adapter"):
                one, ten, per_commit = asyncio.run(
                    _through_database(Path(tmp) / f"{name}{n}.db", one_trip=name == "one_trip")
                )
                best.setdefault(f"{name}_one_writer_ms", []).append(one)
                best.setdefault(f"{name}_ten_writers_per_s", []).append(ten)
                best.setdefault(f"{name}_ten_writers_jobs_per_commit", []).append(per_commit)
            best.setdefault("bare_aiosqlite_ms", []).append(
                asyncio.run(_bare_aiosqlite(Path(tmp) / f"aio{n}.db"))
            )
            best.setdefault("bare_sqlite3_ms", []).append(_bare_sqlite3(Path(tmp) / f"s{n}.db"))
    figures: dict[str, Any] = {"writes": WRITES, "rounds": ROUNDS}
    for key, values in best.items():
        figures[key] = round(max(values) if key.endswith("per_s") else min(values), 3)
    figures["one_trip_latency_ratio_to_library"] = round(
        figures["one_trip_one_writer_ms"] / figures["library_adapter_one_writer_ms"], 2
    )
    figures["all_rounds"] = {k: [round(v, 3) for v in vs] for k, vs in best.items()}
    figures["machine_load"] = os.getloadavg()[0]
    save("store_writer", figures)


if __name__ == "__main__":
    main()
