"""Issue 17's "Done when", end to end: dashboards over MQTT on a running service (real
mosquitto, SQLite in tmp_path), driven with keys; the store is checked afterwards."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession
from textual.pilot import Pilot

from simulators.clock import SimClock
from suite.domain import commands as c
from suite.domain import events as e
from suite.domain.checklist import ChecklistItem
from suite.domain.envelope import Source
from suite.domain.values import Phase
from suite.store import cases as case_store
from suite.store.dicom import DicomInstanceRow
from tests.tui.conftest import screen_text, shows, until
from tests.tui.running_service import SITE, mosquitto, running, service_settings, terminal
from tests.tui.test_with_service import open_case
from tui.app import SuiteApp
from tui.mqtt_client import MqttSuiteClient
from tui.screens.refused import RefusedScreen
from tui.screens.step_form import ChecklistForm, StepForm

pytestmark = pytest.mark.mosquitto


async def _received_image(session: AsyncSession, case_id: str) -> None:
    session.add(
        DicomInstanceRow(
            sop_instance_uid="1.2.840.99.7", sop_class_uid="1.2.840.10008.5.1.4.1.1.12.1",
            study_uid="1.2.840.99", series_uid="1.2.840.99.3", modality="XA",
            path="x/1.2.840.99.7.dcm", size_bytes=1, transfer_syntax="1.2.840.10008.1.2.1",
            calling_ae="FLUORO_IR1", case_id=case_id, match_rule="accession",
            received_at=datetime.now(UTC),
        )
    )  # fmt: skip


class Keys:
    """Presses keys and counts them (the technologist's keystrokes of the walk)."""

    def __init__(self, pilot: Pilot[None]) -> None:
        self.pilot = pilot
        self.count = 0

    async def __call__(self, *keys: str) -> None:
        for key in keys:
            self.count += 1
            await self.pilot.press(key)


async def logged(app: SuiteApp, pilot: Pilot[None], keys: Keys, *pressed: str) -> str:
    """Press `n` (the suggested step), then `pressed` in its form; the phase after it."""
    before = len(app.replies)
    await keys("n")
    await until(
        pilot,
        lambda: isinstance(app.screen, StepForm | ChecklistForm) and app.screen.is_mounted,
        what="the suggested step's form",
    )
    await pilot.pause()
    form = app.screen
    await keys(*pressed)
    await until(pilot, lambda: len(app.replies) > before and app.screen is not form, what="sent")
    reply = app.replies[-1][1]
    assert reply.ok, f"{app.replies[-1][0]}: {reply.error} ({reply.rule})"
    return str(reply.result["phase"])


@pytest.mark.asyncio
async def test_a_two_level_kyphoplasty_is_logged_in_at_most_90_technologist_keys(
    tmp_path: Path,
) -> None:
    with mosquitto() as broker:
        settings = service_settings(broker, tmp_path, workflow={"recovery_stable_vitals_s": 1.0})
        async with running(settings) as service:
            assert service.ctx is not None
            cases = service.ctx.cases
            case_id = await open_case(service, accession="ACC-WALK")
            async with terminal(broker, "tech1") as (app, pilot):
                keys = Keys(pilot)
                await keys("enter")  # IR1, the first room on the board
                await shows(pilot, "ACC-WALK")
                await keys("n")  # check in the room's next case
                await shows(pilot, "IR1 kyphoplasty T12, L1")
                # The whole checklist on one form, one key per item (5 twice: not applicable).
                await logged(app, pilot, keys, "1", "2", "3", "4", "5", "5", "6", "ctrl+s")
                await until(pilot, lambda: app.replies[-1][0].startswith("checklist"), what="x")
                await logged(app, pilot, keys, *"1.0", "enter", *"250", "ctrl+s")  # labs
                await shows(pilot, "Time-out: NOT SIGNED - needle steps locked")
                await keys("n")  # the time-out is the radiologist's: shown, not offered
                await shows(pilot, "The radiologist signs it on their dashboard")
                assert not isinstance(app.screen, StepForm)

            async with terminal(broker, "dr1") as (rad, rpilot):
                await rpilot.press("enter")
                await shows(rpilot, "IR1 kyphoplasty T12, L1")
                rkeys = Keys(rpilot)
                # patient_confirmed is chosen (never prefilled), the side too; the rest is
                # the order's.
                phase = await logged(
                    rad, rpilot, rkeys, "t", "enter", "enter", "enter", "b", "ctrl+s"
                )
                assert phase == "time_out"
                assert cases.get(case_id).phase is Phase.TIME_OUT  # type: ignore[union-attr]

            async with terminal(broker, "tech1") as (app, pilot):
                before = keys.count
                keys.pilot = pilot
                await keys("enter")
                await shows(pilot, "phase TIME OUT")
                # Sedation: drug rows from the site's list (a letter picks), doses typed.
                await logged(
                    app, pilot, keys, "m", "enter", "1", "enter", "f", "enter", *"50", "ctrl+s"
                )
                await logged(app, pilot, keys, "ctrl+s")  # position: prone, prefilled
                await logged(app, pilot, keys, "l", "enter", *"10", "ctrl+s")  # local
                for level in ("T12", "L1"):
                    await logged(app, pilot, keys, "ctrl+s")  # trocar: level, approach prefilled
                    await logged(app, pilot, keys, "ctrl+s")  # confirm
                    await logged(app, pilot, keys, *"180", "enter", "3", "ctrl+s")  # balloon
                    await logged(app, pilot, keys, "ctrl+s")  # balloon out
                    await shows(pilot, f"balloon on {level} deflated and removed")
                await logged(app, pilot, keys, "ctrl+s")  # mix: PMMA
                await logged(app, pilot, keys, "4", "ctrl+s")  # cement T12
                assert await logged(app, pilot, keys, *"3.5", "ctrl+s") == "cement_injection"
                assert keys.count > before
                # The fluoroscopy unit sent an image, matched to the case but not linked to a
                # step: the image step offers it (picked, its UID never typed).
                await service.ctx.db.write(lambda session: _received_image(session, case_id))
                await until(
                    pilot,
                    lambda: bool(app.model.rooms["IR1"].case.received_images),  # type: ignore[union-attr]
                    what="the received image in the room state (republished within 10 s)",
                    timeout_s=25,
                )
                await logged(app, pilot, keys, "right", "ctrl+s")  # image: the one received
            async with terminal(broker, "dr1") as (rad, rpilot):
                await rpilot.press("enter")
                await shows(rpilot, "cement L1: 1 image(s)")
                await logged(rad, rpilot, Keys(rpilot), "f", "enter", "s", "ctrl+s")

            async with terminal(broker, "tech1") as (app, pilot):
                keys.pilot = pilot
                await keys("enter")
                await shows(pilot, "phase IMAGING CHECK")
                await logged(app, pilot, keys, "ctrl+s")  # close
                assert await logged(app, pilot, keys, "ctrl+s") == "recovery"
                await asyncio.sleep(1.1)  # the configured stable-vitals time in recovery
                assert await logged(app, pilot, keys, "ctrl+s") == "discharged"

            async with service.ctx.db.session() as session:
                records = await case_store.load(session, case_id)

    print(f"technologist keystrokes, check-in to discharge: {keys.count}")
    assert keys.count <= 90, keys.count
    kinds = [type(r.event) for r in records]
    assert kinds.count(e.ChecklistItemRecorded) == 6
    assert kinds.count(e.CementInjected) == 2 and kinds.count(e.PatientDischarged) == 1
    sedation = next(r.event for r in records if isinstance(r.event, e.SedationGiven))
    assert [(d.drug, d.dose, d.unit) for d in sedation.drugs] == [
        ("midazolam", 1.0, "mg"),
        ("fentanyl", 50.0, "mcg"),
    ]
    image = next(r for r in records if isinstance(r.event, e.ImageLinked))
    assert image.actor == "tech1" and image.event.sop_instance_uid == "1.2.840.99.7"
    local = next(r.event for r in records if isinstance(r.event, e.LocalAnestheticGiven))
    assert local.drug == "lidocaine 1%"
    time_out = next(r for r in records if isinstance(r.event, e.TimeOutSigned))
    assert time_out.actor == "dr1" and time_out.event.signed_by == "dr1"


@pytest.mark.asyncio
async def test_a_form_sent_after_another_user_logged_the_same_item_is_already_done(
    tmp_path: Path,
) -> None:
    with mosquitto() as broker:
        async with running(service_settings(broker, tmp_path)) as service:
            assert service.ctx is not None
            cases = service.ctx.cases
            case_id = await open_case(service, accession="ACC-STALE", check_in=True)
            async with terminal(broker, "tech1") as (app, pilot):
                await pilot.press("enter")
                await shows(pilot, "IR1 kyphoplasty T12, L1")
                await pilot.press("n")
                await until(pilot, lambda: isinstance(app.screen, ChecklistForm), what="form")
                await pilot.pause()
                await pilot.press("3")  # anticoagulants_held: done
                # Meanwhile the nurse records it from her own terminal.
                await cases.execute(
                    case_id,
                    c.RecordChecklistItem(
                        at=datetime.now(UTC), item=ChecklistItem.ANTICOAGULANTS_HELD
                    ),
                    actor="nurse1",
                    source=Source.MQTT,
                )
                await pilot.press("ctrl+s")
                text = await shows(pilot, "anticoagulants_held already done by nurse1 at")
                assert "nothing was stored" in text
                async with service.ctx.db.session() as session:
                    records = await case_store.load(session, case_id)
    held = [
        r
        for r in records
        if isinstance(r.event, e.ChecklistItemRecorded)
        and r.event.item is ChecklistItem.ANTICOAGULANTS_HELD
    ]
    assert [r.actor for r in held] == ["nurse1"]  # no second event


@pytest.mark.asyncio
async def test_an_unknown_user_is_refused_at_start(tmp_path: Path) -> None:
    with mosquitto() as broker:
        async with running(service_settings(broker, tmp_path)):
            client = MqttSuiteClient(broker.url, site=SITE, user="dr9", reply_timeout_s=15)
            app = SuiteApp(client, redraw_s=0.05)
            async with app.run_test(size=(100, 30)) as pilot:
                await until(pilot, lambda: isinstance(app.screen, RefusedScreen), what="refusal")
                await pilot.pause()
                text = screen_text(app)
                assert "REFUSED: user 'dr9'" in text and "not configured" in text
                await pilot.press("c", "i")  # nothing of the suite opens
                assert isinstance(app.screen, RefusedScreen)


@pytest.mark.asyncio
async def test_a_second_dashboard_on_a_simulated_day_is_not_stale(tmp_path: Path) -> None:
    # The service runs on simulated time, a day behind and 60 times faster than the wall.
    clock = SimClock(start=datetime.now(UTC) - timedelta(days=1, hours=3), speed=60)
    with mosquitto() as broker:
        settings = service_settings(broker, tmp_path)
        async with running(settings, clock=clock), terminal(broker, "nurse1") as (app, pilot):
            if True:
                await until(pilot, lambda: app.service_clock.anchored, what="the service clock")
                await asyncio.sleep(3)  # a few snapshots: the rate is measured
                app.redraw()
                await pilot.pause()
                await until(
                    pilot,
                    lambda: app.model.clock_rate > 10 and app.redraw() is None,
                    what="the clock rate",
                )
                text = screen_text(app)
                assert "STALE" not in text, text
                shown = app.now()
                assert abs((shown - clock.now()).total_seconds()) < 120  # a simulated minute
                await pilot.press("down", "v")
                assert "STALE" not in await shows(pilot, "IR2 vitals and alarms")
