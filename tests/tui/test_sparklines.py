"""The vitals screen's sparklines: noise inside a parameter's minimum span stays a flat line,
a real change fills the height, a missing value is a gap (never the lowest block)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.tui.conftest import make_app, ready, shows, until
from tests.tui.suite_data import NOW, iso, suite_states
from tui.fake_client import FakeSuiteClient
from tui.model import SuiteModel
from tui.sparkline import BLOCKS, GAP, MIN_SPAN, render
from tui.views import VitalsReading
from tui.wall.render import fragment
from tui.widgets import Trend
from tui.wire import decode_state


def test_noise_within_the_minimum_span_is_drawn_flat() -> None:
    line = render([36.3, 36.4, 36.3, 36.4, 36.3], 40, MIN_SPAN["temp"])
    assert set(line) <= set(BLOCKS[3:5])  # within one step of the middle, never full height


def test_a_change_wider_than_the_span_fills_the_height() -> None:
    assert render([97, 95, 90, 85, 80], 40, MIN_SPAN["spo2"]) == "█▇▅▃▁"


def test_a_missing_value_is_a_gap_not_a_low_line() -> None:
    line = render([120, None, None, 122, None], 40, MIN_SPAN["nibp_sys"])
    assert line[1:3] == GAP * 2 and line[4] == GAP
    assert BLOCKS[0] not in line


def test_only_the_latest_samples_that_fit_are_drawn() -> None:
    assert render([60, 60, 100, 80], 2, MIN_SPAN["hr"]) == "█▁"


def vitals_fake() -> FakeSuiteClient:
    """IR1 with a minute of temperature noise and an NIBP that misses its middle cycles."""
    fake = FakeSuiteClient(user="nurse1", clock=lambda: NOW)
    for i in range(30):
        at = NOW - timedelta(seconds=31 - i)
        values = {"temp": 36.3 + (i % 2) / 10, "nibp_sys": None if 10 <= i < 20 else 120.0}
        fake.publish("rooms/IR1/vitals/mon-1", {"ts": iso(at), "seq": i, "values": values})
    for room, state in suite_states().items():
        fake.publish(f"rooms/{room}/state", state)
    return fake


@pytest.mark.asyncio
async def test_the_vitals_screen_draws_noise_flat_and_a_missing_nibp_as_a_gap() -> None:
    app = make_app(vitals_fake())
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("v")
        await shows(pilot, "IR1 vitals and alarms")
        temp = app.screen.query_one("#trend-temp", Trend)
        nibp = app.screen.query_one("#trend-nibp_sys", Trend)
        await until(pilot, lambda: len(nibp.values) >= 30, what="the NIBP trend")
        await pilot.pause()
        temp_line = str(temp.render()).strip()
        nibp_line = str(nibp.render())
        assert temp_line and set(temp_line) <= set(BLOCKS[3:5])
        # Ten missed cycles are ten blanks between the readings before and after them.
        drawn = nibp_line.rstrip()
        assert GAP * 10 in drawn and drawn.strip(GAP) != drawn.replace(GAP, "")
        assert BLOCKS[0] not in drawn


def test_the_wall_display_breaks_its_trend_at_a_missing_value() -> None:
    model = SuiteModel()
    state = decode_state("IR1", json.dumps(suite_states()["IR1"]).encode())
    assert state is not None
    model.apply_state(state)
    for i in range(6):
        value = None if i in (2, 3) else 120.0
        at = NOW - timedelta(seconds=10 - i)
        model.apply_reading(VitalsReading("IR1", "mon-1", at, {"nibp_sys": value}))
    html = fragment(model, NOW, None)
    row = html[html.index("NIBP sys") :]
    svg = row[row.index("<svg") : row.index("</svg>")]
    assert svg.count("<polyline") == 2  # before the gap and after it, nothing drawn across
