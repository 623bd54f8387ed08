"""What the engine remembers per monitor and per room between two observations."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from suite.domain.alarms.config import Limit
from suite.domain.alarms.debounce import Debounce
from suite.domain.alarms.model import LimitAdjusted
from suite.domain.alarms.parameters import Param
from suite.domain.values import Phase


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


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime  # device time
    value: float
    device: str


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
    history: dict[Param, deque[tuple[datetime, float]]] = field(default_factory=dict)
    baseline: dict[Param, float] = field(default_factory=dict)  # frozen once anchored
    embolism: Debounce = field(default_factory=Debounce)
    # Capnography: service time sedation started, the EtCO2 readings (device time, value)
    # the baseline is taken from, and the baseline once taken (fixed for the case).
    sedation_at: datetime | None = None
    etco2_window: list[tuple[datetime, float]] = field(default_factory=list)
    etco2_baseline: float | None = None
    devices: list[str] = field(default_factory=list)
    # The limits in force (phase and patient applied), rebuilt after either changes.
    effective: dict[Param, Limit] | None = None

    def remember(
        self, param: Param, reading: Reading, *, keep_s: float, history: bool = True
    ) -> None:
        """Keep a valid reading as the latest and (with `history`) in the recent history."""
        latest = self.latest.get(param)
        if latest is None or reading.at >= latest.at:
            self.latest[param] = reading
        if not history:
            return
        series = self.history.get(param)
        if series is None:
            series = self.history[param] = deque()
        series.append((reading.at, reading.value))
        horizon = reading.at - timedelta(seconds=keep_s)
        while series and series[0][0] < horizon:
            series.popleft()

    def new_case(self, case_id: str | None) -> None:
        """Forget what belonged to the previous case's patient: adjusted limits, injections,
        baseline and the readings it would be taken from."""
        self.case_id = case_id
        self.adjusted.clear()
        self.effective = None
        self.injection = None
        self.anchor = None
        self.baseline.clear()
        self.latest.clear()
        self.history.clear()
        self.embolism.break_run()
        self.sedation_at = None
        self.etco2_window.clear()
        self.etco2_baseline = None
