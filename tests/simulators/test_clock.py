"""The simulated clock's interruptible sleep: a stop ends it early, and a cancel (the demo or
a simulator shutting down) always ends it, even when it lands in the same step as the stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from simulators.clock import SimClock

START = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


@pytest.mark.asyncio
async def test_a_stop_ends_the_sleep_early_and_says_so() -> None:
    clock = SimClock(speed=60, start=START)
    stop = asyncio.Event()
    sleeping = asyncio.create_task(clock.sleep_until(START + timedelta(hours=1), stop=stop))
    await asyncio.sleep(0.05)
    stop.set()
    assert await asyncio.wait_for(sleeping, 5) is True
    assert await clock.sleep_until(START + timedelta(seconds=3), stop=asyncio.Event()) is False


@pytest.mark.asyncio
async def test_a_cancel_with_the_stop_in_the_same_step_still_cancels() -> None:
    """Python 3.11's wait_for returned the stop and dropped the cancel here; the task that
    was told to end went on."""
    clock = SimClock(speed=60, start=START)
    stop = asyncio.Event()
    sleeping = asyncio.create_task(clock.sleep_until(START + timedelta(hours=1), stop=stop))
    await asyncio.sleep(0.05)  # parked on the stop event
    stop.set()
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(sleeping, 5)
    assert sleeping.cancelled()
