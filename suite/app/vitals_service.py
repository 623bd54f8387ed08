"""The vitals recorder: keeps every accepted sample, written in batches off the ingest path.

Ingest hands a sample over with `offer` (never blocks) into a bounded queue; one task lets
samples gather until the oldest waiting one has waited `linger_s` (0.1 s), then writes what
has gathered (up to `batch` samples per job), so ingest runs at the broker's pace while the store commits a few times a second. A full queue is
a fault, never silent: the sample is dropped, counted per room, logged, and `on_overflow`
is told the room (the MQTT adapter raises a technical alarm there). A failed write is
retried; samples are lost only when the queue overflows meanwhile, and that is counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from suite.store import vitals as vitals_store
from suite.store.database import Database, StoreError
from suite.store.vitals import SampleTuple

log = logging.getLogger(__name__)


class VitalsRecorder:
    name = "vitals-store"

    def __init__(
        self,
        db: Database,
        *,
        queue_size: int = 100_000,
        batch: int = 5_000,
        linger_s: float = 0.1,
        on_overflow: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.linger_s = linger_s
        self.queue_size = queue_size
        self.batch = batch
        self.on_overflow = on_overflow
        self._rows: deque[SampleTuple] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.dropped: Counter[str] = Counter()
        self.write_failures = 0
        self._overflowing: set[str] = set()
        self._oldest_at = 0.0  # loop time the oldest queued sample was offered

    @property
    def queued(self) -> int:
        return len(self._rows)

    def offer(self, row: SampleTuple) -> bool:
        """Queue one row (`suite.store.vitals.sample_tuple`); False when the queue is full."""
        if len(self._rows) >= self.queue_size:
            room = row[0]
            self.dropped[room] += 1
            if room not in self._overflowing:
                self._overflowing.add(room)
                log.error(
                    "vitals: store queue full (%d samples); dropping samples of room %s",
                    self.queue_size,
                    room,
                )
                if self.on_overflow is not None:
                    self.on_overflow(room)
            return False
        if not self._rows:
            self._oldest_at = asyncio.get_running_loop().time()
        self._rows.append(row)
        self._idle.clear()
        self._wake.set()
        return True

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            loop = asyncio.get_running_loop()
            while self._rows:
                wait = self._oldest_at + self.linger_s - loop.time()
                if len(self._rows) < self.batch and wait > 0:
                    # Let a batch gather: every commit costs the event loop a few
                    # milliseconds whatever its size; small commits at a high rate would
                    # starve ingest. Counted from the oldest sample's arrival, so samples
                    # that came in during the last write are not kept a whole linger more.
                    await asyncio.sleep(wait)
                n = min(len(self._rows), self.batch)
                rows = [self._rows.popleft() for _ in range(n)]
                if self._rows:
                    self._oldest_at = loop.time()  # the rest start a new wait
                await self._write(rows)
                if len(self._rows) < self.queue_size // 2:
                    self._overflowing.clear()
            self._idle.set()

    async def _write(self, rows: list[SampleTuple]) -> None:
        async def job(session: AsyncSession) -> int:
            return await vitals_store.insert_sample_tuples(session, rows)

        delay = 0.2
        attempt = 0
        while True:
            attempt += 1
            try:
                self.written += await self.db.write(job)
                return
            except StoreError as exc:
                # The database is away: keep the batch and try again; the bounded queue
                # (`offer`) decides what is dropped, counted and alarmed meanwhile.
                self.write_failures += 1
                if attempt == 1 or attempt % 10 == 0:
                    log.error(
                        "vitals: writing %d samples failed (attempt %d): %s; retrying",
                        len(rows), attempt, exc,
                    )  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def flushed(self) -> None:
        """Wait until every sample offered so far is written (tests, shutdown)."""
        await self._idle.wait()
