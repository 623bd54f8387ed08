"""The alarm service across a returning condition and across restarts, in simulated time:
`condition_returned` is stored and published by that name and resets calm-since; a restart
during cement injection keeps the embolism baseline; escalation timing carries over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.app.alarm_service import AlarmStored
from suite.app.case_service import CaseService
from suite.domain import commands as c
from suite.domain.alarms.engine import VitalSample
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.domain.envelope import Source
from suite.domain.values import Phase, Procedure
from suite.store import alarms as alarm_store
from suite.store import vitals as vitals_store
from tests.mqtt.test_alarm_service import alarm_service, case_id, settled, spo2
from tests.scenarios import full_case, schedule

EMBOLISM = "suspected_cement_embolism"
__all__ = ["case_id"]  # the fixture, shared with test_alarm_service


def events_of(stored) -> list[tuple[str, str]]:
    found = []
    while stored.queue.qsize():
        found += [(e.payload["alarm_id"], e.payload["event"]) for e in stored.get_nowait().events]
    return found


@pytest.mark.asyncio
async def test_a_returning_condition_is_condition_returned_on_the_wire_and_resets_calm(
    cases, clock, case_id
) -> None:
    stored = cases.bus.subscribe("test", AlarmStored)
    async with alarm_service(cases, clock) as service:
        seq = 0

        def step(value: float) -> None:
            nonlocal seq
            seq += 1
            clock.advance(1)
            spo2(service, clock, value, seq)

        for _ in range(12):
            step(85)
        [alarm] = service.active("IR1")
        assert alarm.latching  # high priority: it waits for a nurse after the condition ends
        while alarm.condition_active:
            step(97)
            assert seq < 100
        first_end = service.vitals_stable_since("IR1")
        assert first_end is not None and first_end <= clock()

        while not alarm.condition_active:  # down again, long enough for the delay
            step(85)
            assert seq < 200
        assert service.vitals_stable_since("IR1") == clock()  # not calm while it is back
        [same] = service.active("IR1")
        assert same.alarm_id == alarm.alarm_id

        while alarm.condition_active:
            step(97)
            assert seq < 300
        second_end = service.vitals_stable_since("IR1")
        assert second_end is not None and second_end > first_end
        await settled(service)

    names = [name for alarm_id, name in events_of(stored) if alarm_id == alarm.alarm_id]
    assert names == ["raised", "condition_ended", "condition_returned", "condition_ended"]
    async with cases.db.session() as s:
        rows = await alarm_store.events_for(s, alarm_id=alarm.alarm_id)
        assert [r.event for r in rows] == names
        # ...and the room's calm-since after a restart is the second end too.
        assert await alarm_store.last_calm(s, "IR1") == second_end


async def into_cement_injection(cases: CaseService, clock) -> None:
    """A vertebroplasty at L1 in room IR1 up to its first cement injection (now)."""
    start = clock()
    await cases.execute(
        "k1",
        schedule(start, procedure=Procedure.VERTEBROPLASTY, levels=("L1",)),
        actor="his",
        source=Source.HL7,
    )
    for command in full_case(start, procedure=Procedure.VERTEBROPLASTY, levels=("L1",)):
        clock.now = command.at
        await cases.execute("k1", command, actor="tech1", source=Source.TUI)
        if isinstance(command, c.InjectCement):
            break
    case = cases.get("k1")
    assert case is not None and case.phase is Phase.CEMENT_INJECTION


@pytest.mark.asyncio
async def test_after_a_restart_during_cement_injection_the_embolism_pattern_still_alarms(
    cases, clock
) -> None:
    await into_cement_injection(cases, clock)
    injection = clock()
    # Ten quiet minutes before the injection, as the vitals service stored them.
    rows = []
    for t in range(-600, 0):
        values: dict[str, float | None] = {"spo2": 97 + t % 3, "hr": 69 + t % 3}
        if t % 120 == 0:
            values["nibp_sys"] = 130
        at = injection + timedelta(seconds=t)
        rows.append(
            vitals_store.sample_row(
                room="IR1", device="mon-1", case_id="k1", at=at, received_at=at,
                seq=t + 601, values=values,
            )
        )  # fmt: skip

    async def store(session: AsyncSession) -> None:
        await vitals_store.insert_samples(session, rows)

    await cases.db.write(store)

    clock.advance(20)  # the service restarts 20 s into the injection
    async with alarm_service(cases, clock) as service:
        assert service.engine.baseline("IR1")[Param.SPO2] == 98
        seq = 1000
        values = {Param.SPO2: 91.0, Param.HR: 70.0, Param.NIBP_SYS: 100.0}
        for _ in range(30):  # SpO2 -7 points and systolic -23 %, held
            seq += 1
            clock.advance(1)
            service.observe(VitalSample("IR1", "mon-1", clock(), values, seq))
            service.tick()
            if service.active("IR1"):
                break
        kinds = [a.kind for a in service.active("IR1")]
        assert kinds == [EMBOLISM]  # SpO2 91 and systolic 100 cross no ordinary limit
        assert "L1" in service.active("IR1")[0].message


@pytest.mark.asyncio
async def test_escalation_timing_carries_over_a_restart(cases, clock) -> None:
    raised_at = clock()
    async with alarm_service(cases, clock) as service:
        service.technical("IR1", "mon-1", kind="adapter", message="monitor sends bad frames")
        [alarm] = service.active("IR1")
        assert alarm.priority is Priority.LOW
        clock.advance(300)  # five minutes unacknowledged at low: one step up
        service.tick()
        assert service.get(alarm.alarm_id).priority is Priority.MEDIUM
        escalated_at = clock()
        clock.advance(10)
        service.tick()
        await settled(service)

    clock.advance(10)  # restarted 20 s after the escalation
    async with alarm_service(cases, clock) as again:
        again.tick()
        [restored] = again.active("IR1")
        assert (restored.alarm_id, restored.priority) == (alarm.alarm_id, Priority.MEDIUM)
        clock.now = escalated_at + timedelta(seconds=119)
        again.tick()
        assert again.get(alarm.alarm_id).priority is Priority.MEDIUM  # 2 min at medium: not yet
        clock.now = escalated_at + timedelta(seconds=120)
        again.tick()
        assert again.get(alarm.alarm_id).priority is Priority.HIGH
        await settled(again)
    async with cases.db.session() as s:
        rows = await alarm_store.events_for(s, alarm_id=alarm.alarm_id)
    assert [
        (r.event, alarm_store.utc(r.at) - raised_at) for r in rows if r.event == "escalated"
    ] == [
        ("escalated", timedelta(seconds=300)),
        ("escalated", timedelta(seconds=420)),
    ]
