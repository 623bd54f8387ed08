"""Invariants over random sample streams (hypothesis): whatever the monitors send, in
whatever order, with whatever people do, the alarm lifecycle stays sound."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from suite.domain.alarms import AlarmConfig, AlarmEngine, Param, VitalSample
from suite.domain.alarms.errors import AlarmError
from suite.domain.alarms.model import (
    Alarm,
    AlarmAcknowledged,
    AlarmCleared,
    AlarmConditionEnded,
    AlarmConditionReturned,
    AlarmEscalated,
    AlarmEvent,
    AlarmRaised,
    Category,
    LimitAdjusted,
)
from suite.domain.values import Phase
from tests.alarms.monitor import T0
from tests.alarms.test_restore import fold

ROOMS = ("OR1", "OR2")
DEVICES = ("mon1", "mon2")

# Values near the default limits, plus no-reading, zero and implausible ones.
VALUES = {
    Param.SPO2: st.sampled_from([None, 0, 84, 89, 90, 91, 92, 97, 150]),
    Param.HR: st.sampled_from([None, 0, 45, 49, 50, 53, 80, 119, 121, 125, -5]),
    Param.NIBP_SYS: st.sampled_from([80, 89, 92, 96, 130, 185]),
    Param.ETCO2: st.sampled_from([None, 20, 30, 38, 52, 400]),
}

sample_op = st.tuples(
    st.just("sample"),
    st.floats(0, 4),
    st.sampled_from(ROOMS),
    st.sampled_from(DEVICES),
    st.dictionaries(st.sampled_from(list(VALUES)), st.none(), min_size=1).flatmap(
        lambda d: st.fixed_dictionaries({p: VALUES[p] for p in d})
    ),
    st.sampled_from([0.0, 0.0, 0.0, -2.5, 30.0]),  # device clock offset / late delivery
)
# A monitor sending once a second for a while, flapping between two sets of values.
stream_op = st.tuples(
    st.just("stream"), st.just(0.0), st.sampled_from(ROOMS), st.sampled_from(DEVICES),
    sample_op.map(lambda op: op[4]), sample_op.map(lambda op: op[4]), st.integers(3, 40),
    st.integers(1, 20),
)  # fmt: skip
# An episode: one parameter out of range for a while, then back (or just inside the band).
EPISODES = {
    Param.SPO2: ([84, 89], [91, 92, 97]),
    Param.HR: ([45, 125], [52, 80, 118]),
    Param.ETCO2: ([52, 60], [38, 48]),
}
episode_op = st.sampled_from(list(EPISODES)).flatmap(
    lambda p: st.tuples(
        st.just("episode"),
        st.just(0.0),
        st.sampled_from(ROOMS),
        st.sampled_from(DEVICES),
        st.just(p),
        st.sampled_from(EPISODES[p][0]),
        st.sampled_from(EPISODES[p][1]),
        st.integers(5, 30),
        st.integers(0, 30),
    )  # fmt: skip
)
tick_op = st.tuples(st.just("tick"), st.floats(0, 40))
status_op = st.tuples(
    st.just("status"), st.floats(0, 3), st.sampled_from(ROOMS), st.sampled_from(DEVICES),
    st.booleans(),
)  # fmt: skip
ack_op = st.tuples(st.just("ack"), st.floats(0, 3), st.integers(0, 5))
context_op = st.tuples(
    st.just("context"), st.floats(0, 3), st.sampled_from(ROOMS),
    st.sampled_from([Phase.SEDATION, Phase.CEMENT_INJECTION, Phase.RECOVERY]),
    st.sampled_from(["case-1", "case-2", None]),
)  # fmt: skip
technical_op = st.tuples(
    st.just("technical"), st.floats(0, 3), st.sampled_from(ROOMS), st.sampled_from(DEVICES),
    st.sampled_from(["implausible_spo2", "malformed_json"]), st.booleans(),
)  # fmt: skip
adjust_op = st.tuples(
    st.just("adjust"), st.floats(0, 3), st.sampled_from(ROOMS), st.sampled_from([85.0, 93.0])
)
operations = st.lists(
    st.one_of(
        sample_op,
        stream_op,
        episode_op,
        episode_op,
        episode_op,
        tick_op,
        status_op,
        ack_op,
        context_op,
        technical_op,
        adjust_op,
    ),  # fmt: skip
    max_size=60,
)


@dataclass
class Run:
    engine: AlarmEngine = field(default_factory=lambda: AlarmEngine(AlarmConfig()))
    events: list[AlarmEvent] = field(default_factory=list)
    seconds: float = 0.0

    def play(self, ops: list[tuple]) -> None:
        for op in ops:
            if op[0] == "stream":
                _, _, room, device, first, second, count, flap_every = op
                for i in range(count):
                    values = second if (i // flap_every) % 2 else first
                    self.play([("sample", 1.0, room, device, values, 0.0)])
                continue
            if op[0] == "episode":
                _, _, room, device, param, bad, good, bad_s, good_s = op
                for i in range(bad_s + good_s):
                    values = {param: bad if i < bad_s else good}
                    self.play([("sample", 1.0, room, device, values, 0.0)])
                continue
            self.seconds += op[1]
            now = T0 + timedelta(seconds=self.seconds)
            self.events += self.step(op, now)

    def step(self, op: tuple, now) -> list[AlarmEvent]:  # noqa: ANN001
        engine = self.engine
        match op:
            case ("sample", _, room, device, values, offset):
                at = now + timedelta(seconds=offset)
                return engine.observe(VitalSample(room, device, at, values), now=now)
            case ("tick", _):
                return engine.tick(now=now)
            case ("status", _, room, device, online):
                return engine.device_status(room, device, online=online, now=now)
            case ("ack", _, index):
                active = engine.active()
                if not active:
                    return []
                try:
                    return engine.acknowledge(
                        active[index % len(active)].alarm_id, user="n", now=now
                    )
                except AlarmError as exc:  # pragma: no cover - would break the invariants
                    raise AssertionError(f"acknowledging an active alarm failed: {exc}") from exc
            case ("context", _, room, phase, case_id):
                injection = ("L1", now) if phase is Phase.CEMENT_INJECTION else None
                return engine.set_context(
                    room, case_id=case_id, phase=phase, injection=injection, now=now
                )
            case ("technical", _, room, device, kind, clear):
                if clear:
                    return engine.clear_technical(room, device, kind=kind, now=now)
                return engine.technical(room, device, kind=kind, message=kind, now=now)
            case ("adjust", _, room, low):
                return engine.adjust_limit(
                    room, Param.SPO2, low=low, high=None, user="n", reason="r", now=now
                )
        raise AssertionError(op)


def key_of(ev: AlarmRaised) -> tuple[str, str, str]:
    device = ev.source.device if ev.category is Category.TECHNICAL else ""
    return (ev.room, ev.kind, device)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_the_alarm_lifecycle_is_sound_whatever_the_input(ops: list[tuple]) -> None:
    run = Run()
    run.play(ops)
    open_by_key: dict[tuple[str, str, str], str] = {}
    alarms: dict[str, Alarm] = {}
    cleared: set[str] = set()
    for ev in run.events:
        if isinstance(ev, LimitAdjusted):
            continue
        if isinstance(ev, AlarmRaised):
            key = key_of(ev)
            # Never two alarms of the same (room, kind[, device]) at once.
            assert key not in open_by_key, f"second {key} while {open_by_key[key]} is open"
            assert ev.alarm_id not in alarms
            open_by_key[key] = ev.alarm_id
            alarms[ev.alarm_id] = Alarm.from_raised(ev)
            continue
        # Every other event follows the raising of its alarm, and nothing follows a clear.
        assert ev.alarm_id in alarms and ev.alarm_id not in cleared, ev
        alarm = alarms[ev.alarm_id]
        if isinstance(ev, AlarmConditionEnded):
            assert alarm.latching and alarm.condition_active and alarm.acknowledged_by is None
        elif isinstance(ev, AlarmConditionReturned):
            assert not alarm.condition_active
        elif isinstance(ev, AlarmAcknowledged):
            assert alarm.acknowledged_by is None
        elif isinstance(ev, AlarmEscalated):
            assert alarm.acknowledged_by is None and ev.priority.rank == alarm.priority.rank + 1
        elif isinstance(ev, AlarmCleared):
            # A latching alarm is cleared only once someone has acknowledged it.
            assert not alarm.latching or alarm.acknowledged_by is not None
            cleared.add(ev.alarm_id)
            del open_by_key[key_of(alarm.history[0])]  # type: ignore[arg-type]
        alarm.apply(ev)
    # The engine's view is the fold of its own events.
    assert {a.alarm_id for a in run.engine.active()} == set(open_by_key.values())
    for current in run.engine.active():
        assert current == alarms[current.alarm_id]


@settings(max_examples=150, deadline=None)
@given(operations, operations)
def test_a_restart_keeps_the_active_alarms_and_never_duplicates_them(
    before: list[tuple], after: list[tuple]
) -> None:
    run = Run()
    run.play(before)
    kept, limits = fold(run.events)
    again = Run(seconds=run.seconds)
    again.engine.restore(kept, limits)
    assert again.engine.active() == run.engine.active()
    again.play(after)
    open_keys: dict[tuple[str, str, str], str] = {
        key_of(a.history[0]): a.alarm_id  # type: ignore[arg-type]
        for a in run.engine.active()
    }
    ids = {a.alarm_id for a in kept}
    for ev in again.events:
        if isinstance(ev, AlarmRaised):
            assert key_of(ev) not in open_keys and ev.alarm_id not in ids
            open_keys[key_of(ev)] = ev.alarm_id
            ids.add(ev.alarm_id)
        elif isinstance(ev, AlarmCleared):
            open_keys = {k: v for k, v in open_keys.items() if v != ev.alarm_id}
