"""Stopping tasks for good on Python 3.11 (used by the service and the simulators).

Python 3.11's `asyncio.wait_for` loses a cancellation that arrives as the awaited future
completes (CPython gh-86296, fixed in 3.12 by rewriting `wait_for` on `asyncio.timeout`).
aiomqtt waits for every QoS 1 PUBACK with `wait_for`, so a monitor publishing 60 samples a
second, cancelled at the end of a demo, now and then keeps running as if nothing happened,
and whatever waits for it waits forever. `stop_tasks` cancels again until the tasks are done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)


async def stop_tasks(
    tasks: Iterable[asyncio.Task[Any]], *, every_s: float = 0.2, rounds: int = 50
) -> bool:
    """Cancel `tasks` (again every `every_s` while any is still running, at most `rounds`
    times); returns whether all have ended. A task that failed is logged with its error."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    for _ in range(rounds):
        if not pending:
            return True
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=every_s)
    if pending:
        log.error("%d task(s) would not stop: %s", len(pending), [t.get_name() for t in pending])
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())
    return not pending


async def run_together(coros: dict[str, Coroutine[Any, Any, Any]]) -> None:
    """Run the named coroutines as one unit, like `asyncio.TaskGroup`, for a component's
    long-running parts: it returns when all have returned; when one fails the others are
    stopped and the failures are raised as an `ExceptionGroup` (so `except*` works as with a
    TaskGroup).

    Unlike a TaskGroup on Python 3.11, a stop is never lost: a TaskGroup passes the first
    cancellation to its children once, so a child whose cancellation `wait_for` swallowed (an
    aiomqtt publish waiting for its PUBACK) keeps the whole component from stopping.
    `stop_tasks` cancels the children again until they have ended, and a further
    cancellation of the caller while they stop only restarts that.
    """
    tasks = [asyncio.create_task(coro, name=name) for name, coro in coros.items()]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        await _stop_all(tasks)
        raise
    await _stop_all(tasks)
    errors = [
        exc for t in tasks if t.done() and not t.cancelled() and (exc := t.exception()) is not None
    ]
    if errors:
        # an ExceptionGroup when every failure is an Exception, as a TaskGroup raises
        raise BaseExceptionGroup("a part of the component failed", errors)


async def _stop_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Stop the tasks still running, however often the caller is cancelled meanwhile."""
    while True:
        pending = [t for t in tasks if not t.done()]
        if not pending:
            return
        try:
            await stop_tasks(pending)
            return
        except asyncio.CancelledError:
            continue  # the caller is being stopped too: finish stopping the children first
