"""Commands applied per second through the case service into SQLite and PostgreSQL.

Two shapes: one case at a time (each command waits for its commit: latency-bound), and 100
cases driven concurrently (the writer group-commits them). Every command is a real workflow
step of a kyphoplasty on two levels, decided by the domain and appended to the event log.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._common import save
from suite.app.case_service import CaseService
from suite.bus import Bus
from suite.domain.envelope import Source
from suite.store import migrate
from suite.store.database import Database
from tests.peers import postgres_bin, run_postgres
from tests.scenarios import full_case, schedule

START = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


async def drive(cases: CaseService, case_id: str) -> int:
    n = 1
    await cases.execute(
        case_id, schedule(START, accession=f"A-{case_id}"), actor="b", source=Source.SYSTEM
    )
    for command in full_case(START):
        await cases.execute(case_id, command, actor="b", source=Source.TUI)
        n += 1
    return n


async def measure(url: str, *, concurrent: int) -> dict[str, float]:
    await migrate.upgrade(url)
    db = Database.from_url(url)
    writer = asyncio.create_task(db.run())
    cases = CaseService(db, Bus(), clock=lambda: START + timedelta(days=1))
    try:
        t0 = time.perf_counter()
        counts = await asyncio.gather(
            *(drive(cases, f"c{concurrent}-{i}") for i in range(concurrent))
        )
        elapsed = time.perf_counter() - t0
    finally:
        db.close()
        await writer
        await db.dispose()
    total = sum(counts)
    return {
        "commands": total,
        "seconds": round(elapsed, 3),
        "commands_per_s": round(total / elapsed, 1),
        "commits": db.batches,
    }


async def run_all() -> dict[str, object]:
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for shape, n in (("one_case", 1), ("100_cases", 100)):
            url = f"sqlite:///{Path(tmp) / f'{shape}.db'}"
            results[f"sqlite_{shape}"] = await measure(url, concurrent=n)
    if postgres_bin() is not None:
        with run_postgres() as pg:
            for shape, n in (("one_case", 1), ("100_cases", 100)):
                url = pg.create_database(f"bench_{shape}")
                results[f"postgres_{shape}"] = await measure(url, concurrent=n)
    else:
        results["postgres"] = "not installed"
    return results


def main() -> None:
    save("commands", asyncio.run(run_all()))
