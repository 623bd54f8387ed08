"""Vitals and alarm tables on SQLite and PostgreSQL: bulk insert, queries for trends and the
report, the alarm log as the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from suite.app.alarm_records import event_payload
from suite.domain.alarms.model import (
    Alarm,
    AlarmAcknowledged,
    AlarmRaised,
    AlarmSource,
    AlarmState,
    Category,
    Priority,
)
from suite.domain.alarms.parameters import Param
from suite.store import alarms as alarm_store
from suite.store import vitals as vitals_store

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_the_table_has_a_column_for_every_parameter() -> None:
    assert tuple(p.value for p in Param) == vitals_store.PARAM_COLUMNS


def row(
    at: datetime, case_id: str | None = "k1", room: str = "IR1", **values: float | None
) -> dict:
    return vitals_store.sample_row(
        room=room, device="mon-1", case_id=case_id, at=at, received_at=at, seq=None,
        values=values,
    )  # fmt: skip


@pytest.mark.asyncio
async def test_samples_are_kept_with_the_case_and_summarised_per_minute(database) -> None:
    rows = [row(T0 + timedelta(seconds=10 * i), spo2=90 + i % 5, hr=60 + i) for i in range(12)]
    rows.append(row(T0 + timedelta(seconds=5), case_id=None, spo2=50))  # the room alone
    rows.append(row(T0 + timedelta(seconds=7), case_id="k2", room="IR2", spo2=70))

    async def job(session):
        return await vitals_store.insert_samples(session, rows)

    assert await database.write(job) == 14
    async with database.session() as s:
        summary = await vitals_store.summary_for_case(s, "k1")
        in_case = await vitals_store.samples(s, case_id="k1")
        room_only = await vitals_store.samples(
            s, room="IR1", since=T0, until=T0 + timedelta(seconds=6)
        )
        assert await vitals_store.count(s, room="IR1") == 13
    minute0, minute1 = T0, T0 + timedelta(minutes=1)
    assert summary == [
        (Param.HR, minute0, 62.5),
        (Param.SPO2, minute0, 91.5),
        (Param.HR, minute1, 68.5),
        (Param.SPO2, minute1, 91.5),
    ]
    assert len(in_case) == 12 and in_case[0].at == T0 and in_case[0].at.tzinfo is not None
    assert in_case[1].values[Param.SPO2] == 91 and in_case[1].values[Param.TEMP] is None
    assert [(x.case_id, x.values[Param.SPO2]) for x in room_only] == [("k1", 90), (None, 50)]


@pytest.mark.asyncio
async def test_times_in_other_zones_are_stored_as_the_same_instant(database) -> None:
    plus2 = timezone(timedelta(hours=2))

    async def job(session):
        await vitals_store.insert_samples(
            session, [row(datetime(2026, 11, 24, 11, 0, tzinfo=plus2), hr=70)]
        )

    await database.write(job)
    async with database.session() as s:
        got = await vitals_store.samples(s, since=T0, until=T0 + timedelta(seconds=1))
    assert [x.at for x in got] == [T0]


@pytest.mark.parametrize(
    "at",
    [
        T0,
        datetime(2026, 11, 24, 9, 0, 0, 1, tzinfo=UTC),
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2199, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_sqlite_times_are_the_texts_sqlalchemy_binds(at: datetime) -> None:
    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    bind = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert bind is not None
    assert vitals_store.sqlite_time(at) == bind(at)
    later = at + timedelta(microseconds=999_999)  # the same second's text, made once
    row = vitals_store.sample_tuple(
        room="IR1", device="mon-1", case_id=None, at=at, received_at=later, seq=None, values={}
    )
    assert vitals_store.sqlite_rows([row, row])[1][3:5] == (bind(at), bind(later))


@pytest.mark.asyncio
async def test_row_tuples_are_stored_as_the_rows_of_dicts(database) -> None:
    """The recorder's tuples (the driver's executemany on SQLite) and the Core insert of
    dicts store the same samples, whatever the zone of the times."""
    plus2 = timezone(timedelta(hours=2))
    values = {Param.SPO2: 97.0, Param.HR: None, Param.TEMP: 36.6}
    times = [T0 + timedelta(seconds=i, microseconds=7 * i) for i in range(3)]
    times.append(datetime(2026, 11, 24, 11, 0, 5, tzinfo=plus2))
    as_dicts = [
        vitals_store.sample_row(
            room="IR1",
            device="mon-1",
            case_id="k1",
            at=at,
            received_at=at,
            seq=i,
            values={p.value: v for p, v in values.items()},
        )  # fmt: skip
        for i, at in enumerate(times)
    ]
    as_tuples = [
        vitals_store.sample_tuple(
            room="IR2", device="mon-1", case_id="k2", at=at, received_at=at, seq=i, values=values
        )
        for i, at in enumerate(times)
    ]

    async def job(session):
        return (
            await vitals_store.insert_samples(session, as_dicts),
            await vitals_store.insert_sample_tuples(session, as_tuples),
            await vitals_store.insert_sample_tuples(session, []),
        )

    assert await database.write(job) == (4, 4, 0)
    async with database.session() as s:
        one = await vitals_store.samples(s, room="IR1")
        two = await vitals_store.samples(s, room="IR2", since=T0, until=T0 + timedelta(hours=1))
    assert len(one) == 4
    assert [(x.at, x.seq, x.values) for x in one] == [(x.at, x.seq, x.values) for x in two]
    assert two[-1].at == T0 + timedelta(seconds=5)


def raised(alarm_id: str, room: str = "IR1", at: datetime = T0) -> AlarmRaised:
    return AlarmRaised(
        alarm_id, room, at, kind="spo2_low", category=Category.PHYSIOLOGICAL,
        priority=Priority.HIGH, message="SpO2 85 % below 90 %",
        source=AlarmSource(
            "limit.spo2.low", "mon-1", "spo2", (("2026-11-24T09:00:00+00:00", 85.0),),
            readings=(("etco2", "2026-11-24T09:00:00+00:00", 28.0),), baseline=(("etco2", 35.0),),
        ),
        latching=True, case_id="k1",
    )  # fmt: skip


def record(event, alarm: Alarm | None) -> alarm_store.EventRecord:
    return alarm_store.EventRecord(
        alarm_id=event.alarm_id, room=event.room, case_id="k1", event="x", at=event.at,
        user=getattr(event, "user", None), payload=event_payload(event, alarm, case_id="k1"),
    )  # fmt: skip


@pytest.mark.asyncio
async def test_alarms_their_log_and_the_outbox(database) -> None:
    ev = raised("a-1")
    alarm = Alarm.from_raised(ev)

    async def first(session):
        return await alarm_store.save(
            session, alarms=[(alarm, "engine", None)], events=[record(ev, alarm)], now=T0
        )

    ids = await database.write(first)
    ack = AlarmAcknowledged("a-1", "IR1", T0 + timedelta(seconds=30), user="nurse1")
    alarm.apply(ack)
    other = raised("a-2", room="IR2")

    async def second(session):
        return await alarm_store.save(
            session,
            alarms=[(alarm, "engine", None), (Alarm.from_raised(other), "bus", None)],
            events=[record(ack, alarm), record(other, Alarm.from_raised(other))],
            now=T0,
        )

    ids += await database.write(second)
    assert ids == sorted(ids) and len(set(ids)) == 3
    async with database.session() as s:
        opened = await alarm_store.open_alarms(s)
        listed = await alarm_store.list_alarms(s, room="IR1")
        outbox = await alarm_store.unpublished(s, rooms=["IR1"])
    assert [(a.alarm_id, a.state, o) for a, o in opened] == [
        ("a-1", AlarmState.ACKNOWLEDGED, "engine"),
        ("a-2", AlarmState.ACTIVE, "bus"),
    ]
    assert listed[0].acknowledged_by == "nurse1" and listed[0].source == ev.source
    assert [e.event_id for e in outbox] == ids[:2]
    assert outbox[1].payload["user"] == "nurse1" and outbox[1].payload["kind"] == "spo2_low"

    async def mark(session):
        await alarm_store.mark_published(session, [ids[0]], at=T0)

    await database.write(mark)
    async with database.session() as s:
        assert [e.event_id for e in await alarm_store.unpublished(s, rooms=["IR1", "IR2"])] == ids[
            1:
        ]
        assert [
            e.event_id
            for e in await alarm_store.unpublished(s, rooms=["IR1", "IR2"], after_id=ids[1])
        ] == ids[2:]
        assert await alarm_store.last_calm(s, "IR1") is None
