"""Bounded feeds between a client's network loop and the dashboard, each with its overflow policy.

- `LatestFeed`: the newest item per key replaces an unread older one (room snapshots: only the
  latest state of a room matters; at most one item per room is ever queued).
- `Feed`: first in, first out, bounded. When full it drops the oldest item and counts it;
  `lossless=True` feeds (alarm events) also report the overflow as a fault through
  `on_fault`, so the dashboard says so and resynchronises from the room snapshots.

Single consumer; `put` never blocks the network loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Feed(Generic[T]):
    """A bounded FIFO of items for one consumer."""

    def __init__(
        self,
        name: str,
        maxsize: int,
        *,
        lossless: bool = False,
        on_fault: Callable[[str], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"feed {name}: maxsize must be >= 1")
        self.name = name
        self.maxsize = maxsize
        self.lossless = lossless
        self.on_fault = on_fault
        self.dropped = 0
        self._items: deque[T] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
            if self.lossless:
                log.error(
                    "tui: feed %s is full (%d items); the oldest was dropped (%d so far)",
                    self.name,
                    self.maxsize,
                    self.dropped,
                )
                if self.on_fault is not None:
                    self.on_fault(self.name)
        self._items.append(item)
        self._ready.set()

    async def get(self) -> T:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def drain(self) -> list[T]:
        """Every queued item, oldest first, without waiting."""
        items = list(self._items)
        self._items.clear()
        return items

    async def __aiter__(self) -> AsyncIterator[T]:
        while True:
            yield await self.get()


K = TypeVar("K", bound=Hashable)


class LatestFeed(Generic[K, T]):
    """At most one unread item per key; a newer one replaces it (`replaced` counts those)."""

    def __init__(self, name: str, key: Callable[[T], K]) -> None:
        self.name = name
        self.key = key
        self.replaced = 0
        self._items: OrderedDict[K, T] = OrderedDict()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        k = self.key(item)
        if k in self._items:
            self.replaced += 1
        self._items[k] = item  # keeps its place in line: a busy room does not starve others
        self._ready.set()

    async def get(self) -> T:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        _, item = self._items.popitem(last=False)
        return item

    def drain(self) -> list[T]:
        """Every queued item, oldest first, without waiting."""
        items = list(self._items.values())
        self._items.clear()
        return items

    async def __aiter__(self) -> AsyncIterator[T]:
        while True:
            yield await self.get()
