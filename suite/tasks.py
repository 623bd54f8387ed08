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
from collections.abc import Iterable
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
