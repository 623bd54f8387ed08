"""The audit trail: commands, acknowledgements and limit changes, with who, when and from
where, listed by `procsuite audit` in time order."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.mqtt.commands import CommandChannel
from procsuite.cli import main
from suite.app.alarm_service import AlarmService
from suite.app.case_service import CaseService
from suite.domain.alarms.config import AlarmConfig
from suite.domain.alarms.engine import VitalSample
from suite.domain.alarms.parameters import Param
from suite.domain.envelope import Source
from suite.settings import Role
from suite.store import audit_log
from suite.store.audit_trail import audit_trail
from tests.actions import actions_for
from tests.scenarios import schedule

USERS = {"nurse1": Role.NURSE, "tech1": Role.TECHNOLOGIST}


@contextlib.asynccontextmanager
async def channel(cases: CaseService, clock: Any) -> AsyncIterator[CommandChannel]:
    """The MQTT command channel as the service wires it, without a broker."""
    alarms = AlarmService(
        db=cases.db, bus=cases.bus, cases=cases, clock=clock,
        config=AlarmConfig(stale_feed_s=3600, clock_skew_s=3600), rooms=["IR1"], tick_s=3600,
    )  # fmt: skip
    chan = CommandChannel(actions=actions_for(cases, alarms, clock=clock, users=USERS))
    task = asyncio.create_task(alarms.run())
    try:
        await asyncio.wait_for(alarms.loaded.wait(), 5)
        yield chan
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send(chan: CommandChannel, user: str, **command: Any) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(await chan.handle(user, json.dumps(command).encode()))
    assert reply["ok"] is True, reply
    return reply


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_audit_lists_who_did_what_when_and_from_where_in_time_order(
    cases: CaseService, clock: Any, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    await cases.execute("k1", schedule(clock(), room="IR1"), actor="his", source=Source.HL7)
    async with channel(cases, clock) as chan:
        clock.advance(60)
        await send(chan, "tech1", id="1", action="log_step", case_id="k1", step="check-in")
        for i in range(12):  # SpO2 84 for 12 s: a high-priority alarm
            chan.actions.alarms.observe(VitalSample("IR1", "mon-1", clock(), {Param.SPO2: 84}, i))
            clock.advance(1)
        [alarm] = chan.actions.alarms.active("IR1")
        since = clock.advance(30)
        await send(chan, "nurse1", id="2", action="ack_alarm", alarm_id=alarm.alarm_id)
        clock.advance(30)
        await send(
            chan, "nurse1", id="3", action="adjust_limit", room="IR1", parameter="spo2",
            low=86, high=None, reason="COPD",
        )  # fmt: skip
        async with asyncio.timeout(10):  # the store follows the local alarm journal
            await chan.actions.alarms.drain()

    # An action that leaves no case or alarm event, written as its command writes it.
    replayed_at = clock.advance(60)

    async def replay(session: Any) -> None:
        await audit_log.record(
            session, at=replayed_at, user="it1", source="cli", action="hl7_replay",
            subject="hl7 outbound #17", detail={"control_id": "C17"},
        )  # fmt: skip

    await cases.db.write(replay)

    async with cases.db.session() as s:
        trail = await audit_trail(s)
        nurse = await audit_trail(s, user="nurse1")
        later = await audit_trail(s, since=since)
        latest = await audit_trail(s, limit=2)
    people = [(e.user, e.source, e.action) for e in trail if e.user != "system"]
    assert people == [
        ("his", "hl7", "CaseScheduled"),
        ("tech1", "mqtt", "CheckedIn"),
        ("nurse1", "mqtt", "alarm_acknowledged"),
        ("nurse1", "mqtt", "alarm_limit_adjusted"),
        ("it1", "cli", "hl7_replay"),
    ]
    assert trail[-1].at == replayed_at and trail[-1].subject == "hl7 outbound #17"
    assert [e.at for e in trail] == sorted(e.at for e in trail)
    assert [e.action for e in nurse] == ["alarm_acknowledged", "alarm_limit_adjusted"]
    assert nurse[0].subject == f"alarm {alarm.alarm_id} in IR1"
    assert nurse[1].detail["low"] == 86 and nurse[1].detail["reason"] == "COPD"
    assert [e.action for e in later] == ["alarm_acknowledged", "alarm_limit_adjusted", "hl7_replay"]
    assert latest == trail[-2:]

    # The same at the terminal, with the service stopped.
    monkeypatch.setenv("PROCSUITE_DB_URL", db_url)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit", "--user", "nurse1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "nurse1" in lines[0] and "alarm_acknowledged" in lines[0] and alarm.alarm_id in lines[0]
    assert "alarm_limit_adjusted" in lines[1]
    assert await asyncio.to_thread(main, ["audit", "--json", "--limit", "1"]) == 0
    [last] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert last["user"] == "it1" and last["action"] == "hl7_replay"
    assert await asyncio.to_thread(main, ["audit", "--since", "yesterday"]) == 2


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_an_hl7_replay_over_the_command_channel_is_audited_with_its_user(
    cases: CaseService, clock: Any
) -> None:
    """IT queues a quarantined message again from the dashboard: the audit names who, from
    where, when and which message, written in the replay's own transaction."""
    from suite.store.hl7 import Hl7OutboxRow

    await cases.execute("k1", schedule(clock(), room="IR1"), actor="his", source=Source.HL7)
    now = clock()

    async def quarantined(session: Any) -> int:
        row = Hl7OutboxRow(
            destination="his:2576", seq=1, case_id="k1", message_type="ORU^R01",
            control_id="C1", raw=b"MSH|^~\\&|PROCSUITE|IR|HIS|HOSPITAL|20261124||ORU^R01|C1|P|2.5\r",
            status="quarantined", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id

    row_id = await cases.db.write(quarantined)
    users = {**USERS, "it1": Role.IT}
    async with channel(cases, clock) as chan:
        chan.actions.users = users
        replay_at = clock.advance(60)
        reply = await send(chan, "it1", id="r", action="hl7_replay", message_id=row_id)
    async with cases.db.session() as s:
        trail = await audit_trail(s, user="it1")
    assert [(e.user, e.source, e.action, e.subject, e.at) for e in trail] == [
        ("it1", "mqtt", "hl7_replay", f"hl7 outbound #{row_id}", replay_at)
    ]
    assert trail[0].detail["control_id"] == reply["result"]["control_id"] != "C1"
