"""Hypothesis: no random sequence of commands breaks an invariant of the case."""

import dataclasses
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from suite.domain import commands as c
from suite.domain.case import Case, replay
from suite.domain.checklist import ChecklistItem, ChecklistStatus
from suite.domain.errors import DomainError
from suite.domain.events import DrugDose
from suite.domain.values import (
    ImagingModality,
    ImagingResult,
    Leakage,
    Phase,
    Procedure,
    Side,
    phases_for,
)
from suite.domain.workflow import decide
from tests.domain.helpers import T0
from tests.scenarios import full_case, schedule

LEVELS = ["T11", "T12", "L1", "L2", "X9"]
volumes = st.one_of(st.floats(min_value=-5, max_value=30), st.just(float("nan")))


def _commands(at):
    """Strategies for every kind of command, valid and invalid values mixed."""
    level = st.sampled_from(LEVELS)
    return st.one_of(
        st.just(c.CheckIn(at=at)),
        st.builds(
            c.RecordChecklistItem,
            at=st.just(at),
            item=st.sampled_from(list(ChecklistItem)),
            status=st.sampled_from(list(ChecklistStatus)),
        ),
        st.builds(
            c.RecordLabs,
            at=st.just(at),
            inr=st.floats(0, 20),
            platelets_10e9_per_l=st.floats(0, 3000),
        ),
        st.builds(
            c.SignTimeOut,
            at=st.just(at),
            signed_by=st.sampled_from(["dr.rad", ""]),
            patient_confirmed=st.booleans(),
            procedure=st.sampled_from(["kyphoplasty", "vertebroplasty"]),
            levels=st.sampled_from([("T12", "L1"), ("T12",), ("L1", "T12")]),
            side=st.just(Side.LEFT),
        ),
        st.just(c.GiveSedation(at=at, drugs=(DrugDose("midazolam", 1, "mg"),))),
        st.just(c.PositionPatient(at=at)),
        st.builds(
            c.GiveLocalAnesthetic, at=st.just(at), drug=st.just("lidocaine"), volume_ml=volumes
        ),
        st.builds(c.PlaceTrocar, at=st.just(at), level=level),
        st.builds(c.ConfirmTrocar, at=st.just(at), level=level),
        st.builds(
            c.InflateBalloon,
            at=st.just(at),
            level=level,
            pressure_psi=st.floats(-10, 900),
            volume_ml=volumes,
        ),
        st.builds(c.RemoveBalloon, at=st.just(at), level=level),
        st.just(c.MixCement(at=at)),
        st.builds(
            c.InjectCement,
            at=st.just(at),
            level=level,
            volume_ml=volumes,
            leakage=st.sampled_from(list(Leakage)),
        ),
        st.builds(
            c.LinkImage,
            at=st.just(at),
            sop_instance_uid=st.sampled_from(["1.2.3", "1.2.4"]),
            modality=st.just("XA"),
        ),
        st.just(
            c.RecordImagingCheck(
                at=at,
                modality=ImagingModality.CT,
                result=ImagingResult.SATISFACTORY,
                signed_by="dr.rad",
            )
        ),
        st.just(c.CloseWound(at=at)),
        st.just(c.StartRecovery(at=at)),
        st.just(c.Discharge(at=at)),
    )


# Built once (strategy construction is costly); each drawn command gets its real time later.
COMMANDS = _commands(T0)
ROLL = st.sampled_from(["script"] * 130 + ["random"] * 68 + ["cancel", "abort"])


def check_invariants(case: Case, events) -> None:
    flow = phases_for(case.procedure)
    path = [p for p, _ in case.phase_history]
    ended = path[-1] in (Phase.CANCELLED, Phase.ABORTED)
    walked = path[:-1] if ended else path
    # never skips a phase: the path is exactly the first steps of the workflow
    assert walked == list(flow[: len(walked)]), path
    for level, state in case.levels:
        assert level in case.order.levels
        if state.injections:
            assert state.trocar_confirmed_at is not None
            assert case.time_out is not None and case.time_out.at <= state.trocar.at
            if case.procedure is Procedure.KYPHOPLASTY:
                assert state.balloon_removed_at is not None
                assert state.balloon_removed_at <= state.injections[0].at
            assert all(0 < i.volume_ml <= 20 for i in state.injections)
    if case.phase_started_at(Phase.IMAGING_CHECK):
        assert all(case.level(lv).has_cement for lv in case.order.levels)
    assert case.version == len(events)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), procedure=st.sampled_from(list(Procedure)))
def test_random_command_sequences_keep_every_invariant(data, procedure):
    events = decide(None, schedule(T0, procedure=procedure, levels=("T12", "L1")), now=T0)
    case = replay("k1", events)
    # Most steps follow a real case's script, so random detours start from deep states too.
    script = list(full_case(T0, procedure=procedure, levels=("T12", "L1")))
    for _ in range(data.draw(st.integers(5, 80), label="steps")):
        at = case.last_at + timedelta(seconds=data.draw(st.integers(0, 4000), label="dt"))
        roll = data.draw(ROLL, label="roll")
        if roll == "cancel":
            command = c.CancelCase(at=at, reason="x")
        elif roll == "abort":
            command = c.AbortCase(at=at, reason="y")
        elif script and roll == "script":
            command = dataclasses.replace(script.pop(0), at=at)
        else:
            command = dataclasses.replace(data.draw(COMMANDS), at=at)
        before = case
        try:
            new = decide(case, command, now=at)
        except DomainError:
            assert case == before  # a refused command changes nothing
            continue
        for ev in new:
            case = case.apply(ev)
        events = events + new
        check_invariants(case, events)
    event(f"reached {case.phase.value}")
    # replaying the events gives back the same state
    assert replay(case.case_id, events) == case


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_events_survive_their_stored_form(data):
    """What the store writes (the codec's JSON form) reads back as the same events."""
    import json

    from suite.domain.codec import event_from_data, event_to_data

    events = decide(None, schedule(T0), now=T0)
    case = replay("k1", events)
    for command in full_case(T0):
        new = decide(case, command, now=command.at)
        for ev in new:
            case = case.apply(ev)
        events += new
    picked = data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=10))
    for ev in picked:
        kind, payload = event_to_data(ev)
        assert event_from_data(kind, json.loads(json.dumps(payload))) == ev
