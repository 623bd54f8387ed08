"""What the engine remembers per monitor and per room between two observations."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from suite.domain.alarms.config import Limit
from suite.domain.alarms.debounce import Debounce
from suite.domain.alarms.model import LimitAdjusted
from suite.domain.alarms.parameters import Param
from suite.domain.values import Phase

if TYPE_CHECKING:
    from suite.domain.alarms.quiet import QuietBand


class Direction(Enum):
    LOW = "low"
    HIGH = "high"


@dataclass(slots=True)
class DeviceState:
    """One monitor in one room."""

    room: str
    device: str
    online: bool = True
    last_seen: datetime | None = None  # service time of the latest message or status
    last_at: datetime | None = None  # device time of the latest accepted sample
    last_seq: int | None = None
    offset_s: float = 0.0  # device time minus service time at the latest sample
    # (low, high) condition of each parameter's limits
    limits: dict[Param, tuple[Debounce, Debounce]] = field(default_factory=dict)
    sensor_off: dict[Param, Debounce] = field(default_factory=dict)
    implausible: dict[Param, Debounce] = field(default_factory=dict)
    skew: Debounce = field(default_factory=Debounce)
    adapter_kinds: set[str] = field(default_factory=set)  # technical() alarms it raised
    # Capnography (capnography.py): device times of the first valid EtCO2 of the current
    # connection (None: not a capnograph now), of its latest valid EtCO2 and of the latest
    # breath; the apnea condition.
    capno_since: datetime | None = None
    etco2_at: datetime | None = None
    last_breath: datetime | None = None
    apnea: bool = False

    def device_time(self, now: datetime) -> datetime:
        """`now` on this device's clock, as far as its latest sample tells."""
        return now + timedelta(seconds=self.offset_s)

    def limit_trackers(self, param: Param) -> tuple[Debounce, Debounce]:
        pair = self.limits.get(param)
        if pair is None:
            pair = self.limits[param] = (Debounce(), Debounce())
        return pair

    def limit_tracker(self, param: Param, direction: Direction) -> Debounce:
        return self.limit_trackers(param)[0 if direction is Direction.LOW else 1]


# Not frozen: one is made for every valid value of every sample, and a frozen dataclass's
# __init__ (object.__setattr__ per field) costs three times as much. Nothing changes a
# Reading once made.
@dataclass(slots=True)
class Reading:
    at: datetime  # device time
    value: float
    device: str


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_COMPACT_AFTER = 256  # forgotten readings a series holds on to at most


def micros_since_epoch(at: datetime) -> int:
    """`at` (aware) as whole microseconds since 1970: exact, and ordered as the times are."""
    return (at - _EPOCH) // _MICROSECOND


_micros = micros_since_epoch


def micros_of(seconds: float) -> int:
    """`seconds` as whole microseconds, rounded as `timedelta(seconds=...)` rounds them (so
    `micros_since_epoch(at - timedelta(seconds=s)) == micros_since_epoch(at) - micros_of(s)`)."""
    return timedelta(seconds=seconds) // _MICROSECOND


class ReadingSeries:
    """One parameter's recent valid readings in a room, in arrival order: device time (whole
    microseconds since 1970) and value in two arrays, 16 bytes a reading. A deque of
    (datetime, float) tuples costs about 130 bytes a reading, and a room keeps 30 minutes of
    each baseline parameter (`embolism.history_keep_s`) at whatever rate its monitors send:
    at 1 Hz, 20 rooms held about 14 MiB that way (bench/memory.py, docs/benchmarks.md)."""

    __slots__ = ("_at", "_values", "_head", "_ordered")

    def __init__(self) -> None:
        self._at = array("q")
        self._values = array("d")
        self._head = 0  # readings before it are forgotten, until the arrays are compacted
        self._ordered = True  # times never decrease (then a window is found by bisection)

    def __len__(self) -> int:
        return len(self._at) - self._head

    @property
    def capacity(self) -> int:
        """Readings the arrays hold, forgotten ones not yet compacted away included."""
        return len(self._at)

    def append(self, at: datetime, value: float) -> None:
        self.append_us(_micros(at), value)

    def append_us(self, us: int, value: float) -> None:
        """`append` with the time already in microseconds since 1970 (`_micros`)."""
        if self._ordered and len(self._at) > self._head and us < self._at[-1]:
            self._ordered = False  # two monitors a little apart: windows are scanned
        self._at.append(us)
        self._values.append(value)

    def add_us(self, us: int, value: float, *, horizon_us: int) -> None:
        """`append_us`, then `drop_before_us(horizon_us)` (only when the oldest reading is
        older than the horizon: otherwise there is nothing to drop)."""
        self.append_us(us, value)
        if self._at[self._head] < horizon_us:
            self.drop_before_us(horizon_us)

    def drop_before(self, horizon: datetime) -> None:
        """Forget the oldest readings (from the front) while they are older than `horizon`."""
        self.drop_before_us(_micros(horizon))

    def drop_before_us(self, limit: int) -> None:
        """`drop_before` with the horizon in microseconds since 1970 (`_micros`)."""
        at, head, n = self._at, self._head, len(self._at)
        while head < n and at[head] < limit:
            head += 1
        self._head = head
        if head >= _COMPACT_AFTER or (head and 2 * head >= n):  # O(1) a reading
            del at[:head]
            del self._values[:head]
            self._head = 0
            if not self._ordered:  # the reading out of order may have been forgotten
                self._ordered = all(at[i] <= at[i + 1] for i in range(len(at) - 1))

    def values_between(self, start: datetime, end: datetime) -> list[float]:
        """The values of the readings with `start <= time < end`, in arrival order."""
        lo_us, hi_us = _micros(start), _micros(end)
        at, values, head = self._at, self._values, self._head
        if self._ordered:
            lo = bisect_left(at, lo_us, head)
            return values[lo : bisect_left(at, hi_us, lo)].tolist()
        return [values[i] for i in range(head, len(at)) if lo_us <= at[i] < hi_us]


@dataclass(slots=True)
class RoomState:
    """One room: the context of its case, its patient's limits and recent readings."""

    room: str
    case_id: str | None = None
    phase: Phase | None = None
    injection: tuple[str, datetime] | None = None  # (level, time) of the latest injection
    anchor: datetime | None = None  # the case's first injection: the baseline ends here
    adjusted: dict[Param, LimitAdjusted] = field(default_factory=dict)
    latest: dict[Param, Reading] = field(default_factory=dict)
    history: dict[Param, ReadingSeries] = field(default_factory=dict)
    baseline: dict[Param, float] = field(default_factory=dict)  # frozen once anchored
    embolism: Debounce = field(default_factory=Debounce)
    # Capnography: service time sedation started, the EtCO2 readings (device time, value)
    # the baseline is taken from, and the baseline once taken (fixed for the case).
    sedation_at: datetime | None = None
    etco2_window: list[tuple[datetime, float]] = field(default_factory=list)
    etco2_baseline: float | None = None
    devices: list[str] = field(default_factory=list)
    # The limits in force (phase and patient applied) and their quiet bands (quiet.py),
    # rebuilt after either changes (`limits_changed`).
    effective: dict[Param, Limit] | None = None
    quiet: dict[Param, QuietBand] | None = None

    def limits_changed(self) -> None:
        """The phase or the patient's limits changed: forget the limits in force."""
        self.effective = None
        self.quiet = None

    def remember(
        self, param: Param, reading: Reading, *, keep_s: float, history: bool = True
    ) -> None:
        """Keep a valid reading as the latest and (with `history`) in the recent history."""
        self.remember_at(
            param, reading, at_us=_micros(reading.at), keep_us=micros_of(keep_s), history=history
        )

    def remember_at(
        self, param: Param, reading: Reading, *, at_us: int, keep_us: int, history: bool = True
    ) -> None:
        """`remember`, with the reading's time (`at_us`) and the history's length (`keep_us`)
        in microseconds, as the engine works them out once per sample."""
        latest = self.latest.get(param)
        if latest is None or reading.at >= latest.at:
            self.latest[param] = reading
        if not history:
            return
        series = self.history.get(param)
        if series is None:
            series = self.history[param] = ReadingSeries()
        series.add_us(at_us, reading.value, horizon_us=at_us - keep_us)

    def new_case(self, case_id: str | None) -> None:
        """Forget what belonged to the previous case's patient: adjusted limits, injections,
        baseline and the readings it would be taken from."""
        self.case_id = case_id
        self.adjusted.clear()
        self.limits_changed()
        self.injection = None
        self.anchor = None
        self.baseline.clear()
        self.latest.clear()
        self.history.clear()
        self.embolism.break_run()
        self.sedation_at = None
        self.etco2_window.clear()
        self.etco2_baseline = None
