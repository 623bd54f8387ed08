"""Issue 16's board: every room's patient (a name for people, with the MRN), procedure and
levels (booked cases too), phase in its sequence with elapsed time and overrun, the cement
countdown, current vitals marked against their limits, the highest alarm and the dose against
its next level; at 80x24 and 160x48, as text and as snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.tui.conftest import make_app, ready, screen_text, shows, until
from tests.tui.suite_data import NOW, iso, suite_states, trend_samples
from tui.fake_client import FakeSuiteClient
from tui.names import person_name

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def board_states() -> dict[str, dict[str, Any]]:
    """IR1 in cement injection (O'Brien, 412 mGy), IR2 in its checklist, IR3 with two booked
    cases and nobody in the room."""
    states = suite_states()
    ir1 = states["IR1"]["case"]
    ir1["patient"]["name"] = "O&BRIEN^MARGARET"
    ir1["dose"] = {"air_kerma_mgy": 412.0, "dap_gy_cm2": 38.5, "fluoro_time_s": 260.0,
                   "source": "image", "at": iso(NOW)}  # fmt: skip
    ir1["dose_next_level_mgy"] = 3000.0
    states["IR3"]["scheduled"] = [
        {"case_id": "b1", "accession": "ACC-301", "mrn": "MRN0301", "name": "BRANDT^WALTER",
         "procedure": "kyphoplasty", "levels": ["T8", "T9"],
         "scheduled_at": iso(NOW.replace(hour=10, minute=30))},
        {"case_id": "b2", "accession": "ACC-302", "mrn": "MRN0302", "name": "Okafor^Grace",
         "procedure": "vertebroplasty", "levels": ["L3"],
         "scheduled_at": iso(NOW.replace(hour=11, minute=15))},
    ]  # fmt: skip
    return states


def board_fake() -> FakeSuiteClient:
    fake = FakeSuiteClient(user="tech1", clock=lambda: NOW)
    for topic, payload in trend_samples("IR1"):
        fake.publish(topic, payload)
    for room, state in board_states().items():
        fake.publish(f"rooms/{room}/state", state)
    return fake


def block(text: str, room: str) -> str:
    """The board's lines of `room` (from its first line to the next room's)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(room))
    end = next(
        (
            i
            for i, line in enumerate(lines[start + 1 :], start + 1)
            if line[:3] in ("IR1", "IR2", "IR3")
        ),
        len(lines),
    )
    return "\n".join(lines[start:end])


def test_names_are_written_for_people() -> None:
    assert person_name("O&BRIEN^MARGARET") == "O'Brien, Margaret"
    assert person_name("MCDONALD^ANNE-MARIE^J") == "McDonald, Anne-Marie J"
    assert person_name("van&der&Berg^Jan") == "van der Berg, Jan"
    assert person_name("Müller^Anna") == "Müller, Anna"
    assert person_name("SMITH") == "Smith"


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(80, 24), (160, 48), (200, 60)])
async def test_the_board_shows_every_field_at_every_size(size: tuple[int, int]) -> None:
    app = make_app(board_fake())
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        text = await shows(pilot, "BOOKED")
        ir1 = block(text, "IR1")
        for shown in ("O'Brien, Margaret", "MRN0001", "T12", "L1", "CEMENT INJECTION",
                      "10/14", "CEMENT 11:30 left", "case 26:30", "HR 96", "SpO2 86▼",
                      "BP 118/72", "RR 14", "EtCO2 38", "!!! HIGH SpO2 86", "412 mGy",
                      "3 Gy"):  # fmt: skip
            assert shown in ir1, (shown, ir1)
        assert "HR 124▲" in block(text, "IR2")
        ir3 = block(text, "IR3")
        for shown in ("Brandt, Walter", "MRN0301", "T8", "BOOKED 10:30", "starts in 30:00",
                      "+1 more booked"):  # fmt: skip
            assert shown in ir3, (shown, ir3)
        assert "O&BRIEN" not in text
        assert "r report" in text or "r there: report" in text  # the first-run hint
        # The board fills the terminal: no line of the screen is wider than it.
        assert all(len(line) <= size[0] for line in screen_text(app).splitlines())


@pytest.mark.asyncio
async def test_the_overrun_is_marked_and_the_board_follows_the_cursor() -> None:
    fake = board_fake()
    state = board_states()["IR1"]
    state["case"]["procedure_overrun_s"] = 20 * 60.0  # overrun after 20 min: 26:30 is over
    fake.publish("rooms/IR1/state", state)
    app = make_app(fake)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        assert "OVER +6:30" in block(await shows(pilot, "OVER"), "IR1")
        await pilot.press("down", "down", "v")
        await shows(pilot, "IR3 vitals and alarms")


@pytest.mark.parametrize("size", SIZES)
def test_board_snapshot(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        await shows(pilot, "BOOKED")

    assert snap_compare(make_app(board_fake()), terminal_size=size, run_before=run_before)


@pytest.mark.asyncio
async def test_the_vitals_screen_plots_each_parameter_over_the_case() -> None:
    from textual_plotext import PlotextPlot

    from tui.trend_plots import PLOTTED, TrendPlots

    app = make_app(board_fake())
    async with app.run_test(size=(120, 48)) as pilot:
        await ready(pilot)
        await pilot.press("v")
        await shows(pilot, "IR1 vitals and alarms")
        await pilot.press("t")
        plots = app.screen.query_one(TrendPlots)
        await until(pilot, lambda: plots.display, what="the plots")
        await pilot.pause(1.2)
        text = await shows(pilot, "SpO2 % limits 90-")
        # Every parameter has its plot; the case's moments are named in each title.
        for param in PLOTTED:
            assert app.screen.query_one(f"#plot-{param}", PlotextPlot).display
        assert "sedation" in text and "cement T12" in text
        assert "limits 50-120" in text  # HR's limits drawn
        await pilot.press("t")
        await until(pilot, lambda: not plots.display, what="the numbers back")


@pytest.mark.parametrize("size", SIZES)
def test_trends_snapshot(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        await pilot.press("v")
        await shows(pilot, "IR1 vitals and alarms")
        await pilot.press("t")
        await shows(
            pilot, "SpO2 | sedation @2, cement T12 @20" if size[0] < 100 else "SpO2 % limits 90-"
        )

    assert snap_compare(make_app(board_fake()), terminal_size=size, run_before=run_before)
