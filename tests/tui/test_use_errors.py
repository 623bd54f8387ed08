"""Issue 17 on the in-process fake: actions bound to what the user sees selected, forms that
keep their input on a refusal, values outside their limits marked in words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import Input

from suite.domain.alarms.model import Priority
from tests.tui.conftest import make_app, ready, screen_text, shows, until
from tests.tui.suite_data import NOW, alarm, alarm_event
from tui.choice import Choice
from tui.fake_client import FakeSuiteClient
from tui.screens.limit_form import LimitForm
from tui.screens.vitals import VitalsScreen
from tui.views import Reply
from tui.widgets import ResultLine

ETCO2_HIGH = alarm(
    "a-etco2", "IR1", kind="etco2_high", priority=Priority.MEDIUM,
    message="EtCO2 54 mmHg above 50 mmHg", raised_at=NOW - timedelta(seconds=15),
    parameter="etco2",
)  # fmt: skip
RR_LOW = alarm(
    "a-rr", "IR1", kind="rr_low", priority=Priority.MEDIUM, message="RR 6/min below 8/min",
    raised_at=NOW - timedelta(seconds=50), parameter="rr", acknowledged_by="nurse1",
)  # fmt: skip
HR_NEW = alarm(
    "a-hr-new", "IR1", kind="hr_high", priority=Priority.HIGH, message="HR 150/min above 140",
    raised_at=NOW - timedelta(seconds=1), parameter="hr",
)  # fmt: skip


def highlighted(app: object) -> str | None:
    screen = getattr(app, "screen", None)
    assert isinstance(screen, VitalsScreen)
    return screen.highlighted_alarm()


@pytest.mark.asyncio
async def test_a_new_alarm_never_moves_the_selection_and_ack_goes_to_the_one_seen(
    fake: FakeSuiteClient,
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        fake.publish("alarms/IR1", alarm_event(ETCO2_HIGH))
        fake.publish("alarms/IR1", alarm_event(RR_LOW))
        await pilot.press("v")
        await shows(pilot, "EtCO2 54 mmHg above 50 mmHg")
        await shows(pilot, "ACK by nurse1")
        await pilot.press("down")  # from the SpO2 alarm to the EtCO2 one
        await until(pilot, lambda: highlighted(app) == "a-etco2", what="EtCO2 selected")
        # A new high alarm arrives and sorts above the selected one.
        fake.publish("alarms/IR1", alarm_event(HR_NEW))
        await shows(pilot, "HR 150/min above 140")
        assert highlighted(app) == "a-etco2"  # the selection stayed on the same alarm
        await pilot.press("a")
        await shows(pilot, "DONE acknowledge medium alarm 'EtCO2 54 mmHg above 50 mmHg'")
        assert fake.sent == [("ack_alarm", {"alarm_id": "a-etco2"})]
        # The acknowledged RR alarm: acknowledging it again says so and sends nothing.
        await pilot.press("down")
        await until(pilot, lambda: highlighted(app) == "a-rr", what="RR selected")
        await pilot.press("a")
        await shows(pilot, "'RR 6/min below 8/min' is already acknowledged by nurse1")
        assert fake.sent == [("ack_alarm", {"alarm_id": "a-etco2"})]


@pytest.mark.asyncio
async def test_a_refused_limit_form_stays_open_with_its_input_and_marks_the_field(
    fake: FakeSuiteClient,
) -> None:
    refusal = "SpO2 low limit 50 % is outside 80-100 %"
    fake.answer = lambda action, fields: Reply("", False, error=refusal, rule="invalid-value")
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("v", "l")  # the selected alarm is SpO2 low
        await until(pilot, lambda: isinstance(app.screen, LimitForm), what="the limit form")
        form = app.screen
        assert isinstance(form, LimitForm)
        await shows(pilot, "may be set within")
        assert form.query_one("#f-parameter", Choice).value == "spo2"
        await pilot.press("ctrl+u", "ctrl+s")  # a limit in force cannot be left blank
        await shows(pilot, "the low limit is in force: it can be moved, not left blank")
        assert fake.sent == []
        await pilot.press(*"50", "enter", "enter", *"COPD", "enter")
        await shows(pilot, f"REFUSED {refusal}")
        assert app.screen is form  # still open, with what was typed
        assert form.query_one("#f-low", Input).value == "50"
        assert form.query_one("#f-reason", Input).value == "COPD"
        assert form.query_one("#f-low", Input).has_class("-invalid")
        assert not form.query_one("#f-reason", Input).has_class("-invalid")
        assert app.focused is form.query_one("#f-low", Input)
        assert len(fake.sent) == 1


@pytest.mark.asyncio
async def test_a_value_outside_its_limits_is_marked_in_words(fake: FakeSuiteClient) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("v")
        text = await shows(pilot, "IR1 vitals and alarms")
        spo2 = next(line for line in text.splitlines() if line.startswith("SpO2"))
        assert "86 %" in spo2 and "LOW" in spo2  # 86 below the low limit 90
        hr = next(line for line in screen_text(app).splitlines() if line.startswith("HR "))
        assert "LOW" not in hr and "HIGH" not in hr


@pytest.mark.asyncio
async def test_an_answer_line_expires(
    fake: FakeSuiteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ResultLine, "expire_s", 0.2)
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("v", "a")
        await shows(pilot, "DONE acknowledge high alarm")
        line = app.screen.query_one(ResultLine)
        await until(pilot, lambda: not line.display, what="the answer line hidden")
        assert "DONE acknowledge" not in screen_text(app)
