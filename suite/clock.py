"""The one wall clock and the one ISO 8601 formatter of the service.

The domain never reads a clock: the application layer passes `now` in, and every
component is given a `Clock` (the demo hands in a simulated one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from suite.domain.bounds import wire_time

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, timezone-aware in UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """`2026-11-24T09:30:00.123Z` for an aware time (UTC, milliseconds), None for None."""
    if value is None:
        return None
    return wire_time(value)  # never raises (suite/domain/bounds.py)
