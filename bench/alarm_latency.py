"""Alarm latency: from the publish of the sample that completes an SpO2 alarm's delay to the
alarm event arriving on `procsuite/<site>/alarms/<room>`, at 1,000 samples/s from 100
simulated monitors, through a real mosquitto into the whole service.

The monitors run in their own process (bench/_latency_monitors.py, paho, QoS 1): 20 rooms of
5 monitors, 10 samples/s each, all eight parameters. In each room one monitor at a time
desaturates (85 % for 2.5 s); the limit is 90 % with a 2 s delay on device time, medium
priority (not latching, so each episode raises its own alarm). A paho subscriber in a
thread of this process timestamps each "raised" event; the k-th alarm of a room is matched
with the room's k-th episode. Both ends read the same wall clock.

Measured twice: on the default SQLite store, and on a private PostgreSQL that is stopped just
before the monitors start (issue 14: alarms are announced from the local alarm journal and
never wait for the database), so the whole run is a database outage.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from bench._common import machine, save
from bench._mqtt_load import broker
from procsuite.bootstrap import Service
from suite.settings import load_settings
from tests.peers import postgres_bin, run_postgres

ROOMS, PER_ROOM, RATE_HZ = 20, 5, 10.0
SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "30"))
ROOT = "procsuite/lat"


class AlarmWatcher:
    """Timestamps every spo2_low "raised" event, from a paho network thread."""

    def __init__(self, port: int) -> None:
        self.raised: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="latency-watcher")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{ROOT}/alarms/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        arrived = time.time()
        body = json.loads(message.payload)
        if body.get("event") == "raised" and body.get("kind") == "spo2_low":
            with self.lock:
                self.raised.setdefault(body["room"], []).append(arrived)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def run(
    port: int, data_dir: Path, out: Path, *, db_url: str | None = None, stop_db: Any = None
) -> dict[str, Any]:
    extra = {"db_url": db_url} if db_url else {}
    settings = load_settings(
        **extra,
        site="lat",
        data_dir=data_dir,
        mqtt_url=f"mqtt://127.0.0.1:{port}",
        rooms=[f"R{r}" for r in range(ROOMS)],
        mqtt={"client_id": "latency-service"},
        alarms={
            "config": {
                "limits": {
                    "spo2": {
                        "low": 90,
                        "delay_s": 2,
                        "hysteresis": 2,
                        "clear_delay_s": 0.5,
                        "priority_low": "medium",
                    },
                },  # fmt: skip
                # A reading counts as current only until the next one is due, so the alarm is
                # raised by the sample that completes the delay, not by a tick before it.
                "sample_hold_s": 0.01,
                "clock_skew_s": 3600,
                "stale_feed_s": 60,
            }
        },
    )
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    watcher = None
    try:
        await asyncio.wait_for(service.ready.wait(), 30)
        assert service.ctx is not None
        from adapters.mqtt.runner import MqttRunner

        runner = next(x for x in service.ctx.components if isinstance(x, MqttRunner))
        await asyncio.wait_for(runner.connected.wait(), 30)
        watcher = AlarmWatcher(port)
        if stop_db is not None:
            await asyncio.to_thread(stop_db)
        cpu0 = time.process_time()
        args = [sys.executable, "-m", "bench._latency_monitors", str(port), ROOT, str(ROOMS),
                str(PER_ROOM), str(RATE_HZ), str(SECONDS), str(out)]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE)
        stdout, _ = await proc.communicate()
        await asyncio.sleep(3)  # the last alarms
        cpu = time.process_time() - cpu0
        published = json.loads(stdout)
        received = runner.ingest.received
        waiting = service.ctx.alarms.journal.queued
    finally:
        if watcher is not None:
            watcher.close()
        stop.set()
        await asyncio.wait_for(task, 60)
    episodes: dict[str, list[dict[str, Any]]] = {}
    for line in (await asyncio.to_thread(out.read_text)).splitlines():
        rec = json.loads(line)
        episodes.setdefault(rec["room"], []).append(rec)
    latencies = []
    unmatched = 0
    for room, eps in episodes.items():
        eps.sort(key=lambda e: e["episode"])
        arrivals = watcher.raised.get(room, []) if watcher else []
        unmatched += abs(len(eps) - len(arrivals))
        latencies += [(a - e["published"]) * 1000 for e, a in zip(eps, arrivals, strict=False)]
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return {
        "monitors": ROOMS * PER_ROOM,
        "samples_published": published["messages"],
        "samples_per_s": round(published["messages"] / SECONDS),
        "samples_received": received,
        "alarms_measured": len(latencies),
        "unmatched": unmatched,
        "latency_ms": {
            "p50": pct(0.50),
            "p99": pct(0.99),
            "max": round(latencies[-1], 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
        "service_cpu_share": round(cpu / (SECONDS + 3), 2),
        "alarm_events_waiting_for_the_store_at_the_end": waiting,
    }


def main() -> None:
    results: dict[str, Any] = {"machine": machine()}
    with broker() as mosq, tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        results["sqlite"] = asyncio.run(
            run(mosq.port, Path(tmp) / "var", Path(tmp) / "episodes.jsonl")
        )
        print(json.dumps({"sqlite": results["sqlite"]}), flush=True)
    if postgres_bin() is None:
        results["postgres_stopped"] = "PostgreSQL not installed"
    else:
        with (
            broker() as mosq,
            run_postgres() as pg,
            tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp,
        ):
            url = pg.create_database("latency")
            results["postgres_stopped"] = asyncio.run(
                run(mosq.port, Path(tmp) / "var", Path(tmp) / "episodes.jsonl", db_url=url,
                    stop_db=pg.stop)
            )  # fmt: skip
    save("alarm_latency", results)
