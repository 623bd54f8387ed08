"""Issue 16: what a newcomer sees in the demo's first minute at the default speed.

`procsuite demo --headless` at its default speed (10x: a real minute is ten simulated minutes)
in a subprocess, watched on its broker as a dashboard would: the retained room states and
the alarm events. Within the first 600 simulated seconds (the first real minute at the
default speed, measured on the demo's own clock, the `at` of its messages):

- every room shows a procedure: the case under way, or the booked one for an empty room;
- one room is in cement injection with the working time counting down (two snapshots, the
  later one with less time left);
- an alarm is raised and the scripted nurse acknowledges it;
- a dose notification is raised, and images arrive on a level of a case.

The test stops the demo (SIGINT) as soon as it has seen everything, or once the demo's clock
passes 600 s, and then checks; nothing depends on how fast this machine is, only on the
simulated time the demo stamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.peers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PROCSUITE = [sys.executable, "-c", "import sys; from procsuite.cli import main; sys.exit(main())"]
ROOMS = ("IR1", "IR2", "IR3", "IR4")
FIRST_MINUTE_S = 600.0  # one real minute at the default speed (10x)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Seen:
    start: datetime | None = None
    latest: datetime | None = None
    procedure: dict[str, str] = field(default_factory=dict)  # room -> what the board shows
    cement: dict[str, list[float]] = field(default_factory=dict)  # room -> time left seen
    raised: dict[str, dict[str, Any]] = field(default_factory=dict)  # alarm id -> event
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    images_on_levels: set[str] = field(default_factory=set)

    def take_state(self, state: dict[str, Any]) -> None:
        at = when(state["at"])
        self.latest = at if self.latest is None or at > self.latest else self.latest
        if at > self.deadline:
            return
        room, case = state["room"], state.get("case")
        if case is not None:
            order = case["order"]
            self.procedure[room] = f"{order['procedure']} {','.join(order['levels'])}"
            left = case.get("cement_time_left_s")
            if case["phase"] == "cement_injection" and left is not None:
                self.cement.setdefault(room, []).append(float(left))
            for image in case.get("images") or ():
                if image.get("level"):
                    self.images_on_levels.add(f"{room} {image['level']}")
        elif state.get("scheduled"):
            booked = state["scheduled"][0]
            self.procedure[room] = f"booked {booked['procedure']} {','.join(booked['levels'])}"

    def take_alarm(self, event: dict[str, Any]) -> None:
        if when(event["at"]) > self.deadline:
            return
        if event["event"] == "raised":
            self.raised[event["alarm_id"]] = event
        elif event["event"] == "acknowledged":
            self.acked[event["alarm_id"]] = event

    @property
    def deadline(self) -> datetime:
        assert self.start is not None
        return self.start + timedelta(seconds=FIRST_MINUTE_S)

    def counting_down(self) -> list[str]:
        return [r for r, left in self.cement.items() if len(left) >= 2 and left[-1] < left[0]]

    def acknowledged(self) -> list[dict[str, Any]]:
        return [self.raised[a] for a in self.acked if a in self.raised]

    def everything(self) -> bool:
        return (
            set(self.procedure) >= set(ROOMS)
            and bool(self.counting_down())
            and any(e["kind"].startswith("dose_") for e in self.acknowledged())
            and any(not e["kind"].startswith("dose_") for e in self.acknowledged())
            and bool(self.images_on_levels)
        )

    def over(self) -> bool:
        return self.latest is not None and self.latest > self.deadline


async def _watch(port: int, seen: Seen, done: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="first-minute-watch") as client:
        await client.subscribe("procsuite/main/rooms/+/state", qos=1)
        await client.subscribe("procsuite/main/alarms/+", qos=1)
        async for message in client.messages:
            payload = json.loads(bytes(message.payload))  # type: ignore[arg-type]
            if message.topic.matches("procsuite/main/alarms/+"):
                seen.take_alarm(payload)
            else:
                seen.take_state(payload)
            if seen.everything() or seen.over():
                done.set()


@pytest.mark.asyncio
async def test_the_first_minute_shows_every_room_a_cement_countdown_and_an_acked_alarm(
    tmp_path: Path,
) -> None:
    mqtt_port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *PROCSUITE, "demo", "--headless",  # the default speed
        "--mqtt-port", str(mqtt_port), "--dicom-port", "0", "--hl7-port", "0", "--his-port", "0",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    seen, done = Seen(), asyncio.Event()
    watcher: asyncio.Task[None] | None = None
    out: list[str] = []
    try:
        async with asyncio.timeout(180):
            async for raw in proc.stdout:
                line = raw.decode().rstrip("\n")
                out.append(line)
                if line.startswith("procsuite demo ready"):
                    # "... speed 10x from 08:40": the demo's clock starts at the day's start.
                    break
            assert "speed 10x from 08:40" in out[-1], out
            drain = asyncio.create_task(_drain(proc.stdout, out))
            # The states carry the demo's own time: the first one tells where the clock is.
            seen.start = await _first_state_time(mqtt_port)
            watcher = asyncio.create_task(_watch(mqtt_port, seen, done))
            await done.wait()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await watcher
    with contextlib.suppress(Exception):
        await drain
    text = "\n".join(out)
    assert set(seen.procedure) >= set(ROOMS), (seen.procedure, text[-2000:])
    assert seen.procedure["IR4"].startswith("booked "), seen.procedure
    assert seen.counting_down(), (seen.cement, text[-2000:])
    acked = seen.acknowledged()
    assert any(not e["kind"].startswith("dose_") for e in acked), (seen.raised, text[-2000:])
    assert all(seen.acked[e["alarm_id"]]["user"] == "nurse1" for e in acked)
    assert any(e["kind"] == "dose_3gy" for e in acked), seen.raised  # the dose notice
    assert seen.images_on_levels, text[-2000:]


async def _drain(stream: asyncio.StreamReader, out: list[str]) -> None:
    async for raw in stream:
        out.append(raw.decode().rstrip("\n"))


async def _first_state_time(port: int) -> datetime:
    """The demo's clock at the day's start: 08:40 local on the first state's date."""
    async with aiomqtt.Client("127.0.0.1", port, identifier="first-minute-clock") as client:
        await client.subscribe("procsuite/main/rooms/+/state", qos=1)
        async for message in client.messages:
            at = when(json.loads(bytes(message.payload))["at"])  # type: ignore[arg-type]
            local = at.astimezone()
            return local.replace(hour=8, minute=40, second=0, microsecond=0)
    raise AssertionError("no room state")
