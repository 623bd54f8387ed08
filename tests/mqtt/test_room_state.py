"""Room snapshots: the latest state wins, at most one per `interval_s` per room, and what a
dashboard needs is in it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from adapters.mqtt.state import RoomStates
from adapters.mqtt.topics import Topics
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.domain.policy import DEFAULT_POLICY
from tests.mqtt.test_ingest import ingesting, msg
from tests.scenarios import full_case, schedule


class FakeBroker:
    """Records what would have been published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], bool]] = []

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
    ) -> None:
        self.sent.append((topic, json.loads(payload), retain))


@pytest.mark.asyncio
async def test_a_burst_of_changes_gives_few_snapshots_and_the_last_one_wins(cases, clock) -> None:
    async with ingesting(cases, clock) as ingest:
        states = RoomStates(
            topics=Topics("procsuite/t"), rooms=["IR1"], cases=cases, alarms=ingest.alarms,
            samples=ingest.samples, db=cases.db, bus=cases.bus, clock=clock, policy=DEFAULT_POLICY,
            interval_s=0.3, refresh_s=3600,
        )  # fmt: skip
        ingest.samples.listeners.append(states.mark)
        broker = FakeBroker()
        pump = asyncio.create_task(states.pump(broker))
        try:
            for seq in range(1, 101):  # 100 samples over about 0.5 s
                clock.advance(0.1)
                ingest.vitals(
                    "IR1", "mon-1", msg(clock(), seq=seq, hr=60 + seq % 40, spo2=90 + seq % 10)
                )
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.5)  # long enough for the last change to go out
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        states.close()
    sent = [
        body
        for topic, body, retain in broker.sent
        if topic == "procsuite/t/rooms/IR1/state" and retain
    ]
    assert 1 < len(sent) <= 6  # not one per sample
    assert sent[-1]["vitals"]["hr"]["value"] == 60 + 100 % 40
    assert sent[-1]["devices"]["mon-1"]["last_seq"] == 100


@pytest.mark.asyncio
async def test_the_snapshot_has_the_case_its_levels_timeline_and_countdown(cases, clock) -> None:
    await cases.execute("k1", schedule(clock(), room="IR1"), actor="his", source=Source.HL7)
    for command in full_case(clock()):
        if isinstance(command, c.InjectCement):
            break
        clock.now = command.at
        await cases.execute("k1", command, actor="tech1", source=Source.TUI)
    async with ingesting(cases, clock) as ingest:
        states = RoomStates(
            topics=Topics("procsuite/t"), rooms=["IR1"], cases=cases, alarms=ingest.alarms,
            samples=ingest.samples, db=cases.db, bus=cases.bus, clock=clock, policy=DEFAULT_POLICY,
        )  # fmt: skip
        clock.advance(600)
        snap = await states.snapshot("IR1")
        states.close()
    case = snap["case"]
    assert case["case_id"] == "k1" and case["phase"] == "balloon_tamp"
    assert [lv["level"] for lv in case["levels"]] == ["T12", "L1"]
    assert case["levels"][0]["trocar"]["approach"] == "transpedicular"
    assert case["levels"][1]["balloon"]["pressure_psi"] == 180
    assert case["cement_time_left_s"] == pytest.approx(DEFAULT_POLICY.cement_working_time_s - 600)
    assert case["timeline"][-1]["what"] == "cement mixed (PMMA)"
    assert case["timeline"][-1]["actor"] == "tech1" and case["timeline"][-1]["source"] == "tui"
    assert case["patient"]["mrn"] == "MRN0001" and case["checklist_missing"] == []
    assert snap["limits"]["spo2"]["low"] == 90
