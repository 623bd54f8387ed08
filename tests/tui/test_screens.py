"""The dashboard as a user drives it, against the in-process fake service (fixed data)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.tui.conftest import loaded_fake, make_app, ready, screen_text, shows, until, words
from tests.tui.suite_data import NOW, SPO2_LOW, alarm_event, iso, suite_states
from tests.tui.test_board import block
from tui.choice import Choice
from tui.fake_client import FakeSuiteClient
from tui.screens.step_form import StepForm
from tui.views import Reply

SEEN = suite_states()["IR1"]["case"]["version"]  # the version IR1's forms are filled on


@pytest.mark.asyncio
async def test_the_board_shows_every_room_case_phase_time_vitals_and_top_alarm(
    fake: FakeSuiteClient,
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        text = await shows(pilot, "IR3")
        ir1, ir2, ir3 = (block(text, room) for room in ("IR1", "IR2", "IR3"))
        assert "T12, L1" in ir1 and "CEMENT INJECTION" in ir1 and "case 26:30" in ir1
        assert "HR 96" in ir1 and "SpO2 86▼" in ir1 and "BP 118/72" in ir1
        assert "!!! HIGH SpO2 86" in ir1
        assert "vertebroplasty L2" in ir2 and "PRE PROCEDURE" in ir2 and "!! MED HR 124" in ir2
        assert "NO CASE" in ir3 and "! LOW monitor" in ir3


@pytest.mark.asyncio
async def test_the_board_updates_live(fake: FakeSuiteClient) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        fake.publish(
            "rooms/IR2/vitals/mon-1",
            {"ts": iso(NOW), "seq": 101, "values": {"hr": 131, "spo2": 95}},
        )
        text = await shows(pilot, "HR 131")
        assert "SpO2 95" in block(text, "IR2")


@pytest.mark.asyncio
async def test_a_high_priority_alarm_is_on_every_screen(fake: FakeSuiteClient) -> None:
    app = make_app(fake)
    # Raised 20 s ago, its audio paused a second ago for 2 min: both on the banner.
    banner = "!!! HIGH IR1 SpO2 86 % below 90 %  0:20 since onset  ACTIVE, audio paused 1:59"
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert banner in await shows(pilot, "Suite board")
        await pilot.press("enter")  # the case of the highlighted room (IR1)
        assert banner in await shows(pilot, "CEMENT 11:30 working time left")
        await pilot.press("v")
        assert banner in await shows(pilot, "IR1 vitals and alarms")
        await pilot.press("i")
        assert banner in await shows(pilot, "Integration (IT)")
        # Medium and low alarms stay on their rooms, not in the banner.
        assert "HR 124" not in screen_text(app).splitlines()[1]


@pytest.mark.asyncio
async def test_the_next_step_is_one_key_and_a_short_form(fake: FakeSuiteClient) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("enter", "n")
        await until(pilot, lambda: isinstance(app.screen, StepForm), what="the step form")
        form = app.screen
        assert isinstance(form, StepForm) and form.step == "cement"
        assert form.query_one("#f-level", Choice).value == "L1"  # T12 already has its cement
        assert form.query_one("#f-leakage", Choice).value == "none"  # a select, prefilled
        assert app.focused is form.query_one("#f-volume_ml", Input)  # the empty field first
        await pilot.press(*"3.5", "ctrl+s")
        await shows(pilot, "DONE cement on IR1")
        assert fake.sent == [
            (
                "log_step",
                {
                    "case_id": "K-100",
                    "step": "cement",
                    "fields": {"level": "L1", "volume_ml": "3.5", "leakage": "none"},
                    "seen_version": SEEN,
                },
            )
        ]


@pytest.mark.asyncio
async def test_a_refused_step_shows_the_rule_in_words(fake: FakeSuiteClient) -> None:
    rule = "imaging check needs an image received after the last cement injection"
    fake.answer = lambda action, fields: Reply("", False, error=rule, rule="guard")
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("enter", "l", *"imaging-", "enter")
        await until(pilot, lambda: isinstance(app.screen, StepForm), what="the step form")
        assert app.screen.step == "imaging-check"  # type: ignore[attr-defined]
        form = app.screen
        assert isinstance(form, StepForm)
        assert form.query_one("#f-modality", Choice).value == ""  # selects, none chosen yet
        await pilot.press("f", "enter", "s", "ctrl+s")  # a letter chooses
        await shows(pilot, "REFUSED imaging check needs an image")
        # The refusal keeps the form open with what it held.
        assert app.screen is form and form.query_one("#f-result", Choice).value == "satisfactory"
        assert fake.sent[0][1]["fields"]["signed_by"] == "tech1"  # the user, shown not typed


@pytest.mark.asyncio
async def test_a_typing_error_is_named_in_the_form_and_nothing_is_sent(
    fake: FakeSuiteClient,
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("enter", "n", *"lots", "ctrl+s")
        await until(
            pilot,
            lambda: "expected a number, got 'lots'" in screen_text(app),
            what="the form's error",
        )
        assert isinstance(app.screen, StepForm)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, StepForm), what="the form closed")
        assert fake.sent == []


@pytest.mark.asyncio
async def test_acknowledging_sends_the_alarm_and_shows_who_acknowledged(
    fake: FakeSuiteClient,
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("v")  # vitals and alarms of the highlighted room, IR1
        await shows(pilot, "IR1 vitals and alarms")
        await pilot.press("a")
        await shows(pilot, "DONE acknowledge high alarm 'SpO2 86 % below 90 %'")
        assert fake.sent == [("ack_alarm", {"alarm_id": "a-spo2"})]
        # The service then publishes the acknowledgement with the nurse's name.
        acked = alarm_event(SPO2_LOW, "acknowledged", at=NOW, user="nurse1")
        acked.update(state="acknowledged", acknowledged_by="nurse1", acknowledged_at=iso(NOW))
        fake.publish("alarms/IR1", acked)
        text = await shows(pilot, "ACK by nurse1 10:00")
        assert "acknowledged by nurse1: SpO2 86 % below 90 %" in text


@pytest.mark.asyncio
async def test_a_refused_acknowledgement_is_shown_with_the_rule() -> None:
    fake = loaded_fake(user="tech1")
    refusal = "ack_alarm is not allowed for tech1 (technologist); it needs admin or nurse"
    fake.answer = lambda action, fields: Reply("", False, error=refusal, rule="permission")
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("down", "v")  # IR2: its alarm is acknowledged already, but open
        await shows(pilot, "IR2 vitals and alarms")
        assert "ACK by nurse2" in screen_text(app)
        await pilot.press("a")  # acknowledging an acknowledged alarm says so, sends nothing
        await shows(pilot, "is already acknowledged by nurse2")
        assert fake.sent == []
        await pilot.press("[", "a")  # IR1: its SpO2 alarm waits for acknowledgement
        text = words(await shows(pilot, "REFUSED"))
        assert f"{refusal} [permission]" in text
        assert fake.sent == [("ack_alarm", {"alarm_id": "a-spo2"})]


@pytest.mark.asyncio
async def test_adjusting_a_limit_needs_a_reason(fake: FakeSuiteClient) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("v", "l")  # on the selected alarm's parameter, limits in force
        await shows(pilot, "in force: ")
        form = app.screen
        assert form.query_one("#f-parameter", Choice).value == "spo2"
        assert form.query_one("#f-low", Input).value == "90"
        assert app.focused is form.query_one("#f-low", Input)  # the alarm's side of it
        await pilot.press("ctrl+u", *"88", "ctrl+s")
        await shows(pilot, "give a reason")
        assert fake.sent == []
        await pilot.press(*"COPD, baseline 89", "enter")
        await shows(pilot, "DONE spo2 limits 88.0--")
        assert fake.sent == [
            (
                "adjust_limit",
                {
                    "room": "IR1",
                    "parameter": "spo2",
                    "low": 88.0,
                    "high": None,
                    "reason": "COPD, baseline 89",
                },
            )
        ]


@pytest.mark.asyncio
async def test_losing_the_connection_marks_every_screen_stale_and_resyncs_on_return(
    fake: FakeSuiteClient,
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        fake.disconnect("broker went away")
        text = await shows(pilot, "CONNECTION LOST 10:00:00 - data STALE")
        ir1 = block(text, "IR1")
        assert "STALE" in ir1 and "SpO2 86" in ir1  # the last known values stay, marked
        await pilot.press("enter")
        assert "STALE" in (await shows(pilot, "CEMENT 11:30")).splitlines()[2]
        await pilot.press("v")
        text = await shows(pilot, "IR1 vitals and alarms  kyphoplasty T12, L1")
        assert "STALE" in text and "CONNECTION LOST" in text
        await pilot.press("a")  # nothing can be sent meanwhile, and it says so
        await shows(pilot, "NOT SENT")
        fake.connect()
        await shows(pilot, "CONNECTED in-process fake")
        await until(pilot, lambda: ("resync", {}) in fake.sent, what="a resync request")
        assert "STALE" not in screen_text(app)


@pytest.mark.asyncio
async def test_the_command_palette_opens_a_room(fake: FakeSuiteClient) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p", *"Case IR2")
        await pilot.pause(0.3)
        await pilot.press("enter")
        text = await shows(pilot, "IR2 vertebroplasty L2")
        assert "phase PRE PROCEDURE since 09:52:00" in text


@pytest.mark.asyncio
async def test_a_room_without_a_case_says_so_and_checks_one_in_by_accession(
    fake: FakeSuiteClient,
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("down", "down", "enter")
        await shows(pilot, "IR3: no open case")
        await pilot.press("l")
        await shows(pilot, "Check in a scheduled case in IR3")
        await pilot.press(*"ACC-300", "enter")
        await shows(pilot, "DONE check-in of ACC-300")
        assert fake.sent == [("log_step", {"case_id": "ACC-300", "step": "check-in", "fields": {}})]


def booked(n: int, minutes: int) -> dict[str, object]:
    return {
        "case_id": f"k{n}", "accession": f"ACC-30{n}", "mrn": f"MRN-30{n}",
        "name": f"PATIENT^NUMBER{n}", "procedure": "vertebroplasty", "levels": ["L1"],
        "scheduled_at": iso(NOW.replace(minute=minutes)),
    }  # fmt: skip


@pytest.mark.asyncio
async def test_the_rooms_scheduled_cases_are_shown_and_one_is_checked_in_from_the_list(
    fake: FakeSuiteClient,
) -> None:
    state = suite_states()["IR3"]
    state["scheduled"] = [booked(1, 30), booked(2, 45)]
    fake.publish("rooms/IR3/state", state)
    app = make_app(fake)
    async with app.run_test(size=(130, 30)) as pilot:
        await ready(pilot)
        board = block(screen_text(app), "IR3")
        assert "BOOKED 10:30" in board and "MRN MRN-301" in board and "Patient, Number1" in board
        await pilot.press("down", "down", "enter")
        text = words(await shows(pilot, "Scheduled in IR3"))
        assert "press n to check in the next scheduled case" in text
        assert "1. 10:30 ACC-301 MRN-301 PATIENT^NUMBER1 vertebroplasty L1" in text
        assert "2. 10:45 ACC-302 MRN-302 PATIENT^NUMBER2" in text
        await pilot.press("l")  # pick another one: by its number in the list
        await shows(pilot, "Check in a scheduled case in IR3")
        assert app.screen.query_one("#f-accession", Input).value == "ACC-301"
        await pilot.press("end", "ctrl+u", "2", "enter")
        await shows(pilot, "DONE check-in of ACC-302")
        await pilot.press("n")  # the next one, at once
        await shows(pilot, "DONE check-in of ACC-301")
        assert [fields["case_id"] for _, fields in fake.sent] == ["ACC-302", "ACC-301"]
