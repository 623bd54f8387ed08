"""The local alarm journal (suite/store/alarm_wal.py) under the alarm service, on a real store
and a real file system: what a crash, a database that is not there and a full disk leave."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from suite.app.alarm_journal import AlarmAnnounced
from suite.app.alarm_service import AlarmService
from suite.app.case_service import CaseService
from suite.domain.alarms.config import AlarmConfig
from suite.store.alarm_journaled import Journaled, save_journaled
from suite.store.alarm_wal import AlarmWal
from suite.store.alarms import AlarmEventRow
from tests.peers import small_disk

CONFIG = AlarmConfig(stale_feed_s=3600, clock_skew_s=3600)


def service(cases: CaseService, clock, path: Path) -> AlarmService:
    return AlarmService(
        db=cases.db, bus=cases.bus, cases=cases, clock=clock, config=CONFIG, rooms=["IR1"],
        tick_s=3600, journal_path=path,
    )  # fmt: skip


def record(n: int) -> dict:
    return {"alarm_id": f"a{n}", "room": "IR1", "case_id": None, "event": "raised",
            "at": "2026-12-05T08:00:00+00:00", "user": None, "payload": {"n": n}}  # fmt: skip


async def stored_events(cases: CaseService) -> list[AlarmEventRow]:
    async with cases.db.session() as s:
        return list(await s.exec(select(AlarmEventRow).order_by(col(AlarmEventRow.id))))


def test_a_line_cut_short_by_a_crash_is_dropped_and_the_numbering_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "i1.jsonl"
    wal = AlarmWal(path)
    wal.open()
    first = wal.append([(record(1), None), (record(2), None)])
    wal.close()
    with path.open("ab") as f:  # the process died in the middle of writing a third event
        f.write(b'{"seq":3,"uid":"dead","record":{"room":"IR1"')

    again = AlarmWal(path)
    again.open()
    assert [e.uid for e in again.to_store()] == [e.uid for e in first]
    [third] = again.append([(record(3), None)])
    assert third.seq == 3
    again.close()
    lines = path.read_bytes().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]


def test_a_journal_over_its_bound_says_it_is_full_and_keeps_the_events(tmp_path: Path) -> None:
    wal = AlarmWal(tmp_path / "i1.jsonl", max_entries=3)
    wal.append([(record(n), None) for n in range(1, 5)])
    assert wal.full
    assert [e.seq for e in wal.to_store()] == [1, 2, 3, 4]
    wal.mark_published(4)
    wal.mark_stored(2)  # the database took two: room again, and the file gets every event
    assert not wal.full
    wal.append([(record(5), None)])
    wal.close()
    reopened = AlarmWal(tmp_path / "i1.jsonl")
    reopened.open()
    assert [e.seq for e in reopened.to_store()] == [3, 4, 5]
    reopened.close()


@pytest.mark.asyncio
async def test_events_reach_the_store_once_and_in_order_after_a_crash_between_commit_and_cursor(
    cases, clock, tmp_path: Path
) -> None:
    path = tmp_path / "alarm-journal" / "i1.jsonl"
    first = service(cases, clock, path)
    await first.load()
    first.technical("IR1", "mon-1", kind="sensor_off", message="SpO2 sensor off")
    clock.advance(1)
    first.technical("IR1", "mon-2", kind="lead_off", message="ECG lead off")
    [alarm, _] = first.active("IR1")
    await first.acknowledge(alarm.alarm_id, user="nurse1")
    entries = first.journal.wal.to_store()
    assert [e.record["event"] for e in entries] == ["raised", "raised", "acknowledged"]
    # The first two reach the store, and the process dies before the journal's cursor moves.
    await cases.db.write(
        lambda s: save_journaled(s, [Journaled(e.uid, e.record, e.alarm) for e in entries[:2]],
                                 now=clock())
    )  # fmt: skip
    first.journal.wal._close_file()  # noqa: SLF001  (a crash: no orderly close)

    second = service(cases, clock, path)
    await second.load()  # stores what the journal holds that the store does not
    rows = await stored_events(cases)
    assert [r.event_uid for r in rows] == [e.uid for e in entries]  # each once, in order
    assert [(r.event, r.user) for r in rows][-1] == ("acknowledged", "nurse1")
    [restored, _] = second.active("IR1")
    assert restored.alarm_id == alarm.alarm_id and restored.acknowledged_by == "nurse1"
    assert second.journal.wal.to_store() == []
    second.journal.wal.close()


@pytest.mark.asyncio
async def test_a_full_local_disk_raises_a_technical_alarm_and_loses_no_alarm_event(
    cases, clock, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with small_disk(disk, size_mib=1) as fill:
        alarms = service(cases, clock, disk / "i1.jsonl")
        health: list[tuple[bool, str]] = []
        alarms.journal.health_listeners.append(lambda ok, why: health.append((ok, why)))
        announced = cases.bus.subscribe("test", AlarmAnnounced)
        await alarms.load()
        fill(True)
        alarms.technical("IR1", "mon-1", kind="sensor_off", message="SpO2 sensor off")
        # Announced at once all the same, and the failure is named.
        got = announced.get_nowait()
        assert [e.record["event"] for e in got.entries] == ["raised"]
        assert [a.kind for a in alarms.active("IR1")] == ["sensor_off"]
        [(ok, why)] = health
        assert not ok and "cannot be written" in why and "No space left" in why

        fill(False)
        clock.advance(1)
        alarms.technical("IR1", "mon-2", kind="lead_off", message="ECG lead off")
        assert health[-1] == (True, "")
        reopened = AlarmWal(disk / "i1.jsonl")
        reopened.open()  # both events are in the file now, the first written late
        assert [e.record["alarm_id"] for e in reopened.to_store()] == [
            a.alarm_id for a in sorted(alarms.active("IR1"), key=lambda a: a.raised_at)
        ]
        reopened.close()
        task = asyncio.create_task(alarms.run())
        try:
            async with asyncio.timeout(10):
                await alarms.drain()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert [r.event for r in await stored_events(cases)] == ["raised", "raised"]
