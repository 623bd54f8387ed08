"""A real procsuite service on a real mosquitto for the dashboard's end-to-end tests, and
dashboards (terminals) connected to it over MQTT as a given user."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from adapters.mqtt.runner import MqttRunner
from procsuite.bootstrap import Service
from suite.settings import Settings, load_settings
from tests.peers import Mosquitto, run_mosquitto
from tests.tui.conftest import until
from tui.app import SuiteApp
from tui.mqtt_client import MqttSuiteClient

SITE = "t"
USERS = {"tech1": "technologist", "nurse1": "nurse", "dr1": "radiologist"}
# Short delays so real-time tests stay quick (timing itself is tested in tests/alarms).
FAST_ALARMS: dict[str, Any] = {
    "limits": {"spo2": {"low": 90, "delay_s": 2, "hysteresis": 2, "clear_delay_s": 1}},
    "stale_feed_s": 60,
    "clock_skew_s": 3600,
}


@contextlib.contextmanager
def mosquitto() -> Iterator[Mosquitto]:
    """A private mosquitto (tests/peers.py) whose persistence survives a restart: run as root,
    mosquitto would drop to its own user, who cannot save its database in the private
    temporary directory, and retained messages would be gone after `restart()`."""
    with run_mosquitto(extra_config="user root\n" if os.geteuid() == 0 else "") as broker:
        yield broker


def service_settings(broker: Mosquitto, tmp_path: Path, **overrides: Any) -> Settings:
    mqtt: dict[str, Any] = {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0}
    mqtt.update(overrides.pop("mqtt", {}))
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "mqtt_url": broker.url,
        "site": SITE,
        "rooms": ["IR1", "IR2"],
        "users": USERS,
        "alarms": {"config": FAST_ALARMS},
        "mqtt": mqtt,
        "dicom": {"enabled": False},  # unless a test turns them on
        "hl7": {"enabled": False},
    }
    return load_settings(**{**values, **overrides})


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Service]:
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(30):
            await service.ready.wait()
            assert service.ctx is not None
            runner = next(c for c in service.ctx.components if isinstance(c, MqttRunner))
            await runner.connected.wait()
        yield service
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task


@contextlib.asynccontextmanager
async def terminal(
    broker: Mosquitto, user: str, *, size: tuple[int, int] = (100, 40)
) -> AsyncIterator[tuple[SuiteApp, Pilot[None]]]:
    """The dashboard of `user`, connected over MQTT, with the rooms received."""
    client = MqttSuiteClient(broker.url, site=SITE, user=user, reply_timeout_s=15)
    app = SuiteApp(client, redraw_s=0.05)
    async with app.run_test(size=size) as pilot:
        await until(
            pilot,
            lambda: app.model.connected and len(app.model.rooms) >= 2,
            what=f"{user}'s terminal connected with the rooms",
        )
        app.redraw()
        await pilot.pause()
        yield app, pilot
