"""The monitor on a real mosquitto: payloads, rate, status, last will, reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt
import pytest

from adapters.mqtt.codec import decode_status, decode_vitals
from simulators.clock import SimClock
from simulators.monitor import Monitor
from simulators.monitor_model import MonitorModel
from simulators.scenarios import parse_all
from tests.peers import Mosquitto

pytestmark = pytest.mark.mosquitto

STATUS = "procsuite/main/rooms/IR1/devices/mon1/status"
VITALS = "procsuite/main/rooms/IR1/vitals/mon1"


@dataclass
class Seen:
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def vitals(self) -> list[bytes]:
        return [p for t, p, _ in self.messages if t == VITALS]

    def statuses(self) -> list[bytes]:
        return [p for t, p, _ in self.messages if t == STATUS]

    async def until(self, predicate: object, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def subscriber(broker: Mosquitto) -> AsyncIterator[Seen]:
    seen = Seen()
    ready = asyncio.Event()

    async def listen() -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe("procsuite/main/#", qos=1)
            ready.set()
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                seen.messages.append((str(message.topic), payload, message.retain))
                seen.changed.set()

    task = asyncio.create_task(listen())
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def make_monitor(broker: Mosquitto, *specs: str, speed: float = 20.0) -> Monitor:
    clock = SimClock(start=datetime(2026, 11, 24, 9, 0, tzinfo=UTC), speed=speed)
    model = MonitorModel(start_at=clock.now(), scenarios=parse_all(list(specs)), seed=3)
    return Monitor(
        model,
        room="IR1",
        device="mon1",
        clock=clock,
        mqtt_url=broker.url,
        reconnect_s=0.2,
        publish_timeout_s=1.0,
    )


@pytest.mark.asyncio
async def test_vitals_arrive_at_the_rate_with_valid_payloads_and_status(
    mosquitto: Mosquitto,
) -> None:
    async with subscriber(mosquitto) as seen:
        stats = await make_monitor(mosquitto, speed=20.0).run(duration_s=40)
        await seen.until(lambda: seen.statuses()[-1:] == [b"offline"])
    vitals = [decode_vitals("IR1", "mon1", p, max_bytes=65_536) for p in seen.vitals()]
    assert stats.published == 40 and stats.dropped == 0
    assert [v.sample.seq for v in vitals] == list(range(1, 41))
    assert all(v.problems == () for v in vitals)
    times = [v.sample.at for v in vitals]
    assert {(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)} == {1.0}
    nibp = [v for v in vitals if "nibp_sys" in {p.value for p in v.sample.values}]
    assert len(nibp) == 1  # one cuff measurement (at 30 s) in 40 s
    # online when it connected, offline (retained) when it stopped cleanly
    assert seen.statuses() == [b"online", b"offline"]
    assert decode_status(seen.statuses()[0]) is True


@pytest.mark.asyncio
async def test_killed_monitor_is_reported_offline_by_its_last_will(mosquitto: Mosquitto) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "procsuite.cli", "simulate", "--log-level", "WARNING", "monitor",
           "--room", "IR1", "--device", "mon1", "--mqtt-url", mosquitto.url, "--speed", "5"]  # fmt: skip
    async with subscriber(mosquitto) as seen:
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            await seen.until(lambda: len(seen.vitals()) >= 3, timeout_s=30)
        finally:
            proc.send_signal(signal.SIGKILL)  # no clean shutdown: the broker must say it
            async with asyncio.timeout(10):
                await proc.wait()
        await seen.until(lambda: seen.statuses()[-1:] == [b"offline"])
    assert seen.statuses() == [b"online", b"offline"]
    # and a dashboard that connects later still learns it (retained)
    async with subscriber(mosquitto) as late:
        await late.until(lambda: late.statuses() == [b"offline"])
    assert late.messages[0][2] is True  # retained


@pytest.mark.asyncio
async def test_offline_scenario_drops_the_connection_and_comes_back(mosquitto: Mosquitto) -> None:
    async with subscriber(mosquitto) as seen:
        stats = await make_monitor(mosquitto, "offline@10+10").run(duration_s=30)
        await seen.until(lambda: seen.statuses()[-1:] == [b"offline"] and len(seen.statuses()) >= 4)
    assert seen.statuses() == [b"online", b"offline", b"online", b"offline"]
    assert stats.wills == 1 and stats.connects == 2
    seqs = [decode_vitals("IR1", "mon1", p, max_bytes=65_536).sample.seq for p in seen.vitals()]
    assert seqs[:10] == list(range(1, 11))
    assert all(s is not None and not 11 <= s <= 20 for s in seqs)  # nothing while offline
    assert max(s or 0 for s in seqs) == 30


@pytest.mark.asyncio
async def test_monitor_reconnects_after_the_broker_restarts(mosquitto: Mosquitto) -> None:
    stop = asyncio.Event()
    monitor = make_monitor(mosquitto, speed=10.0)
    async with subscriber(mosquitto) as first:
        task = asyncio.create_task(monitor.run(stop=stop))
        await first.until(lambda: len(first.vitals()) >= 5)
    try:
        await asyncio.to_thread(mosquitto.restart)
        before = monitor.stats.published
        async with subscriber(mosquitto) as seen:
            await seen.until(lambda: len(seen.vitals()) >= 3, timeout_s=15)
        assert monitor.stats.connects >= 2
        assert monitor.stats.published > before
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
