"""The command channel without a broker: roles, refusals in words, every action applied
with the user and source=mqtt, redelivery, discharge using the alarms' stable-vitals time."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from adapters.mqtt.command_codec import field_word
from adapters.mqtt.commands import CommandChannel
from suite.app.alarm_service import AlarmService
from suite.app.case_service import CaseService
from suite.domain import commands as c
from suite.domain.alarms.config import AlarmConfig
from suite.domain.alarms.engine import VitalSample
from suite.domain.alarms.parameters import Param
from suite.domain.envelope import Source
from suite.domain.values import Phase
from suite.settings import Role
from suite.store import alarms as alarm_store
from suite.store import cases as case_store
from tests.actions import actions_for
from tests.scenarios import full_case, schedule

USERS = {"nurse1": Role.NURSE, "tech1": Role.TECHNOLOGIST, "dr1": Role.RADIOLOGIST, "it1": Role.IT}


@contextlib.asynccontextmanager
async def channel(cases: CaseService, clock) -> AsyncIterator[tuple[CommandChannel, list[int]]]:
    alarms = AlarmService(
        db=cases.db, bus=cases.bus, cases=cases, clock=clock,
        config=AlarmConfig(stale_feed_s=3600, clock_skew_s=3600), rooms=["IR1"], tick_s=3600,
    )  # fmt: skip
    resyncs: list[int] = []
    actions = actions_for(cases, alarms, clock=clock, users=USERS)
    actions.resync_listeners.append(lambda: resyncs.append(1))
    chan = CommandChannel(actions=actions)
    task = asyncio.create_task(alarms.run())
    try:
        await asyncio.wait_for(alarms.loaded.wait(), 5)
        yield chan, resyncs
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send(chan: CommandChannel, user: str, **command: Any) -> dict[str, Any]:
    reply = json.loads(await chan.handle(user, json.dumps(command).encode()))
    assert reply["id"] == command.get("id", "")
    return reply


@pytest.mark.asyncio
async def test_steps_are_logged_with_the_user_over_mqtt_and_refusals_name_the_rule(
    cases, clock
) -> None:
    await cases.execute("k1", schedule(clock(), room="IR1"), actor="his", source=Source.HL7)
    async with channel(cases, clock) as (chan, _):
        ok = await send(chan, "tech1", id="c-1", action="log_step", case_id="k1", step="check-in")
        assert ok == {
            "id": "c-1",
            "ok": True,
            "result": {
                "case_id": "k1",
                "phase": "checked_in",
                "version": 2,
                "events": ["CheckedIn"],
            },
        }
        # The same command delivered again (QoS 1) is answered, not applied twice.
        assert (
            await send(chan, "tech1", id="c-1", action="log_step", case_id="k1", step="check-in")
            == ok
        )

        refused = await send(
            chan,
            "tech1",
            id="c-2",
            action="log_step",
            case_id="k1",
            step="trocar",
            fields={"level": "L1"},
        )
        assert refused["ok"] is False and refused["rule"] == "guard"
        assert "time-out" in refused["error"]

        role = await send(chan, "tech1", id="c-3", action="log_step", case_id="k1", step="time-out",
                          fields={"signed_by": "tech1"})  # fmt: skip
        assert role == {
            "id": "c-3", "ok": False, "rule": "permission",
            "error": "log_step time-out is not allowed for tech1 (technologist); it needs admin or radiologist",
        }  # fmt: skip
        bad = await send(
            chan,
            "tech1",
            id="c-4",
            action="log_step",
            case_id="k1",
            step="labs",
            fields={"inr": 1.1, "platelets": 200},
        )
        assert bad["ok"] is False and "platelets" in bad["error"]
        unknown_case = await send(
            chan, "tech1", id="c-5", action="log_step", case_id="nope", step="check-in"
        )
        assert unknown_case["rule"] == "unknown-case"
        labs = await send(chan, "nurse1", id="c-6", action="log_step", case_id="ACC0001", step="labs",
                          fields={"inr": 1.1, "platelets_10e9_per_l": 200}, at=clock().isoformat())  # fmt: skip
        assert labs["ok"] is True, labs
    async with cases.db.session() as s:
        rows = await case_store.event_rows(s, "k1")
    assert [(r.kind, r.actor, r.source) for r in rows[1:]] == [
        ("CheckedIn", "tech1", "mqtt"),
        ("LabsRecorded", "nurse1", "mqtt"),
    ]


@pytest.mark.asyncio
async def test_who_is_refused_and_what_cannot_be_read(cases, clock) -> None:
    async with channel(cases, clock) as (chan, resyncs):
        assert (await send(chan, "eve", id="x", action="resync"))["rule"] == "unknown-user"
        assert (await send(chan, "it1", id="y", action="resync"))["ok"] is True
        assert resyncs == [1]
        assert (await send(chan, "it1", id="z", action="ack_alarm", alarm_id="a-1"))[
            "rule"
        ] == "permission"
        assert (await send(chan, "nurse1", id="w", action="fly"))["rule"] == "unknown-action"
        assert (await send(chan, "nurse1", id="v", action="ack_alarm"))[
            "error"
        ] == "ack_alarm needs alarm_id (text)"
        unreadable = json.loads(await chan.handle("nurse1", b"{oops"))
        assert unreadable["ok"] is False and unreadable["rule"] == "bad-command"
        gone = await send(chan, "nurse1", id="u", action="ack_alarm", alarm_id="a-404")
        assert gone["rule"] == "unknown-alarm"


@pytest.mark.asyncio
async def test_a_nurse_acknowledges_and_adjusts_a_limit_with_a_reason(cases, clock) -> None:
    async with channel(cases, clock) as (chan, _):
        alarms = chan.actions.alarms
        for i in range(12):
            alarms.observe(VitalSample("IR1", "mon-1", clock(), {Param.SPO2: 84}, i))
            clock.advance(1)
        [alarm] = alarms.active("IR1")
        ack = await send(chan, "nurse1", id="a", action="ack_alarm", alarm_id=alarm.alarm_id)
        assert ack["ok"] is True and ack["result"]["acknowledged_by"] == "nurse1"
        adj = await send(
            chan,
            "nurse1",
            id="b",
            action="adjust_limit",
            room="IR1",
            parameter="spo2",
            low=86,
            high=None,
            reason="COPD",
        )
        assert adj == {
            "id": "b",
            "ok": True,
            "result": {"room": "IR1", "parameter": "spo2", "low": 86.0, "high": None},
        }
        no_reason = await send(
            chan,
            "nurse1",
            id="c",
            action="adjust_limit",
            room="IR1",
            parameter="spo2",
            low=86,
            high=None,
        )
        assert no_reason["ok"] is False and no_reason["rule"] == "alarm-limit"
        absurd = await send(
            chan,
            "nurse1",
            id="d",
            action="adjust_limit",
            room="IR1",
            parameter="spo2",
            low=20,
            high=None,
            reason="x",
        )
        assert absurd["rule"] == "alarm-limit"
        wrong = await send(
            chan,
            "nurse1",
            id="e",
            action="adjust_limit",
            room="IR1",
            parameter="bp",
            low=1,
            high=2,
            reason="x",
        )
        assert wrong["rule"] == "bad-command" and "unknown parameter 'bp'" in wrong["error"]
        await asyncio.wait_for(alarms.drain(), 10)  # acknowledged from the local journal
    async with cases.db.session() as s:
        events = await alarm_store.events_for(s, alarm_id=alarm.alarm_id)
        assert ("acknowledged", "nurse1") in [(e.event, e.user) for e in events]


@pytest.mark.asyncio
async def test_schedule_case_over_mqtt(cases, clock) -> None:
    async with channel(cases, clock) as (chan, _):
        fields = {"mrn": "M77", "name": "DOE^JANE", "birth_date": "1950-02-03", "sex": "F",
                  "accession": "A77", "procedure": "vertebroplasty", "levels": "L2", "room": "IR1"}  # fmt: skip
        reply = await send(chan, "tech1", id="s", action="schedule_case", fields=fields)
        assert reply["ok"] is True
        case = cases.get(reply["result"]["case_id"])
        assert case is not None and case.order.accession == "A77" and case.phase is Phase.SCHEDULED
        bad = await send(
            chan, "tech1", id="t", action="schedule_case", fields={**fields, "levels": "Q9"}
        )
        assert bad["ok"] is False and "Q9" in bad["error"]


@pytest.mark.asyncio
async def test_discharge_over_mqtt_waits_for_vitals_stable_since_the_last_alarm(
    cases, clock
) -> None:
    await cases.execute("k1", schedule(clock(), room="IR1"), actor="his", source=Source.HL7)
    commands = list(full_case(clock()))
    for command in commands[:-1]:  # up to recovery
        clock.now = command.at
        await cases.execute("k1", command, actor="tech1", source=Source.TUI)
    recovery = clock()
    async with channel(cases, clock) as (chan, _):
        # In recovery the SpO2 dips for a while; the alarm ends 30 min into recovery.
        clock.now = recovery + timedelta(minutes=10)
        for i in range(1300):
            value = 85 if i < 1200 else 97
            chan.actions.alarms.observe(
                VitalSample("IR1", "mon-1", clock(), {Param.SPO2: value}, i)
            )
            clock.advance(1)
        for a in chan.actions.alarms.active("IR1"):
            await chan.actions.alarms.acknowledge(a.alarm_id, user="nurse1")
        stable = chan.actions.alarms.vitals_stable_since("IR1")
        assert stable is not None and stable > recovery + timedelta(minutes=29)
        clock.now = recovery + timedelta(minutes=61)  # an hour after recovery, not after the alarm
        early = await send(
            chan, "nurse1", id="d1", action="log_step", case_id="k1", step="discharge"
        )
        assert early["ok"] is False and early["rule"] == "guard" and "stable" in early["error"]
        clock.now = stable + timedelta(minutes=61)
        ok = await send(chan, "nurse1", id="d2", action="log_step", case_id="k1", step="discharge")
        assert ok["ok"] is True and ok["result"]["phase"] == "discharged"


def test_json_fields_become_the_words_people_type() -> None:
    assert field_word("level", "L1") == "level=L1"
    assert field_word("volume_ml", 3.5) == "volume_ml=3.5"
    assert field_word("patient_confirmed", True) == "patient_confirmed=true"
    assert field_word("levels", ["T12", "L1"]) == "levels=T12,L1"
    drugs = [
        {"drug": "midazolam", "dose": 1, "unit": "mg"},
        {"drug": "fentanyl", "dose": 50, "unit": "mcg"},
    ]
    assert field_word("drugs", drugs) == "drugs=midazolam:1:mg,fentanyl:50:mcg"
    assert c.Discharge  # the command the discharge test relies on


@pytest.mark.asyncio
async def test_it_replays_an_hl7_message_and_assigns_an_image_over_mqtt(cases, clock) -> None:
    from suite.store.dicom import DicomInstanceRow
    from suite.store.hl7 import Hl7OutboxRow

    await cases.execute("k1", schedule(clock(), room="IR1"), actor="his", source=Source.HL7)

    async def seed(session) -> None:
        session.add(
            Hl7OutboxRow(
                destination="his:2576", seq=1, case_id="k1", message_type="ORU^R01",
                control_id="OLD", raw=b"MSH|^~\\&|PROCSUITE|IR|HIS|H|20261124||ORU^R01|OLD|P|2.5\r",
                status="quarantined", created_at=clock(), updated_at=clock(),
            )
        )  # fmt: skip
        session.add(
            DicomInstanceRow(
                sop_instance_uid="1.2.3.4", sop_class_uid="1.2.840.10008.5.1.4.1.1.12.1",
                study_uid="1.2.3", series_uid="1.2.3.1", path="x.dcm", size_bytes=1,
                transfer_syntax="1.2.840.10008.1.2.1", calling_ae="FLUORO", received_at=clock(),
            )
        )  # fmt: skip

    await cases.db.write(seed)
    async with channel(cases, clock) as (chan, _):
        nurse = await send(chan, "nurse1", id="h0", action="hl7_replay", message_id=1)
        assert nurse["rule"] == "permission"
        replay = await send(chan, "it1", id="h1", action="hl7_replay", message_id=1)
        assert replay["ok"] is True and replay["result"]["message_type"] == "ORU^R01"
        again = await send(chan, "it1", id="h2", action="hl7_replay", message_id="#1")
        assert again["ok"] is False and "already waiting to be sent" in again["error"]
        missing = await send(chan, "it1", id="h3", action="hl7_replay", message_id=99)
        assert missing["error"] == "no outbound message #99"

        assigned = await send(
            chan,
            "it1",
            id="d1",
            action="dicom_assign",
            sop_instance_uid="1.2.3.4",
            case_id="ACC0001",
        )
        assert assigned == {
            "id": "d1",
            "ok": True,
            "result": {"sop_instance_uid": "1.2.3.4", "case_id": "k1", "previous_case_id": None},
        }
        unknown = await send(
            chan, "it1", id="d2", action="dicom_assign", sop_instance_uid="9.9", case_id="k1"
        )
        assert unknown["rule"] == "dicom-assign" and "9.9" in unknown["error"]
    async with cases.db.session() as s:
        row = await s.get(Hl7OutboxRow, 1)
        image = (await s.exec(select(DicomInstanceRow))).one()
    assert (
        row is not None
        and row.status == "pending"
        and row.control_id == replay["result"]["control_id"]
    )
    assert row.raw.split(b"|")[9] == row.control_id.encode()
    assert image.case_id == "k1" and image.match_rule == "manual"
