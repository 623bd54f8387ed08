"""The service of bench/memory.py, in a process of its own so that its RSS is the service's:
`python -m bench._memory_service CONFIG.json`.

It runs `procsuite.bootstrap.Service` (what `procsuite serve` runs) on a simulated clock that
stands still at `start` until the service is ready, then runs `speed` simulated seconds per
real second from the moment it reports "ready" (with that moment's `time.monotonic()`, which
is the same in every process of the machine, so the monitors run on the same clock). The
rooms' cases are driven here through the case service, each step when the simulated clock
reaches its time. With `tracemalloc` set, tracing starts before the service is built.

Commands on stdin, one JSON answer per line on stdout: `stats`, `snapshot PATH` (a
tracemalloc snapshot dumped to PATH), `stop`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from suite.domain import commands as c


class BenchClock:
    """`start` until `go(t0)`, then `start + (time.monotonic() - t0) * speed`."""

    def __init__(self, start: datetime, speed: float, t0: float | None = None) -> None:
        self.start, self.speed, self.t0 = start, speed, t0

    def go(self, t0: float) -> None:
        self.t0 = t0

    def __call__(self) -> datetime:
        if self.t0 is None:
            return self.start
        return self.start + timedelta(seconds=(time.monotonic() - self.t0) * self.speed)


def case_steps(room_index: int, start: datetime) -> Iterator[c.Command]:
    """A kyphoplasty of two levels from check-in to recovery, a step every 90 s, each room
    starting a minute after the previous one (no discharge: the hour ends in recovery)."""
    from tests.scenarios import full_case

    begin = start + timedelta(seconds=60 * (room_index % 10))
    for command in full_case(begin, step_s=90):
        if isinstance(command, c.Discharge):
            return
        if isinstance(command, c.LinkImage):
            uid = f"1.2.826.0.1.3680043.8.498.{room_index + 1}"
            command = dataclasses.replace(command, sop_instance_uid=uid)
        yield command


async def drive_cases(
    service: Any, rooms: list[str], clock: BenchClock, refused: list[str]
) -> None:
    from suite.domain.envelope import Source
    from tests.scenarios import schedule

    cases = service.ctx.cases
    plan: list[tuple[datetime, str, c.Command]] = []
    for i, room in enumerate(rooms):
        case_id = f"mem-{i}"
        command = schedule(clock.start - timedelta(minutes=30), room=room, accession=f"M{i}",
                           mrn=f"MRN{i:04d}")  # fmt: skip
        await cases.execute(case_id, command, actor="bench", source=Source.SYSTEM)
        plan += [(cmd.at, case_id, cmd) for cmd in case_steps(i, clock.start)]
    plan.sort(key=lambda p: p[0])
    for at, case_id, command in plan:
        delay = (at - clock()).total_seconds() / clock.speed
        if delay > 0:
            await asyncio.sleep(delay + 0.001)  # the clock runs evenly: one sleep reaches `at`
        try:
            await cases.execute(case_id, command, actor="bench-tech", source=Source.SYSTEM)
        except Exception as exc:  # a refused step is reported, not fatal
            refused.append(f"{case_id} {type(command).__name__}: {exc}")


def stats(service: Any, refused: list[str]) -> dict[str, Any]:
    from adapters.mqtt.runner import MqttRunner

    ctx = service.ctx
    runner = next(x for x in ctx.components if isinstance(x, MqttRunner))
    ingest, samples, alarms = runner.ingest, runner.ingest.samples, ctx.alarms
    return {
        "received": ingest.received,
        "accepted": samples.accepted,
        "written": samples.recorder.written,
        "store_queue": samples.recorder.queued,
        "faults": dict(samples.totals),
        "alarm_events_stored": alarms.stored,
        "alarm_events_waiting": alarms.queued,
        "open_alarms": len(alarms.active()),
        "refused_steps": refused,
        "phases": sorted(case.phase.value for case in ctx.cases.all()),
        "traced_bytes": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None,
    }


async def serve(config: dict[str, Any]) -> None:
    from adapters.mqtt.runner import MqttRunner
    from procsuite.bootstrap import Service
    from suite.settings import load_settings

    clock = BenchClock(datetime.fromisoformat(config["start"]), config["speed"])
    rooms: list[str] = config["rooms"]
    settings = load_settings(
        site=config["site"],
        data_dir=Path(config["data_dir"]),
        mqtt_url=f"mqtt://127.0.0.1:{config['port']}",
        dicom_port=config["dicom_port"],
        hl7_port=config["hl7_port"],
        rooms=rooms,
        users={config["nurse"]: "nurse"},
        mqtt={"client_id": "memory-service"},
    )
    service = Service(settings, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    refused: list[str] = []
    driver: asyncio.Task[None] | None = None
    loop = asyncio.get_running_loop()

    def answer(body: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()

    try:
        await asyncio.wait_for(service.ready.wait(), 60)
        runner = next(x for x in service.ctx.components if isinstance(x, MqttRunner))
        await asyncio.wait_for(runner.connected.wait(), 30)
        t0 = time.monotonic()
        clock.go(t0)
        driver = asyncio.create_task(drive_cases(service, rooms, clock, refused))
        answer({"ready": True, "t0": t0})
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if not line or line == "stop":
                break
            if line == "stats":
                answer(stats(service, refused))
            elif line.startswith("snapshot "):
                gc.collect()  # garbage in reference cycles is not memory the service keeps
                snapshot = tracemalloc.take_snapshot()
                snapshot.dump(line.split(" ", 1)[1])
                del snapshot
                answer({"snapshot": True})
            else:
                answer({"error": f"unknown command {line!r}"})
    finally:
        if driver is not None:
            driver.cancel()
        stop.set()
        await asyncio.wait_for(task, 60)
    answer({"stopped": True})


def main(argv: list[str]) -> None:
    config = json.loads(Path(argv[0]).read_text())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if config["tracemalloc"]:
        tracemalloc.start(1)
    asyncio.run(serve(config))


if __name__ == "__main__":
    main(sys.argv[1:])
