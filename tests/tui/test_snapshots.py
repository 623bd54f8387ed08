"""Snapshots of the board, the case screen (before and after the time-out) and the alarms
view with a value outside its limits, at 80x24, 100x30 and 160x48, from the
fake service with fixed data and a fixed clock (tests/tui/suite_data.py).

Regenerate after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the report before checking the SVGs in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import loaded_fake, make_app, ready, shows

SIZES = [
    pytest.param((80, 24), id="80x24"),
    pytest.param((100, 30), id="100x30"),
    pytest.param((160, 48), id="160x48"),
]


def after(*keys: str, showing: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await pilot.press(*keys)
        await shows(pilot, showing)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_board(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    app = make_app(loaded_fake())
    assert snap_compare(app, terminal_size=size, run_before=after(showing="IR3"))


@pytest.mark.parametrize("size", SIZES)
def test_case_screen(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    app = make_app(loaded_fake())
    run_before = after("enter", showing="CEMENT 11:30 working time left")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_case_screen_before_the_time_out(
    snap_compare: Callable[..., bool], size: tuple[int, int]
) -> None:
    app = make_app(loaded_fake())
    run_before = after("down", "enter", showing="Time-out: NOT SIGNED")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_alarms_view(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    app = make_app(loaded_fake())
    run_before = after("v", showing="LOW")  # SpO2 86 below its low limit 90
    assert snap_compare(app, terminal_size=size, run_before=run_before)
