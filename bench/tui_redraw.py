"""The dashboard with 20 rooms whose monitors report at 1 Hz: CPU use, redraw time, and how
fast a key press shows its screen while the feed runs.

The fake client (tui/fake_client.py) plays the service: every second each room gets a vitals
sample and a fresh room snapshot (the service publishes a room's state on every change, at
most twice a second), both decoded by the dashboard exactly as from MQTT. Textual runs
headless (`run_test`): the cost of writing to a real terminal is not included.

Figures: CPU share of one core (process time / wall time, with the fake service's own JSON
encoding subtracted), the time of one redraw of the screen's widgets (p50 / p95 / max), the
redraws per second, and key-to-screen latency (press `v` / `b`, until the new screen is
drawn) under load.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._common import machine, save
from suite.domain.values import Procedure
from tests.tui.suite_data import drive, room_state
from tui.app import SuiteApp
from tui.fake_client import FakeSuiteClient
from tui.model import SuiteModel
from tui.screens.board import BoardScreen
from tui.screens.vitals import VitalsScreen

ROOMS = [f"IR{i:02d}" for i in range(1, 21)]
WARMUP_S = 3.0
BOARD_S = 20.0
VITALS_S = 10.0
PROBES = 10


class Feed:
    """The fake service's side: a case per room, vitals and snapshots once a second."""

    def __init__(self, client: FakeSuiteClient, start: datetime) -> None:
        self.client = client
        self.start = start
        self.encode_s = 0.0
        self.cases = {
            room: drive(
                f"C{i:02d}",
                room=room,
                procedure=Procedure.KYPHOPLASTY if i % 2 else Procedure.VERTEBROPLASTY,
                levels=("T12", "L1") if i % 2 else ("L2",),
                steps=12 + i % 10,
                start=start - timedelta(minutes=40),
                mrn=f"MRN{i:04d}",
            )
            for i, room in enumerate(ROOMS)
        }
        self.tick = 0

    def publish(self, topic: str, payload: Any) -> None:
        t0 = time.process_time()
        data = json.dumps(payload).encode()
        self.encode_s += time.process_time() - t0
        self.client.publish(topic, data)

    def second(self) -> None:
        self.tick += 1
        at = self.start + timedelta(seconds=self.tick)
        for i, room in enumerate(ROOMS):
            values = {
                "hr": 70 + (self.tick + i) % 15,
                "spo2": 94 + (self.tick + i) % 5,
                "nibp_sys": 120 + i,
                "nibp_dia": 75,
                "rr": 14,
                "etco2": 36 + self.tick % 4,
            }
            ts = at.isoformat().replace("+00:00", "Z")
            self.publish(
                f"rooms/{room}/vitals/mon-1", {"ts": ts, "seq": self.tick, "values": values}
            )
            state = room_state(room, case=self.cases[room], vitals=values, at=at)
            self.publish(f"rooms/{room}/state", state)


async def run() -> dict[str, Any]:
    start = datetime.now(UTC)
    client = FakeSuiteClient(user="bench")
    feed = Feed(client, start)
    app = SuiteApp(client)
    redraw_s: list[float] = []
    plain_redraw = app.redraw

    def timed_redraw() -> None:
        t0 = time.perf_counter()
        plain_redraw()
        redraw_s.append(time.perf_counter() - t0)

    app.redraw = timed_redraw  # type: ignore[method-assign]
    figures: dict[str, Any] = {"rooms": len(ROOMS), "vitals_hz_per_room": 1}
    async with app.run_test(size=(160, 48)) as pilot:

        async def feed_for(seconds: float) -> tuple[float, float, float]:
            """Feed at 1 Hz; returns (wall, cpu, encode) seconds."""
            wall0, cpu0, enc0 = time.perf_counter(), time.process_time(), feed.encode_s
            next_at = wall0
            while time.perf_counter() - wall0 < seconds:
                feed.second()
                next_at += 1.0
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            return (
                time.perf_counter() - wall0,
                time.process_time() - cpu0,
                feed.encode_s - enc0,
            )

        await feed_for(WARMUP_S)
        for name, seconds in (("board", BOARD_S), ("vitals", VITALS_S)):
            if name == "vitals":
                await pilot.press("v")
            redraw_s.clear()
            wall, cpu, encode = await feed_for(seconds)
            figures[name] = {
                "seconds": round(wall, 1),
                "cpu_share_of_one_core": round((cpu - encode) / wall, 3),
                "redraws_per_s": round(len(redraw_s) / wall, 1),
                "redraw_ms_p50": round(statistics.median(redraw_s) * 1000, 2),
                "redraw_ms_p95": round(
                    statistics.quantiles(redraw_s, n=20, method="inclusive")[18] * 1000, 2
                ),
                "redraw_ms_max": round(max(redraw_s) * 1000, 2),
            }
        await pilot.press("b")

        # Key to screen while the feed keeps running.
        latencies: list[float] = []
        feeder = asyncio.create_task(feed_for(PROBES * 1.5))
        for _ in range(PROBES):
            for key, screen in (("v", VitalsScreen), ("b", BoardScreen)):
                t0 = time.perf_counter()
                app.simulate_key(key)  # as the terminal delivers it; pilot.press adds idle waits
                # Polling is the measurement here: how soon the new screen is up and drawn.
                while not (isinstance(app.screen, screen) and app.screen.ready):  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.5)
        await feeder
        figures["key_to_screen_ms"] = {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "max": round(max(latencies) * 1000, 1),
            "presses": len(latencies),
        }
        figures["dropped_readings"] = client.counters()["readings_dropped"]
        # The feed really reached the screen: every room, with this second's values.
        assert len(app.model.rooms) == len(ROOMS), sorted(app.model.rooms)
        latest = app.model.current(ROOMS[-1], "hr")
        assert latest is not None and latest.at is not None
        assert latest.at >= start + timedelta(seconds=feed.tick)
    return figures


async def anchor(seconds: int = 100) -> dict[str, float]:
    """The same feed decoded and folded into the dashboard's model with no Textual at all:
    CPU per simulated second (the part of the dashboard's cost that is not drawing)."""
    client = FakeSuiteClient(user="bench")
    feed = Feed(client, datetime.now(UTC))
    model = SuiteModel()
    cpu0 = time.process_time()
    for _ in range(seconds):
        feed.second()
        for state in client.inbox.states.drain():
            model.apply_state(state)
        for reading in client.inbox.readings.drain():
            model.apply_reading(reading)
    cpu = time.process_time() - cpu0 - feed.encode_s
    return {"decode_and_fold_ms_per_s": round(cpu / seconds * 1000, 2)}


def main() -> None:
    base = asyncio.run(anchor())
    figures = {**asyncio.run(run()), "anchor": base}
    save("tui_redraw", {"machine": machine(), **figures})
