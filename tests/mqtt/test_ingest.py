"""Bad input from monitors: every kind counted, logged once per device and kind, alarmed
where the nurse must know, and ingest carries on (simulated time, no broker)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.mqtt.ingest import Ingest
from suite.app.alarm_service import AlarmService
from suite.app.case_service import CaseService
from suite.app.sample_intake import SampleIntake
from suite.app.vitals_service import VitalsRecorder
from suite.domain.alarms.config import AlarmConfig
from suite.domain.alarms.model import Category
from suite.domain.alarms.parameters import Param
from suite.store import vitals as vitals_store


def msg(at: datetime, seq: int | None = None, units: dict | None = None, **values) -> bytes:
    body: dict = {"ts": at.isoformat().replace("+00:00", "Z"), "values": values}
    if seq is not None:
        body["seq"] = seq
    if units:
        body["units"] = units
    return json.dumps(body).encode()


@contextlib.asynccontextmanager
async def ingesting(cases: CaseService, clock, *, queue: int = 10_000) -> AsyncIterator[Ingest]:
    alarms = AlarmService(
        db=cases.db, bus=cases.bus, cases=cases, clock=clock,
        config=AlarmConfig(stale_feed_s=3600, clock_skew_s=3600), rooms=["IR1"], tick_s=3600,
    )  # fmt: skip
    recorder = VitalsRecorder(cases.db, queue_size=queue, batch=100)
    samples = SampleIntake(
        rooms=["IR1"], alarms=alarms, recorder=recorder, clock=clock, fault_clear_s=30
    )
    ingest = Ingest(samples, max_payload_bytes=4096)
    tasks = [asyncio.create_task(alarms.run()), asyncio.create_task(recorder.run())]
    try:
        await asyncio.wait_for(alarms.loaded.wait(), 5)
        yield ingest
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t


def technical(ingest: Ingest) -> dict[str, str]:
    return {
        a.kind: a.message for a in ingest.alarms.active("IR1") if a.category is Category.TECHNICAL
    }


@pytest.mark.asyncio
async def test_every_bad_input_is_counted_logged_once_and_ingest_goes_on(
    cases, clock, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.mqtt.ingest")
    async with ingesting(cases, clock) as ingest:
        bad = [
            b"{not json",
            b"{not json either",
            b"x" * 5000,  # over the 4096-byte limit of this test
            msg(clock.advance(0.1), glucose=5.1),
            msg(clock.advance(0.1), units={"etco2": "kPa"}, etco2=4.8),
            msg(clock.advance(0.1), hr="fast"),
        ]
        for payload in bad:
            ingest.vitals("IR1", "mon-1", payload)
        ingest.vitals("OR9", "mon-9", msg(clock(), hr=70))  # a room this service does not serve
        ingest.status("IR1", "mon-1", b"asleep")
        clock.advance(1)
        ingest.vitals("IR1", "mon-1", msg(clock(), seq=1, hr=72, spo2=150))
        ingest.vitals("IR1", "mon-1", msg(clock(), seq=1, hr=72, spo2=150))  # redelivered
        ingest.vitals("IR1", "mon-1", msg(clock(), seq=0, hr=72))  # older
        clock.advance(1)
        ingest.vitals("IR1", "mon-1", msg(clock(), seq=2, hr=73, spo2=96))

        assert ingest.samples.faults[("IR1", "mon-1")] == {
            "malformed": 2, "oversize": 1, "unknown_parameter": 1, "wrong_unit": 1,
            "bad_value": 1, "malformed_status": 1, "implausible": 1, "duplicate": 1,
            "out_of_order": 1,
        }  # fmt: skip
        assert ingest.samples.unknown_rooms == {"OR9": 1}
        assert ingest.samples.accepted == 5  # readable messages, bad values dropped from them
        logged = [r.getMessage() for r in caplog.records]
        assert sum("malformed from device mon-1" in m for m in logged) == 1  # once, not twice
        assert sum("implausible from device mon-1" in m for m in logged) == 1
        assert any("OR9" in m for m in logged)

        alarms = technical(ingest)
        assert alarms["malformed_payload"].startswith("Monitor mon-1 sends unreadable data")
        assert alarms["oversize_payload"].startswith("Monitor mon-1 sends oversized messages")
        assert alarms["etco2_wrong_unit"].startswith("EtCO2 in a wrong unit on monitor mon-1")
        assert alarms["hr_bad_value"].startswith("HR readings unreadable on monitor mon-1")
        assert alarms["implausible_spo2"].startswith("SpO2 values implausible on monitor mon-1")
        assert "unknown_parameter" not in alarms and "duplicate" not in alarms

        # Values that were dropped are not stored; the good ones are.
        await asyncio.wait_for(ingest.recorder.flushed(), 5)
        async with cases.db.session() as s:
            kept = await vitals_store.samples(s, room="IR1")
        assert [(x.values[Param.HR], x.values[Param.SPO2]) for x in kept] == [(72, None), (73, 96)]
        assert ingest.samples.latest["IR1"][Param.SPO2][0] == 96

        # Quiet for fault_clear_s: the adapter's technical alarms end.
        clock.advance(31)
        ingest.sweep()
        left = technical(ingest)
        assert not {
            "malformed_payload",
            "oversize_payload",
            "etco2_wrong_unit",
            "hr_bad_value",
        } & set(left)


@pytest.mark.asyncio
async def test_a_full_store_queue_is_a_fault_with_a_technical_alarm(cases, clock) -> None:
    async with ingesting(cases, clock, queue=3) as ingest:
        # The recorder task gets no chance to run between these: the queue fills.
        for seq in range(6):
            clock.advance(1)
            ingest.vitals("IR1", "mon-1", msg(clock(), seq=seq, hr=70))
        assert ingest.recorder.dropped["IR1"] == 3
        assert ingest.samples.faults[("IR1", "-")]["store_overflow"] == 1
        assert "store_overflow" in technical(ingest)


@pytest.mark.asyncio
async def test_device_status_and_its_removal(cases, clock) -> None:
    async with ingesting(cases, clock) as ingest:
        ingest.status("IR1", "mon-1", b"online")
        ingest.status("IR1", "mon-1", b"offline")
        assert "device_offline" in technical(ingest)
        assert ingest.samples.devices[("IR1", "mon-1")].online is False
        ingest.status("IR1", "mon-1", b"")  # the retained status was deleted: device removed
        assert ("IR1", "mon-1") not in ingest.samples.devices
        assert "device_offline" not in technical(ingest)


def test_order_rules() -> None:
    from suite.app.sample_intake import DUPLICATE, OUT_OF_ORDER, Device

    t0 = datetime(2026, 11, 24, 9, tzinfo=UTC)
    later = t0.replace(second=5)
    dev = Device(last_at=t0, last_seq=10)
    assert SampleIntake._order(dev, 10, t0) == DUPLICATE
    assert SampleIntake._order(dev, 9, t0) == OUT_OF_ORDER
    assert SampleIntake._order(dev, 11, t0.replace(second=0, microsecond=1)) is None
    assert (
        SampleIntake._order(dev, 11, t0.replace(hour=8)) is None
    )  # seq advanced; its clock went back
    assert SampleIntake._order(dev, 0, later) is None  # the device restarted its counter
    no_seq = Device(last_at=t0)
    assert SampleIntake._order(no_seq, None, t0) == DUPLICATE
    assert SampleIntake._order(no_seq, None, t0.replace(hour=8)) == OUT_OF_ORDER
    assert SampleIntake._order(no_seq, None, later) is None
