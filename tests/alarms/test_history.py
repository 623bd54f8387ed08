"""The recent readings a room keeps for the embolism baseline (`RoomState.history`): bounded
by time whatever the hours the service runs, and the same windows as a plain list of every
reading would give (issue 18, bench/memory.py)."""

from __future__ import annotations

import statistics
from collections import deque
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from suite.domain.alarms import Param
from suite.domain.alarms.config import EmbolismConfig
from suite.domain.alarms.embolism import BASELINE_PARAMS, history_keep_s
from suite.domain.alarms.state import Reading, ReadingSeries, RoomState
from tests.alarms.monitor import T0, Room, at

KEEP_S = history_keep_s(EmbolismConfig())  # 30 minutes with the default 5-minute window
SLACK = 256  # forgotten readings a series may hold before it compacts (state.py)


def test_a_room_keeps_half_an_hour_of_readings_however_many_hours_it_runs() -> None:
    room = RoomState("OR1")
    sizes = []
    for hour in range(8):
        for s in range(3600):
            t = hour * 3600 + s
            for param in BASELINE_PARAMS:
                room.remember(param, Reading(at(t), 90 + t % 7, "mon1"), keep_s=KEEP_S)
        sizes.append({p: (len(room.history[p]), room.history[p].capacity) for p in BASELINE_PARAMS})
    for by_param in sizes:
        for kept, held in by_param.values():
            assert kept == KEEP_S + 1  # the readings of the last 30 minutes, both ends in
            assert held <= KEEP_S + 1 + SLACK
    end = at(8 * 3600 - 1)
    last_5_min = room.history[Param.SPO2].values_between(end - timedelta(seconds=300), end)
    assert last_5_min == [float(90 + t % 7) for t in range(8 * 3600 - 301, 8 * 3600 - 1)]


def test_the_provisional_baseline_after_hours_of_samples_is_that_of_the_last_minutes() -> None:
    room = Room()
    for t in range(4 * 3600):
        spo2 = 99 if t < 4 * 3600 - 300 else 94 + t % 3  # the last five minutes lower
        room.sample(t, spo2=spo2, hr=70, etco2=38)
    assert room.engine.baseline("OR1")[Param.SPO2] == 95


readings = st.lists(
    st.tuples(st.integers(-5_000_000, 2_000_000), st.floats(0, 300, allow_nan=False)),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(
    steps=readings,
    keep_us=st.integers(1, 20_000_000),
    window=st.tuples(st.integers(-30_000_000, 400_000_000), st.integers(0, 60_000_000)),
)
def test_windows_are_those_of_every_reading_kept_in_a_list(
    steps: list[tuple[int, float]], keep_us: int, window: tuple[int, int]
) -> None:
    """Readings mostly in time order, some a little back (two monitors in the room)."""
    series = ReadingSeries()
    plain: deque[tuple[datetime, float]] = deque()  # what the room kept before issue 18
    t = T0
    for step_us, value in steps:
        t += timedelta(microseconds=step_us)
        series.append(t, value)
        series.drop_before(t - timedelta(microseconds=keep_us))
        plain.append((t, value))
        while plain and plain[0][0] < t - timedelta(microseconds=keep_us):
            plain.popleft()
        assert len(series) == len(plain)
    start = T0 + timedelta(microseconds=window[0])
    end = start + timedelta(microseconds=window[1])
    expected = [v for at_, v in plain if start <= at_ < end]
    assert series.values_between(start, end) == expected
    if expected:
        assert statistics.median(series.values_between(start, end)) == statistics.median(expected)


def test_two_monitors_a_little_apart_give_every_reading_of_a_window() -> None:
    """Two monitors in one room, one clock 2.5 s behind: readings arrive out of time order
    for hours, and a window still holds exactly the readings inside it."""
    room = RoomState("OR1")
    kept: list[tuple[datetime, float]] = []
    for t in range(3 * 3600):
        for device, lag_s, value in (("mon1", 0.0, 97.0), ("mon2", 2.5, 93.0)):
            reading = Reading(at(t - lag_s), value + t % 2, device)
            room.remember(Param.SPO2, reading, keep_s=KEEP_S)
            kept.append((reading.at, reading.value))
    series = room.history[Param.SPO2]
    assert series.capacity <= 2 * (KEEP_S + 1) + SLACK
    for end_s in (3 * 3600 - 1, 3 * 3600 - 400, 3 * 3600 - 1400):  # all within 30 min
        end = at(end_s)
        start = end - timedelta(seconds=300)
        assert series.values_between(start, end) == [v for t, v in kept if start <= t < end]


def test_one_late_reading_still_counts_in_its_window_after_the_series_compacts() -> None:
    room = RoomState("OR1")
    kept: list[tuple[datetime, float]] = []
    for t in range(1400):
        readings = [Reading(at(t), 97.0, "mon1")]
        if t == 1000:
            readings.append(Reading(at(995.5), 80.0, "mon2"))  # a reading that came late
        for reading in readings:
            room.remember(Param.SPO2, reading, keep_s=600)
            kept.append((reading.at, reading.value))
    start, end = at(990), at(1000)
    found = room.history[Param.SPO2].values_between(start, end)
    assert sorted(found) == sorted(v for t, v in kept if start <= t < end)
    assert 80.0 in found
