"""The alarm service in simulated time: engine wired to cases and the store, acks recorded
with the user, other producers' alarms, restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from suite.app.alarm_service import AlarmService, AlarmStored
from suite.app.case_service import CaseService
from suite.domain import commands as c
from suite.domain.alarms.config import AlarmConfig
from suite.domain.alarms.engine import VitalSample
from suite.domain.alarms.errors import AlarmAlreadyCleared, LimitRefused, UnknownAlarm
from suite.domain.alarms.model import AlarmRaised, AlarmSource, AlarmState, Category, Priority
from suite.domain.alarms.parameters import Param
from suite.domain.envelope import Source
from suite.store import alarms as alarm_store
from tests.mqtt.conftest import eventually
from tests.scenarios import schedule

CONFIG = AlarmConfig(stale_feed_s=3600, clock_skew_s=3600)


@contextlib.asynccontextmanager
async def alarm_service(
    cases: CaseService, clock, *, rooms=("IR1", "IR2")
) -> AsyncIterator[AlarmService]:
    service = AlarmService(
        db=cases.db, bus=cases.bus, cases=cases, clock=clock, config=CONFIG, rooms=list(rooms),
        tick_s=3600,  # the test ticks by hand, in simulated time
    )  # fmt: skip
    task = asyncio.create_task(service.run())
    try:
        async with asyncio.timeout(5):
            await service.loaded.wait()
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest_asyncio.fixture
async def case_id(cases: CaseService, clock) -> str:
    await cases.execute("k1", schedule(clock(), room="IR1"), actor="his", source=Source.HL7)
    clock.advance(60)
    await cases.execute("k1", c.CheckIn(at=clock()), actor="tech1", source=Source.TUI)
    return "k1"


def spo2(service: AlarmService, clock, value: float, seq: int, room: str = "IR1") -> None:
    service.observe(VitalSample(room, "mon-1", clock(), {Param.SPO2: value, Param.HR: 70}, seq))


async def settled(service: AlarmService) -> None:
    async with asyncio.timeout(5):
        await service.drain()


@pytest.mark.asyncio
async def test_a_desaturation_held_for_the_delay_raises_one_alarm_stored_with_the_case(
    cases, clock, case_id
) -> None:
    stored = cases.bus.subscribe("test", AlarmStored)
    async with alarm_service(cases, clock) as service:
        spo2(service, clock, 97, 1)
        for i in range(2, 12):  # 85 % from t=1 s to t=10 s: 9 s, short of the 10 s delay
            clock.advance(1)
            spo2(service, clock, 85, i)
        assert service.active("IR1") == []
        clock.advance(1)
        spo2(service, clock, 85, 12)  # 10 s below the limit: the delay is complete
        [alarm] = service.active("IR1")
        assert (alarm.kind, alarm.priority, alarm.case_id) == ("spo2_low", Priority.HIGH, case_id)
        assert service.vitals_stable_since("IR1") == clock()
        await settled(service)

        acked = await service.acknowledge(alarm.alarm_id, user="nurse1")
        assert acked.acknowledged_by == "nurse1"
        with pytest.raises(UnknownAlarm):
            await service.acknowledge("a-nope", user="nurse1")

        for i in range(13, 30):
            clock.advance(1)
            spo2(service, clock, 97, i)
        await settled(service)
        assert service.active("IR1") == []
        calm = service.vitals_stable_since("IR1")
        assert calm is not None and calm < clock()

    async with cases.db.session() as s:
        events = await alarm_store.events_for(s, case_id=case_id)
        [row] = await alarm_store.list_alarms(s, case_id=case_id, include_cleared=True)
    assert [e.event for e in events] == ["raised", "acknowledged", "cleared"]
    assert [e.user for e in events] == [None, "nurse1", None]
    assert row.state is AlarmState.CLEARED and row.acknowledged_by == "nurse1"
    published = [stored.get_nowait() for _ in range(stored.queue.qsize())]
    ids = [e.event_id for p in published for e in p.events]
    assert ids == sorted(ids) and [e.id for e in events] == ids


@pytest.mark.asyncio
async def test_samples_with_no_open_case_still_alarm_with_the_room_alone(cases, clock) -> None:
    async with alarm_service(cases, clock) as service:
        for i in range(12):
            spo2(service, clock, 80, i, room="IR2")
            clock.advance(1)
        [alarm] = service.active("IR2")
        assert alarm.case_id is None
        assert service.case_for_room("IR2") is None


@pytest.mark.asyncio
async def test_another_producers_alarm_is_stored_and_a_nurse_acknowledgement_clears_it(
    cases, clock, case_id
) -> None:
    async with alarm_service(cases, clock) as service:
        cases.bus.publish(
            AlarmRaised(
                "dose-1", "IR1", clock(), kind="dose_3gy", category=Category.PROCEDURE,
                priority=Priority.MEDIUM, message="Air kerma passed 3 Gy",
                source=AlarmSource("dose.threshold"),
            )
        )  # fmt: skip
        await eventually(lambda: service.active("IR1"), within_s=5)
        [alarm] = service.active("IR1")
        assert (alarm.alarm_id, alarm.case_id) == ("dose-1", case_id)
        clock.advance(30)
        done = await service.acknowledge("dose-1", user="nurse1")
        assert done.state is AlarmState.CLEARED and done.acknowledged_by == "nurse1"
        assert service.active("IR1") == []
        with pytest.raises(AlarmAlreadyCleared):
            await service.acknowledge("dose-1", user="nurse2")
        await service.drain()  # the store follows the local journal
    async with cases.db.session() as s:
        events = await alarm_store.events_for(s, alarm_id="dose-1")
    assert [(e.event, e.user, e.case_id) for e in events] == [
        ("raised", None, case_id),
        ("acknowledged", "nurse1", case_id),
        ("cleared", None, case_id),
    ]


@pytest.mark.asyncio
async def test_a_restart_restores_open_alarms_and_the_patients_limits(
    cases, clock, case_id
) -> None:
    async with alarm_service(cases, clock) as service:
        for i in range(12):
            spo2(service, clock, 85, i)
            clock.advance(1)
        [before] = service.active("IR1")
        await service.adjust_limit(
            "IR1", Param.SPO2, low=88, high=None, user="nurse1", reason="COPD, baseline 89 %"
        )
        with pytest.raises(LimitRefused):
            await service.adjust_limit(
                "IR1", Param.SPO2, low=40, high=None, user="nurse1", reason="x"
            )
        await settled(service)

    async with alarm_service(cases, clock) as again:
        [after] = again.active("IR1")
        assert (after.alarm_id, after.kind, after.raised_at) == (
            before.alarm_id,
            before.kind,
            before.raised_at,
        )
        assert again.engine.limits("IR1")[Param.SPO2].low == 88
        clock.advance(5)
        acked = await again.acknowledge(after.alarm_id, user="nurse2")
        assert acked.acknowledged_by == "nurse2"
    async with cases.db.session() as s:
        events = await alarm_store.events_for(s, case_id=case_id)
    limit = next(e for e in events if e.event == "limit_adjusted")
    assert (limit.user, limit.payload["reason"], limit.payload["low"]) == (
        "nurse1",
        "COPD, baseline 89 %",
        88,
    )


@pytest.mark.asyncio
async def test_the_engine_follows_the_case_phase(cases, clock, case_id) -> None:
    async with alarm_service(cases, clock) as service:
        assert service.case_for_room("IR1") == case_id
        await cases.execute(
            case_id,
            c.CancelCase(at=clock(), reason="patient unwell"),
            actor="dr1",
            source=Source.TUI,
        )
        await eventually(lambda: service.case_for_room("IR1") is None, within_s=5)
        # With the case closed, the room still alarms, now with no case.
        for i in range(12):
            spo2(service, clock, 80, i)
            clock.advance(1)
        [alarm] = service.active("IR1")
        assert alarm.case_id is None
