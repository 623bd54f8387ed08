"""Simulated time shared by the simulators (and, in a demo, by the service).

`SimClock(speed=60)` runs an hour in a minute: simulated time starts at `start` and moves
`speed` simulated seconds per real second, so every device timestamp, DICOM date and HL7
time of one run stays consistent with the others. It is a `Callable[[], datetime]`, the
clock type `procsuite.bootstrap.Service` takes, so a demo can hand the same clock to the service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated wall time: `start + (real elapsed) * speed`."""

    def __init__(
        self,
        *,
        start: datetime | None = None,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        if start is not None and start.tzinfo is None:
            raise ValueError("start needs a time zone")
        self.speed = speed
        self.start = start if start is not None else datetime.now(UTC)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def __call__(self) -> datetime:
        return self.now()

    def now(self) -> datetime:
        """The simulated time now (aware, UTC unless `start` had another zone)."""
        return self.start + timedelta(seconds=self.elapsed_s())

    def elapsed_s(self) -> float:
        """Simulated seconds since the clock started."""
        return (self._monotonic() - self._t0) * self.speed

    async def sleep(self, sim_seconds: float) -> None:
        """Sleep `sim_seconds` of simulated time (sim_seconds / speed real seconds)."""
        if sim_seconds > 0:
            await asyncio.sleep(sim_seconds / self.speed)

    async def sleep_until_elapsed(self, sim_elapsed_s: float) -> None:
        """Sleep until `elapsed_s()` reaches `sim_elapsed_s` (no drift over long runs)."""
        await self.sleep(sim_elapsed_s - self.elapsed_s())

    async def sleep_until(self, at: datetime, *, stop: asyncio.Event | None = None) -> bool:
        """Sleep until the simulated time `at`; with `stop`, return early (True) once it is
        set. Returns whether `stop` was set."""
        delay = (at - self.now()).total_seconds() / self.speed
        if stop is None:
            await asyncio.sleep(max(0.0, delay))
            return False
        if stop.is_set():
            return True
        if delay <= 0:
            return False
        try:
            async with asyncio.timeout(delay):
                await stop.wait()
        except TimeoutError:
            return False
        return True
