"""The plausible range of every value that crosses a boundary, defined once.

Every codec (MQTT, HL7, DICOM, the CLI, the plain-data codec of commands and events) checks
the values it reads with these functions, so nothing downstream (alarm ticks, `iso()`,
`timedelta` arithmetic, a BIGINT column, `float()` of a 400-digit integer) can raise on a
value a peer sent. Each check returns the value (normalised) or raises `OutOfRange` naming
`where` and the range, in words an integrator can act on.

    times        an aware datetime between 1900 and 2200 that converts to UTC; relative
                 windows on top (device samples within days of the service clock, orders
                 in a configured window) are checked with `time_near`
    sequences    whole numbers 0 .. 2**63 - 1 (a signed 64-bit column holds them)
    numbers      finite, and within the range the caller names (a parameter's physical
                 range, a limit's range)

Nothing here reads a clock: `now` is passed in.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from suite.domain.errors import InvalidValue

# Far enough apart for every real time, far enough from datetime.min/max that adding days of
# offsets, windows or time zones never overflows.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)
EARLIEST_DATE = date(1850, 1, 1)  # birth dates of living patients and then some
MAX_SEQ = 2**63 - 1  # unsigned 63-bit: fits a signed BIGINT column
# A device clock further than this from the service clock is not a clock, it is garbage:
# the sample is refused (a smaller skew raises the clock_skew alarm, docs/clinical-defaults.md).
DEVICE_TIME_WINDOW = timedelta(days=2)
# The largest magnitude any number on the wire may have before its own range is checked.
MAX_MAGNITUDE = 1e12


class OutOfRange(InvalidValue):
    """A value outside its plausible range; the message names where and the range."""

    rule = "out-of-range"


def utc_time(value: datetime, *, where: str) -> datetime:
    """`value` in UTC, if it is aware and between 1900 and 2200; `OutOfRange` otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise OutOfRange(f"{where}: time {value.isoformat()} has no time zone")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise OutOfRange(f"{where}: time {value.isoformat()} is out of range") from None
    if not EARLIEST_TIME <= utc < LATEST_TIME:
        raise OutOfRange(
            f"{where}: time {value.isoformat()} is not between "
            f"{EARLIEST_TIME.year} and {LATEST_TIME.year}"
        )
    return utc


def bounded_time(value: datetime, *, where: str) -> datetime:
    """`value` unchanged (its zone kept) once `utc_time` accepts it."""
    utc_time(value, where=where)
    return value


def time_near(value: datetime, *, now: datetime, window: timedelta, where: str) -> datetime:
    """`value` in UTC if it is within `window` of `now`; `OutOfRange` otherwise."""
    utc = utc_time(value, where=where)
    if abs(utc - now) > window:
        raise OutOfRange(
            f"{where}: time {utc.isoformat()} is more than {_span(window)} from the service "
            f"clock ({now.astimezone(UTC).isoformat(timespec='seconds')})"
        )
    return utc


def bounded_date(value: date, *, where: str) -> date:
    """`value` if it lies between 1850 and 2200; `OutOfRange` otherwise."""
    if not EARLIEST_DATE <= value < LATEST_TIME.date():
        raise OutOfRange(
            f"{where}: date {value.isoformat()} is not between "
            f"{EARLIEST_DATE.year} and {LATEST_TIME.year}"
        )
    return value


def sequence(value: Any, *, where: str) -> int:
    """A sequence number: a whole number 0 .. 2**63 - 1 (not a bool, not a float)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OutOfRange(f"{where} must be a whole number >= 0, got {_short(value)}")
    if not 0 <= value <= MAX_SEQ:
        raise OutOfRange(f"{where} must be between 0 and 2**63-1, got {_short(value)}")
    return value


def number(
    value: Any,
    *,
    where: str,
    low: float = -MAX_MAGNITUDE,
    high: float = MAX_MAGNITUDE,
) -> float:
    """A finite float within [low, high] from a JSON number; `OutOfRange` otherwise.

    Integers of any length are refused by their digit count before `float()` could raise
    OverflowError on them.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OutOfRange(f"{where}: expected a number, got {_short(value)}")
    if isinstance(value, int) and _too_long(value):
        raise OutOfRange(f"{where}: {_short(value)} is not between {low:g} and {high:g}")
    result = float(value)
    if not math.isfinite(result):
        raise OutOfRange(f"{where}: {value!r} is not a finite number")
    if not low <= result <= high:
        raise OutOfRange(f"{where}: {result:g} is not between {low:g} and {high:g}")
    return result


def whole(value: Any, *, where: str, low: int, high: int) -> int:
    """A whole number within [low, high]; `OutOfRange` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OutOfRange(f"{where}: expected a whole number, got {_short(value)}")
    if not low <= value <= high:
        raise OutOfRange(f"{where}: {_short(value)} is not between {low} and {high}")
    return value


def wire_time(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, as on the wire; never raises.

    Times reach here through the bounded codecs; one that still cannot be converted (stored
    before the bounds existed) is written with its own offset instead of raising.
    """
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return value.isoformat(timespec="milliseconds")
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_finite_number(value: Any) -> bool:
    """Whether `value` is an int or float that `float()` turns into a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return not _too_long(value)
    return math.isfinite(value)


def _too_long(value: int) -> bool:
    # bit_length is cheap for any size; 2**66 > 10**20, so anything longer is refused.
    return value.bit_length() > 66


def _short(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 66:
        return f"a {value.bit_length()}-bit number"
    return f"{value!r:.40}"


def _span(window: timedelta) -> str:
    seconds = window.total_seconds()
    if seconds >= 86_400 and seconds % 86_400 == 0:
        return f"{seconds / 86_400:g} days"
    return f"{seconds:g} s"
