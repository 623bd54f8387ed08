"""Fixtures of the MQTT tests: a broker (the embedded one, or a real mosquitto), a running
service wired to it, and a test client that watches its topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from adapters.mqtt.runner import MqttRunner
from procsuite.bootstrap import Service
from suite.settings import Settings, load_settings
from tests.peers import Mosquitto, free_port, missing, run_mosquitto

# Short delays so real-time end-to-end tests stay quick; exhaustive timing lives in the
# engine's simulated-time tests (tests/alarms).
FAST_ALARMS: dict[str, Any] = {
    "limits": {"spo2": {"low": 90, "delay_s": 2, "hysteresis": 2, "clear_delay_s": 1}},
    "stale_feed_s": 60,
    "clock_skew_s": 3600,
}
USERS = {"nurse1": "nurse", "tech1": "technologist", "dr1": "radiologist", "root": "admin"}


@dataclass
class Broker:
    kind: str  # "embedded" or "mosquitto"
    port: int
    mosquitto: Mosquitto | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@contextlib.contextmanager
def persistent_mosquitto() -> Iterator[Mosquitto]:
    """A real mosquitto whose `restart()` keeps sessions and queued messages."""
    with run_mosquitto() as mosq:
        yield mosq


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """The embedded amqtt broker (run by the service itself) or a real mosquitto."""
    if request.param == "embedded":
        yield Broker("embedded", free_port())
        return
    with persistent_mosquitto() as mosq:
        yield Broker("mosquitto", mosq.port, mosq)


def settings_for(broker: Broker, tmp_path: Path, **overrides: Any) -> Settings:
    mqtt = {
        "embedded": broker.kind == "embedded",
        "reconnect_min_s": 0.2,
        "reconnect_max_s": 1.0,
        "status_interval_s": 0.5,
    }
    mqtt.update(overrides.pop("mqtt", {}))
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "mqtt_url": broker.url,
        "site": "t",
        "rooms": ["IR1", "IR2"],
        "users": USERS,
        "alarms": {"config": FAST_ALARMS},
        "mqtt": mqtt,
        # Free ports: on a shared machine the defaults (11112, 2575) may be taken.
        "dicom_port": 0,
        "hl7_port": 0,
    }
    return load_settings(**{**values, **overrides})


@dataclass
class Running:
    service: Service
    runner: MqttRunner
    stop: asyncio.Event

    @property
    def ctx(self) -> Any:
        return self.service.ctx

    @property
    def alarms(self) -> Any:
        return self.runner.commands.actions.alarms


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Running]:
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(20):
            await service.ready.wait()
            assert service.ctx is not None
            runner = next(c for c in service.ctx.components if isinstance(c, MqttRunner))
            await runner.connected.wait()
        yield Running(service, runner, stop)
    finally:
        stop.set()
        async with asyncio.timeout(20):
            await task


@dataclass
class Watcher:
    """A test client subscribed to the service's output topics; collects what arrives."""

    client: aiomqtt.Client
    root: str
    messages: list[tuple[str, Any]] = field(default_factory=list)
    _new: asyncio.Event = field(default_factory=asyncio.Event)

    async def collect(self) -> None:
        async for m in self.client.messages:
            text = m.payload.decode() if isinstance(m.payload, bytes) else str(m.payload)
            try:
                body: Any = json.loads(text)
            except ValueError:
                body = text
            self.messages.append((m.topic.value, body))
            self._new.set()

    def on(self, suffix: str) -> list[Any]:
        return [b for t, b in self.messages if t == f"{self.root}/{suffix}"]

    async def wait_for(self, predicate: Any, *, within_s: float = 10.0) -> Any:
        async with asyncio.timeout(within_s):
            while True:
                for topic, body in self.messages:
                    if predicate(topic, body):
                        return body
                self._new.clear()
                await self._new.wait()

    async def send(self, user: str, command: dict[str, Any], *, within_s: float = 10.0) -> Any:
        await self.client.publish(f"{self.root}/cmd/{user}", json.dumps(command), qos=1)
        return await self.wait_for(
            lambda t, b: t == f"{self.root}/reply/{user}" and b.get("id") == command["id"],
            within_s=within_s,
        )


@contextlib.asynccontextmanager
async def watching(
    broker: Broker, root: str = "procsuite/t", *, name: str = "watcher"
) -> AsyncIterator[Watcher]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=name) as client:
        for topic in ("alarms/#", "reply/#", "rooms/+/state", "status"):
            await client.subscribe(f"{root}/{topic}", qos=1)
        watcher = Watcher(client, root)
        task = asyncio.create_task(watcher.collect())
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def mosquitto_pub(
    port: int,
    topic: str,
    payload: str | None = None,
    *,
    retain: bool = False,
    file: Path | None = None,
) -> None:
    """Publish with the real `mosquitto_pub` command-line client (QoS 1)."""
    binary = shutil.which("mosquitto_pub")
    if binary is None:
        missing("mosquitto_pub (Debian package mosquitto-clients)")
    assert binary
    args = [binary, "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic]
    if retain:
        args.append("-r")
    if file is not None:
        args += ["-f", str(file)]
    elif payload is None:
        args.append("-n")
    else:
        args += ["-m", payload]
    subprocess.run(args, check=True, timeout=30, capture_output=True)


async def pub(port: int, topic: str, payload: str | None = None, **kw: Any) -> None:
    await asyncio.to_thread(mosquitto_pub, port, topic, payload, **kw)


async def eventually(check: Any, *, within_s: float = 10.0, every_s: float = 0.02) -> None:
    """Wait until `check()` is true: for state another task or thread changes, which has no
    event of its own to wait on."""
    async with asyncio.timeout(within_s):
        while not check():  # noqa: ASYNC110  (polling on purpose, bounded by the timeout)
            await asyncio.sleep(every_s)
