"""The in-process event bus that the case service and the adapters publish to and read from.

Every subscription has a bounded queue and says what happens when it is full: a lossy one
(a UI feed of vitals) drops its oldest item and counts it; a lossless one (the store, the
alarm stream) never drops: overflow there is a fault, logged and raised to the publisher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from suite.errors import ProcsuiteError

log = logging.getLogger(__name__)


class BusOverflow(ProcsuiteError):
    """A lossless subscriber's queue is full: it has fallen too far behind."""


class Subscription:
    def __init__(
        self, bus: Bus, name: str, kinds: tuple[type, ...], maxsize: int, lossy: bool
    ) -> None:
        self._bus = bus
        self.name = name
        self.kinds = kinds
        self.lossy = lossy
        self.dropped = 0
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=maxsize)

    def _offer(self, item: Any) -> None:
        if self.kinds and not isinstance(item, self.kinds):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            if not self.lossy:
                log.error("bus: subscriber %s is full (%d items)", self.name, self.queue.maxsize)
                raise BusOverflow(f"bus subscriber {self.name} is full") from None
            self.queue.get_nowait()
            self.queue.put_nowait(item)
            self.dropped += 1

    async def get(self) -> Any:
        return await self.queue.get()

    def get_nowait(self) -> Any:
        return self.queue.get_nowait()

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._bus._subs.discard(self)


class Bus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    def subscribe(
        self, name: str, *kinds: type, maxsize: int = 10_000, lossy: bool = False
    ) -> Subscription:
        """A new subscription to items of `kinds` (all items when none are given)."""
        sub = Subscription(self, name, kinds, maxsize, lossy)
        self._subs.add(sub)
        return sub

    def publish(self, item: Any) -> None:
        """Offer `item` to every subscriber; never blocks (see the module doc for overflow)."""
        overflow: BusOverflow | None = None
        for sub in list(self._subs):
            try:
                sub._offer(item)
            except BusOverflow as exc:
                overflow = exc
        if overflow is not None:
            raise overflow
