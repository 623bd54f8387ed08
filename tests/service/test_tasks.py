"""A component's parts stop when the service stops, even when a part loses a cancellation
(Python 3.11's `wait_for`, inside aiomqtt's publish, does): the service would otherwise hang
on SIGTERM with the part still running."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from suite.tasks import run_together


async def swallows_first_cancel(ran: list[str]) -> None:
    """A part whose first cancellation is lost, as in a `wait_for` whose future completed."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    ran.append("went on after losing a cancellation")
    await asyncio.sleep(3600)


@pytest.mark.asyncio
async def test_a_part_that_loses_a_cancellation_is_stopped_anyway() -> None:
    ran: list[str] = []
    unit = asyncio.create_task(
        run_together({"lossy": swallows_first_cancel(ran), "plain": asyncio.sleep(3600)})
    )
    await asyncio.sleep(0.01)
    unit.cancel()
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):
            await unit
    assert ran == ["went on after losing a cancellation"]


@pytest.mark.asyncio
async def test_the_same_part_under_a_task_group_keeps_the_group_from_stopping() -> None:
    """What run_together is for: the TaskGroup passes the stop on only once."""
    ran: list[str] = []

    async def group() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(swallows_first_cancel(ran))

    unit = asyncio.create_task(group())
    await asyncio.sleep(0.01)
    for _ in range(3):
        unit.cancel()
        await asyncio.sleep(0.05)
    assert not unit.done()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task() and task is not unit:
            task.cancel()
    async with asyncio.timeout(5):
        with contextlib.suppress(asyncio.CancelledError):
            await unit


@pytest.mark.asyncio
async def test_a_failing_part_stops_the_others_and_its_error_comes_out_as_a_group() -> None:
    stopped: list[str] = []

    async def fails() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("broken part")

    async def waits() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.append("waits")

    with pytest.raises(ExceptionGroup) as caught:
        await run_together({"fails": fails(), "waits": waits()})
    assert [str(e) for e in caught.value.exceptions] == ["broken part"]
    assert stopped == ["waits"]


@pytest.mark.asyncio
async def test_parts_that_all_return_end_the_unit() -> None:
    async def part(n: int) -> int:
        await asyncio.sleep(0.01 * n)
        return n

    async with asyncio.timeout(5):
        await run_together({"one": part(1), "two": part(2)})
