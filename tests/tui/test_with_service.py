"""Issue 7's "Done when", end to end: dashboards connected over MQTT to a running service
(real mosquitto, SQLite in tmp_path), driven with keys, then the store checked."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from procsuite.bootstrap import Service
from suite.domain import events as e
from suite.domain.commands import CheckIn
from suite.domain.envelope import Source
from suite.domain.values import Phase
from suite.store import alarms as alarm_store
from suite.store import cases as case_store
from tests.scenarios import schedule
from tests.tui.conftest import screen_text, shows, until, words
from tests.tui.running_service import (
    SITE,
    mosquitto,
    running,
    service_settings,
    terminal,
)
from tui.app import SuiteApp
from tui.screens.forms import StepForm
from tui.views import Reply

pytestmark = pytest.mark.mosquitto


async def log_step(
    app: SuiteApp, pilot: Pilot[None], step: str, *, key: str = "n", **typed: str
) -> Reply:
    """Log a step from the case screen: `n` (the suggested next step) or `l` and its name,
    type the fields that are not prefilled, Ctrl+S; returns the service's reply."""
    before = len(app.replies)
    if key == "n":
        await pilot.press("n")
    else:
        await pilot.press("l", *step, "enter")
    await until(
        pilot,
        lambda: isinstance(app.screen, StepForm) and bool(app.screen.query(Input)),
        what=f"the {step} form",
    )
    form = app.screen
    assert isinstance(form, StepForm)
    assert form.step == step, f"the form is for {form.step}, expected {step}"
    for name, value in typed.items():
        form.query_one(f"#f-{name}", Input).focus()
        await pilot.press("end", "ctrl+u", *value)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: len(app.replies) > before, what=f"the reply to {step}")
    return app.replies[-1][1]


async def must_log(app: SuiteApp, pilot: Pilot[None], step: str, **kw: str) -> str:
    reply = await log_step(app, pilot, step, **kw)
    assert reply.ok, f"{step}: {reply.error} ({reply.rule})"
    return str(reply.result["phase"])


async def open_case(
    service: Service, *, room: str = "IR1", accession: str, check_in: bool = False
) -> str:
    """A case scheduled in `room` as if by the hospital's order (HL7), and checked in."""
    assert service.ctx is not None
    cases = service.ctx.cases
    case_id = cases.new_case_id()
    now = datetime.now(UTC)
    await cases.execute(
        case_id,
        schedule(now - timedelta(minutes=1), room=room, accession=accession),
        actor="his",
        source=Source.HL7,
    )
    if check_in:
        await cases.execute(case_id, CheckIn(at=now), actor="adt", source=Source.HL7)
    return case_id


@pytest.mark.asyncio
async def test_a_full_kyphoplasty_is_logged_from_the_case_screen_and_stored(
    tmp_path: Path,
) -> None:
    with mosquitto() as broker:
        settings = service_settings(broker, tmp_path, workflow={"recovery_stable_vitals_s": 1.0})
        async with running(settings) as service:
            case_id = await open_case(service, accession="ACC-TUI-1")
            async with terminal(broker, "tech1") as (app, pilot):
                await pilot.press("enter")  # IR1, the first room on the board
                await shows(pilot, "IR1: no open case")
                await shows(pilot, "Scheduled in IR1")
                await until(  # the booked case, checked in from here
                    pilot,
                    lambda: "1. " in screen_text(app) and "ACC-TUI-1  MRN0001" in screen_text(app),
                    what="the scheduled case in the list",
                )
                await pilot.press("n")
                await shows(pilot, "IR1 kyphoplasty T12, L1")
                assert app.replies[-1][1].result["phase"] == "checked_in"
                for _ in range(6):  # consent ... iv_access, each the suggested next item
                    await must_log(app, pilot, "checklist")
                await must_log(app, pilot, "labs", inr="1.0", platelets_10e9_per_l="250")
                # Needles are locked until the time-out: refused, and the rule shown in words.
                refused = await log_step(app, pilot, "trocar", key="l")
                assert not refused.ok and refused.rule == "guard"
                text = words(await shows(pilot, "REFUSED trocar on IR1"))
                assert "trocar placement is locked until the time-out is signed [guard]" in text
                # Only a radiologist signs the time-out.
                refused = await log_step(
                    app, pilot, "time-out", patient_confirmed="true", side="bilateral"
                )
                assert refused.rule == "permission"
                assert "it needs admin or radiologist" in words(await shows(pilot, "REFUSED"))

            async with terminal(broker, "dr1") as (app, pilot):
                await pilot.press("enter")
                await shows(pilot, "IR1 kyphoplasty T12, L1")
                phase = await must_log(
                    app, pilot, "time-out", patient_confirmed="true", side="bilateral"
                )
                assert phase == "time_out"

            async with terminal(broker, "tech1") as (app, pilot):
                await pilot.press("enter")
                await shows(pilot, "phase TIME OUT")
                await must_log(app, pilot, "sedation", drugs="midazolam:1:mg,fentanyl:50:ug")
                await must_log(app, pilot, "position")
                await must_log(app, pilot, "local", drug="lidocaine", volume_ml="10")
                for level in ("T12", "L1"):
                    await must_log(app, pilot, "trocar")
                    await must_log(app, pilot, "confirm-trocar")
                    await must_log(app, pilot, "balloon", pressure_psi="180", volume_ml="3")
                    await must_log(app, pilot, "balloon-out")
                    await shows(pilot, f"balloon on {level} deflated and removed")
                await must_log(app, pilot, "mix")
                await shows(pilot, "working time left")  # the countdown runs
                await must_log(app, pilot, "cement", volume_ml="4")
                assert await must_log(app, pilot, "cement", volume_ml="3.5") == "cement_injection"
                await must_log(app, pilot, "image", sop_instance_uid="1.2.840.99.7")
                await shows(pilot, "cement L1: 1 image(s) (XA)")

            async with terminal(broker, "dr1") as (app, pilot):
                await pilot.press("enter")
                await shows(pilot, "IR1 kyphoplasty T12, L1")
                phase = await must_log(
                    app, pilot, "imaging-check", modality="fluoroscopy", result="satisfactory"
                )
                assert phase == "imaging_check"

            async with terminal(broker, "tech1") as (app, pilot):
                await pilot.press("enter")
                await shows(pilot, "phase IMAGING CHECK")
                await must_log(app, pilot, "close")
                assert await must_log(app, pilot, "recovery") == "recovery"
                await asyncio.sleep(1.1)  # the configured stable-vitals time in recovery
                assert await must_log(app, pilot, "discharge") == "discharged"

            assert service.ctx is not None
            assert service.ctx.cases.get(case_id).phase is Phase.DISCHARGED  # type: ignore[union-attr]
            async with service.ctx.db.session() as session:
                records = await case_store.load(session, case_id)

    by_kind: dict[type, list] = {}
    for r in records:
        by_kind.setdefault(type(r.event), []).append(r)
    # Who logged what, through which door.
    assert [(r.actor, r.source) for r in by_kind[e.TimeOutSigned]] == [("dr1", Source.MQTT)]
    assert by_kind[e.TimeOutSigned][0].event.signed_by == "dr1"
    assert [r.actor for r in by_kind[e.ImagingCheckRecorded]] == ["dr1"]
    assert {r.actor for r in by_kind[e.TrocarPlaced]} == {"tech1"}
    assert len(by_kind[e.ChecklistItemRecorded]) == 6
    assert by_kind[e.LabsRecorded][0].event.inr == 1.0
    assert [d.drug for d in by_kind[e.SedationGiven][0].event.drugs] == ["midazolam", "fentanyl"]
    assert [(str(r.event.level), r.event.pressure_psi) for r in by_kind[e.BalloonInflated]] == [
        ("T12", 180.0),
        ("L1", 180.0),
    ]
    assert [(str(r.event.level), r.event.volume_ml) for r in by_kind[e.CementInjected]] == [
        ("T12", 4.0),
        ("L1", 3.5),
    ]
    assert [r.event.step for r in by_kind[e.ImageLinked]] == ["cement"]
    assert len(by_kind[e.PatientDischarged]) == 1
    assert records[0].actor == "his"
    assert {r.source for r in records[1:]} == {Source.MQTT}


def vitals(at: datetime, seq: int, **values: float) -> bytes:
    ts = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"ts": ts, "seq": seq, "values": values}).encode()


async def low_spo2_from_a_monitor(port: int) -> None:
    """A monitor in IR1 reporting SpO2 under 90 % for longer than the 2 s delay."""
    topic = f"procsuite/{SITE}/rooms/IR1/vitals/mon-1"
    t0 = datetime.now(UTC)
    async with aiomqtt.Client("127.0.0.1", port, identifier="monitor-ir1") as monitor:
        for seq, (dt, spo2) in enumerate(((0, 97), (1, 86), (3.5, 85))):
            await monitor.publish(
                topic, vitals(t0 + timedelta(seconds=dt), seq, spo2=spo2, hr=88), qos=1
            )


@pytest.mark.asyncio
async def test_a_nurse_acknowledges_a_monitor_alarm_and_the_store_records_her(
    tmp_path: Path,
) -> None:
    with mosquitto() as broker:
        settings = service_settings(broker, tmp_path)
        async with running(settings) as service:
            case_id = await open_case(service, accession="ACC-TUI-2", check_in=True)
            async with terminal(broker, "nurse1") as (app, pilot):
                await pilot.press("v")  # vitals and alarms of IR1
                await shows(pilot, "IR1 vitals and alarms")
                await low_spo2_from_a_monitor(broker.port)
                text = await shows(pilot, "!!! HIGH IR1 SpO2")  # the banner, on every screen
                alarm = next(a for a in app.model.active_alarms("IR1") if a.kind.startswith("spo2"))
                assert alarm.case_id == case_id and "ACTIVE" in text
                await pilot.press("a")
                await shows(pilot, f"DONE acknowledge high alarm '{alarm.message}'")
                await shows(pilot, "ACK by nurse1")
            assert service.ctx is not None
            async with service.ctx.db.session() as session:
                stored = await alarm_store.events_for(session, alarm_id=alarm.alarm_id)
    assert [(x.event, x.user, x.case_id) for x in stored][:2] == [
        ("raised", None, case_id),
        ("acknowledged", "nurse1", case_id),
    ]


@pytest.mark.asyncio
async def test_a_technologist_is_refused_acknowledging_when_it_is_nurse_only(
    tmp_path: Path,
) -> None:
    with mosquitto() as broker:
        # The site's policy: only nurses acknowledge (admins always may).
        settings = service_settings(
            broker, tmp_path, mqtt={"permissions": {"ack_alarm": ["nurse"]}}
        )
        async with running(settings) as service:
            await open_case(service, accession="ACC-TUI-3", check_in=True)
            async with terminal(broker, "tech1") as (app, pilot):
                await pilot.press("v")
                await low_spo2_from_a_monitor(broker.port)
                await shows(pilot, "!!! HIGH IR1 SpO2")
                alarm = app.model.active_alarms("IR1")[0]
                await pilot.press("a")
                text = words(await shows(pilot, "REFUSED acknowledge high alarm"))
                assert (
                    "ack_alarm is not allowed for tech1 (technologist); it needs nurse [permission]"
                    in text
                )
                assert "ACTIVE" in text  # still waiting for a nurse
            assert service.ctx is not None
            async with service.ctx.db.session() as session:
                stored = await alarm_store.events_for(session, alarm_id=alarm.alarm_id)
    assert "acknowledged" not in [x.event for x in stored]
