"""The quiet-value fast path (suite/domain/alarms/quiet.py) changes nothing but the cost: the
same random streams through an engine with it and one without give the same events and
leave the same state."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from suite.domain.alarms import AlarmConfig, AlarmEngine, Param, VitalSample
from suite.domain.alarms.config import DEFAULT_LIMITS
from suite.domain.alarms.parameters import PARAMETERS
from suite.domain.alarms.quiet import quiet_band
from suite.domain.alarms.state import DeviceState, RoomState
from suite.domain.values import Phase
from tests.alarms.monitor import T0
from tests.alarms.test_properties import ROOMS, Run, operations


def _edges(param: Param) -> list[float | None]:
    """Values on and around every edge the two paths decide on: the limits, the limits
    past their hysteresis, the physical range, zero; and no reading."""
    info, limit = PARAMETERS[param], DEFAULT_LIMITS[param]
    points = [0.0, info.physical_min, info.physical_max]
    for bound in (limit.low, limit.high):
        if bound is not None:
            points += [bound, bound + limit.hysteresis, bound - limit.hysteresis]
    values: list[float | None] = [None, float("nan"), -1.0, info.physical_max + 1]
    for p in points:
        values += [p, p - 0.5, p + 0.5]
    return values


all_params_op = st.tuples(
    st.just("sample"),
    st.floats(0, 4),
    st.sampled_from(ROOMS),
    st.sampled_from(("mon1", "mon2")),
    st.fixed_dictionaries(
        {},
        optional={
            p: st.one_of(st.sampled_from(_edges(p)), st.floats(-10, 400, allow_nan=False))
            for p in Param
        },
    ),
    st.sampled_from([0.0, 0.0, 0.0, -2.5, 30.0]),
)
# Long runs of all eight parameters in range (the fast path) broken by the other operations.
quiet_stream_op = st.tuples(
    st.just("stream"), st.just(0.0), st.sampled_from(ROOMS), st.sampled_from(("mon1", "mon2")),
    st.just({Param.HR: 72, Param.SPO2: 97, Param.NIBP_SYS: 121, Param.NIBP_DIA: 78,
             Param.NIBP_MAP: 92, Param.RR: 14, Param.ETCO2: 36, Param.TEMP: 36.6}),
    all_params_op.map(lambda op: op[4]), st.integers(3, 40), st.integers(1, 20),
)  # fmt: skip
streams = st.lists(
    st.one_of(all_params_op.map(lambda op: [op]), quiet_stream_op.map(lambda op: [op]), operations),
    max_size=12,
).map(lambda groups: [op for group in groups for op in group])


def _state(obj: RoomState | DeviceState) -> dict[str, Any]:
    """A state's fields, the history as its readings and without the caches of limits."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name in ("effective", "quiet"):
            continue
        if f.name == "history":
            value = {p: s.values_between(T0 - timedelta(days=1), T0 + timedelta(days=1))
                     for p, s in value.items()}  # fmt: skip
        out[f.name] = value
    return out


def _same(fast: AlarmEngine, full: AlarmEngine) -> None:
    assert fast.counts == full.counts
    assert fast.active() == full.active()
    assert fast._rooms.keys() == full._rooms.keys()
    for name, room in fast._rooms.items():
        assert _state(room) == _state(full._rooms[name]), name
        assert fast._devices[name].keys() == full._devices[name].keys()
        for device, dev in fast._devices[name].items():
            assert _state(dev) == _state(full._devices[name][device]), (name, device)


@settings(max_examples=300, deadline=None)
@given(streams)
def test_the_fast_path_gives_the_events_and_state_of_the_full_path(ops: list[tuple]) -> None:
    fast = Run(engine=AlarmEngine(AlarmConfig()))
    full = Run(engine=AlarmEngine(AlarmConfig(), quiet_fast_path=False))
    fast.play(ops)
    full.play(ops)
    assert fast.events == full.events
    _same(fast.engine, full.engine)


def test_quiet_values_take_the_fast_path_and_others_do_not() -> None:
    engine = AlarmEngine(AlarmConfig())
    engine.set_context("OR1", case_id="c1", phase=Phase.SEDATION, injection=None, now=T0)
    values = {Param.SPO2: 97.0, Param.HR: 72.0}
    for i in range(3):
        engine.observe(VitalSample("OR1", "mon1", T0 + timedelta(seconds=i), values), now=T0)
    room = engine._rooms["OR1"]
    band = quiet_band(engine.config, room, Param.SPO2)
    # SpO2 low 90 with a hysteresis of 2: 92 is past the margin, 91 is inside the band of
    # hysteresis (neither starts nor ends a condition), 100 the top of the physical range.
    assert (band.low, band.high, band.zero_is_off, band.sensor_off) == (92, 100, True, True)
    hr = quiet_band(engine.config, room, Param.HR)
    assert (hr.low, hr.high, hr.zero_is_off) == (53, 117, False)
    # A patient's limit changes the band at once.
    engine.adjust_limit("OR1", Param.SPO2, low=85, high=None, user="n", reason="r", now=T0)
    assert quiet_band(engine.config, room, Param.SPO2).low == 87
