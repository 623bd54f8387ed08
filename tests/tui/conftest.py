"""Helpers of the dashboard tests: a fake service with fixed data, the app on a fixed clock,
and reading the screen as the user sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC

import pytest
from textual.pilot import Pilot

from tests.tui.suite_data import NOW, suite_states, trend_samples
from tui.app import SuiteApp
from tui.fake_client import FakeSuiteClient


def loaded_fake(user: str = "tech1") -> FakeSuiteClient:
    """A fake service that has published the fixed suite of suite_data.py."""
    fake = FakeSuiteClient(user=user, clock=lambda: NOW)
    for topic, payload in trend_samples("IR1"):
        fake.publish(topic, payload)
    for room, state in suite_states().items():
        fake.publish(f"rooms/{room}/state", state)
    return fake


@pytest.fixture
def fake() -> FakeSuiteClient:
    return loaded_fake()


def make_app(client: FakeSuiteClient, **kw: object) -> SuiteApp:
    return SuiteApp(client, clock=lambda: NOW, tz=UTC, redraw_s=0.02, **kw)  # type: ignore[arg-type]


def screen_text(app: SuiteApp) -> str:
    """What the terminal shows now, as plain text lines."""
    strips = app.screen._compositor.render_strips()  # the composed screen, as the user sees it
    return "\n".join(strip.text for strip in strips)


def words(text: str) -> str:
    """The screen's text with its line breaks and runs of spaces as single spaces."""
    return " ".join(text.split())


async def until(
    pilot: Pilot[None], predicate: Callable[[], bool], *, what: str, timeout_s: float = 10.0
) -> None:
    """Let the app run until `predicate` holds (fails naming `what` after `timeout_s`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            text = screen_text(pilot.app) if isinstance(pilot.app, SuiteApp) else ""
            raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{text}")
        await pilot.pause(0.02)


async def shows(pilot: Pilot[None], text: str, *, timeout_s: float = 10.0) -> str:
    """Wait until the screen shows `text`; returns the whole screen."""
    app = pilot.app
    assert isinstance(app, SuiteApp)

    def visible() -> bool:
        app.redraw()
        return text in screen_text(app)

    await until(pilot, visible, what=f"{text!r} on screen", timeout_s=timeout_s)
    return screen_text(app)


async def ready(pilot: Pilot[None], rooms: int = 3) -> None:
    """Wait until the fake's rooms are on the board."""
    app = pilot.app
    assert isinstance(app, SuiteApp)
    await until(pilot, lambda: len(app.model.rooms) >= rooms, what=f"{rooms} rooms")
    app.redraw()
    await pilot.pause()
