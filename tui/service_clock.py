"""The service's clock as the dashboard sees it: every time on screen (staleness, durations,
"ago") is the service's time, so a dashboard next to a simulated-time demo reads correctly.

Anchored by the service's `now` in its `whoami` answer, then moved on by the `at` of each room
snapshot newer than the last one; between them it runs at the rate the service's clock was
seen to run (1 for a real service, the demo's speed for a simulated day). Pure apart from
the injected monotonic clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

MIN_SPAN_S = 2.0  # local seconds between the anchor and a snapshot before the rate is measured
MAX_RATE = 10_000.0


class ServiceClock:
    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._first: tuple[datetime, float] | None = None
        self._latest: tuple[datetime, float] | None = None
        self.rate = 1.0  # service seconds per local second

    @property
    def anchored(self) -> bool:
        return self._latest is not None

    def anchor(self, service_now: datetime) -> None:
        """The service said what time it is (a reply just received)."""
        local = self._monotonic()
        self._first = self._latest = (service_now, local)
        self.rate = 1.0

    def observe(self, service_at: datetime) -> None:
        """A snapshot stamped `service_at` arrived; older ones (retained, late) are ignored."""
        if self._latest is None or self._first is None or service_at <= self._latest[0]:
            return
        local = self._monotonic()
        self._latest = (service_at, local)
        span = local - self._first[1]
        if span >= MIN_SPAN_S:
            seen = (service_at - self._first[0]).total_seconds() / span
            self.rate = min(MAX_RATE, max(1.0 / MAX_RATE, seen))

    def now(self) -> datetime | None:
        """The service's time now (None before the service said it)."""
        if self._latest is None:
            return None
        at, local = self._latest
        return at + timedelta(seconds=(self._monotonic() - local) * self.rate)
