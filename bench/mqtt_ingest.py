"""Sustained vitals ingest through a real mosquitto into the service, against the ceiling of
the stack measured in the same run: a bare aiomqtt subscriber on the same broker.

Ten monitors in ten rooms, each room with an open case, publish with `mosquitto_pub -l` (the C
client) all eight parameters per sample, as fast as it goes. The service runs whole
(`Service.run`: alarm evaluation, batched storage in SQLite with synchronous=FULL, room state
publication); the clock starts at its first received message and stops when the last one
is accepted (ingest) and when the last one is committed (stored). The bare subscriber only
counts messages. QoS 0 and QoS 1 (what a monitor should use) are measured separately.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from bench._common import machine, save
from bench._mqtt_load import broker, monitor_files, publish_files
from procsuite.bootstrap import Service
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.settings import load_settings
from tests.scenarios import schedule

MONITORS = 10
PER_MONITOR = int(os.environ.get("BENCH_MQTT_PER_MONITOR", "6000"))
ROOMS = [f"IR{i}" for i in range(1, MONITORS + 1)]
ROOT = "procsuite/bench"


async def bare(port: int, qos: int, total: int) -> dict[str, Any]:
    start = datetime.now(UTC)
    with monitor_files(ROOT, ROOMS, MONITORS, total // MONITORS, start) as jobs:
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"bare-{qos}") as client:
            await client.subscribe(f"{ROOT}/rooms/+/vitals/+", qos=qos)
            feeder = asyncio.create_task(asyncio.to_thread(publish_files, port, jobs, qos=qos))
            n, first, last, cpu_first, cpu_last = 0, 0.0, 0.0, 0.0, 0.0
            try:
                async with asyncio.timeout(120):
                    async for _message in client.messages:
                        last = time.perf_counter()
                        cpu_last = time.thread_time()
                        if n == 0:
                            first, cpu_first = last, cpu_last
                        n += 1
                        if n == total:
                            break
            finally:
                await feeder
    return {
        "messages": n,
        "seconds": round(last - first, 3),
        "msgs_per_s": round(n / (last - first)),
        **_loop_cpu(cpu_last - cpu_first, last - first, n),
    }


def _loop_cpu(cpu_s: float, wall_s: float, n: int) -> dict[str, float]:
    """The event loop's thread: CPU per message, and how busy it was (1.0: saturated, so the
    figure is the process's own cost; well below: it waited for the broker or the machine)."""
    return {"loop_cpu_us_per_msg": round(cpu_s / n * 1e6, 1), "loop_busy": round(cpu_s / wall_s, 2)}


async def service(port: int, qos: int, total: int, data_dir: Path) -> dict[str, Any]:
    settings = load_settings(
        site="bench",
        data_dir=data_dir,
        mqtt_url=f"mqtt://127.0.0.1:{port}",
        rooms=ROOMS,
        # Ten monitors each far above a real one: the flood guard is for real suites.
        mqtt={"client_id": f"bench-service-{qos}", "max_device_rate": 1_000_000},
        alarms={"config": {"clock_skew_s": 86_400, "stale_feed_s": 3_600}},
    )
    svc = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    try:
        await asyncio.wait_for(svc.ready.wait(), 30)
        assert svc.ctx is not None
        from adapters.mqtt.runner import MqttRunner

        runner = next(x for x in svc.ctx.components if isinstance(x, MqttRunner))
        await asyncio.wait_for(runner.connected.wait(), 30)
        now = datetime.now(UTC)
        for i, room in enumerate(ROOMS):
            case_id = f"bench-{qos}-{i}"
            await svc.ctx.cases.execute(
                case_id, schedule(now - timedelta(hours=1), room=room, accession=f"A{qos}-{i}"),
                actor="bench", source=Source.SYSTEM,
            )  # fmt: skip
            await svc.ctx.cases.execute(
                case_id, c.CheckIn(at=now), actor="bench", source=Source.SYSTEM
            )
        ingest, recorder = runner.ingest, runner.ingest.recorder
        base_received, base_written = ingest.received, recorder.written
        with monitor_files(ROOT, ROOMS, MONITORS, total // MONITORS, now) as jobs:
            feeder = asyncio.create_task(asyncio.to_thread(publish_files, port, jobs, qos=qos))
            first = accepted_at = stored_at = cpu_first = cpu_stored = 0.0
            async with asyncio.timeout(180):
                while True:
                    got = ingest.received - base_received
                    t = time.perf_counter()
                    if got and not first:
                        first, cpu_first = t, time.thread_time()
                    if got >= total and not accepted_at:
                        accepted_at = t
                    if recorder.written - base_written >= total:
                        stored_at, cpu_stored = t, time.thread_time()
                        break
                    await asyncio.sleep(0.002)
            await feeder
        faults = sum(ingest.samples.totals.values())
        return {
            "messages": ingest.received - base_received,
            "ingest_seconds": round(accepted_at - first, 3),
            "ingest_msgs_per_s": round(total / (accepted_at - first)),
            "stored_seconds": round(stored_at - first, 3),
            "stored_msgs_per_s": round(total / (stored_at - first)),
            **_loop_cpu(cpu_stored - cpu_first, stored_at - first, total),
            "faults": faults,
            "db_commits": svc.ctx.db.batches,
            "alarm_events": runner.commands.actions.alarms.stored,
        }
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def main() -> None:
    total = MONITORS * PER_MONITOR
    figures: dict[str, Any] = {"machine": machine(), "monitors": MONITORS, "samples": total}
    with broker() as mosq, tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for qos in (0, 1):
            b = asyncio.run(bare(mosq.port, qos, total))
            s = asyncio.run(service(mosq.port, qos, total, Path(tmp) / f"q{qos}"))
            figures[f"qos{qos}"] = {
                "bare_aiomqtt": b,
                "service": s,
                "ratio_ingest": round(s["ingest_msgs_per_s"] / b["msgs_per_s"], 2),
                "ratio_stored": round(s["stored_msgs_per_s"] / b["msgs_per_s"], 2),
            }
    save("mqtt_ingest", figures)
