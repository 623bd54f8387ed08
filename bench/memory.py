"""Memory of the service over a simulated hour: 20 rooms, one monitor each at 1 Hz of
simulated time (3,600 samples per room, 72,000 in all, device times 1 s apart), through a
real mosquitto into the whole service, on a simulated clock `SPEED` times real time.

The service (`procsuite.bootstrap.Service`, what `procsuite serve` runs) is a process of its
own (bench/_memory_service.py) on the simulated clock, so its RSS (/proc/<pid>/status VmRSS)
is its own. Content: every room runs a kyphoplasty from check-in to recovery (a step every
90 s, driven through the case service), every monitor desaturates to 86 % for 45 s every
10 minutes and runs a heart rate of 128 for 40 s every 20 minutes, and a scripted nurse
acknowledges each alarm 20 simulated seconds after it is raised, over the MQTT command
channel (simulators/nurse.py), so the latched SpO2 alarms clear.

The monitors are paced by the simulated clock (sample k of every monitor when the clock
reaches start + k s), and the service's backlog (published minus received) is checked
every simulated minute; at the end every sample must be stored.

Two passes of the same hour: RSS (VmRSS, and RssAnon, the heap part) sampled every simulated
minute with nothing else in the service process; then the same with tracemalloc on (1 frame),
its traced size every minute and snapshots (after a `gc.collect()`) at simulated minute
`WARMUP_MIN`, at `STEADY_MIN` (when the 30-minute embolism baseline window is full) and at the
end, compared by file:line. The RSS growth after warm-up is judged against `BOUND_MIB`.

Environment: BENCH_MEMORY_SIM_S (3600), BENCH_MEMORY_SPEED (30: two minutes a pass),
BENCH_MEMORY_PASSES ("plain,tracemalloc").
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from bench._common import machine, save
from bench._memory_service import BenchClock
from bench._mqtt_load import broker
from simulators.clock import SimClock
from simulators.mqtt_commands import CommandLink
from simulators.nurse import ScriptedNurse
from tests.peers import free_port

ROOMS = [f"R{i:02d}" for i in range(1, 21)]
SIM_S = int(os.environ.get("BENCH_MEMORY_SIM_S", "3600"))
SPEED = float(os.environ.get("BENCH_MEMORY_SPEED", "30"))
WARMUP_MIN = 10
# The embolism baseline keeps the last 30 minutes of readings (embolism.history_keep_s): from
# this minute on every window the service keeps is full.
STEADY_MIN = 35
BOUND_MIB = 10.0  # RSS growth allowed from the warm-up to the end of the simulated hour
SITE = "mem"
NURSE = "nurse-mem"
SNAPSHOTS = {WARMUP_MIN: "warm.snap", STEADY_MIN: "steady.snap"}
MIB = 1024 * 1024


def rss_bytes(pid: int) -> dict[str, int]:
    """VmRSS of `pid` and its parts: RssAnon (the heap), RssFile and RssShmem (mapped files,
    e.g. SQLite's WAL index), in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            found[name] = int(value.split()[0]) * 1024
    return found


def vitals(room_index: int, k: int, at: datetime) -> bytes:
    """Sample k (second k of the hour) of room `room_index`'s monitor."""
    spo2 = 86 if 120 <= (k + room_index * 29) % 600 < 165 else 97 - (k // 7) % 2
    hr = 128 if 400 <= (k + room_index * 41) % 1200 < 440 else 70 + (k // 3) % 6
    ts = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    values = {"hr": hr, "spo2": spo2, "nibp_sys": 121 + k % 3, "nibp_dia": 78, "nibp_map": 92,
              "rr": 14, "etco2": 36 + (k // 11) % 2, "temp": 36.6}  # fmt: skip
    return json.dumps({"ts": ts, "seq": k + 1, "values": values}, separators=(",", ":")).encode()


class Child:
    """The service process and its stdin / stdout command line."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        path = workdir / "config.json"
        path.write_text(json.dumps(config))
        self.log = (workdir / "service.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._memory_service", str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )  # fmt: skip
        self.lock = threading.Lock()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the service process ended ({self.proc.poll()}); see its log")
        body: dict[str, Any] = json.loads(line)
        return body

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        with self.lock:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
            return self.read()

    def rss(self) -> dict[str, int]:
        return rss_bytes(self.proc.pid)

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                self.ask("stop")
            self.proc.wait(90)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()


def monitors(
    port: int, child: Child, clock: BenchClock, workdir: Path, *, traced: bool
) -> dict[str, Any]:
    """Publish the hour (paced by `clock`), sample RSS every simulated minute; returns the
    curve and the checks. Runs in a thread."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="memory-monitors")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    root = f"procsuite/{SITE}"
    for room in ROOMS:
        client.publish(f"{root}/rooms/{room}/devices/mon-{room}/status", b"online", qos=1,
                       retain=True)  # fmt: skip
    curve: list[dict[str, Any]] = []
    max_backlog = 0
    published = 0
    real0 = time.monotonic()
    try:
        for k in range(SIM_S + 1):
            if k % 60 == 0:  # every simulated minute, before its samples
                stats = child.ask("stats")
                backlog = published - stats["received"]
                max_backlog = max(max_backlog, backlog)
                rss = child.rss()
                curve.append({
                    "minute": k // 60, "rss": rss["VmRSS"], "rss_anon": rss["RssAnon"],
                    "rss_file_shmem": rss["RssFile"] + rss["RssShmem"],
                    "traced": stats["traced_bytes"],
                    "backlog": backlog, "store_queue": stats["store_queue"],
                    "open_alarms": stats["open_alarms"],
                })  # fmt: skip
                if traced and k // 60 in SNAPSHOTS:
                    child.ask(f"snapshot {workdir / SNAPSHOTS[k // 60]}")
            if k == SIM_S:
                break
            at = clock.start + timedelta(seconds=k)
            wait = (at - clock()).total_seconds() / clock.speed
            if wait > 0:
                time.sleep(wait)
            for i, room in enumerate(ROOMS):
                client.publish(f"{root}/rooms/{room}/vitals/mon-{room}", vitals(i, k, at), qos=1)
                published += 1
    finally:
        client.loop_stop()
        client.disconnect()
    real_s = time.monotonic() - real0
    deadline = time.monotonic() + 120
    while (stats := child.ask("stats"))["written"] < published and time.monotonic() < deadline:
        time.sleep(0.1)
    rss = child.rss()
    end = {"minute": SIM_S // 60, "rss": rss["VmRSS"], "rss_anon": rss["RssAnon"],
           "rss_file_shmem": rss["RssFile"] + rss["RssShmem"], "traced": stats["traced_bytes"]}  # fmt: skip
    if traced:
        child.ask(f"snapshot {workdir / 'end.snap'}")
    return {"curve": curve, "end": end, "published": published, "stats": stats,
            "max_backlog": max_backlog, "real_s": round(real_s, 1)}  # fmt: skip


def growth_top(workdir: Path, since: str, n: int = 12) -> list[dict[str, Any]]:
    """The largest changes from the snapshot `since` to the end snapshot, by file:line."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<*>")]
    warm = tracemalloc.Snapshot.load(str(workdir / since)).filter_traces(ignore)
    end = tracemalloc.Snapshot.load(str(workdir / "end.snap")).filter_traces(ignore)
    here = str(Path(__file__).resolve().parent.parent) + "/"
    top = []
    for stat in end.compare_to(warm, "lineno")[:n]:
        frame = stat.traceback[0]
        top.append({
            "where": f"{frame.filename.replace(here, '')}:{frame.lineno}",
            "growth_kib": round(stat.size_diff / 1024, 1), "size_kib": round(stat.size / 1024, 1),
            "count_diff": stat.count_diff,
        })  # fmt: skip
    return top


async def one_pass(workdir: Path, *, traced: bool) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0)
    with broker() as mosq:
        config = {
            "site": SITE, "data_dir": str(workdir / "var"), "port": mosq.port,
            "dicom_port": free_port(), "hl7_port": free_port(), "rooms": ROOMS, "nurse": NURSE,
            "start": start.isoformat(), "speed": SPEED, "tracemalloc": traced,
        }  # fmt: skip
        child = Child(config, workdir)
        try:
            ready = await asyncio.to_thread(child.read)
            clock = BenchClock(start, SPEED, ready["t0"])
            async with AsyncExitStack() as stack:
                link = await stack.enter_async_context(
                    CommandLink(mosq.url, site=SITE, user=NURSE, watch_alarms=ROOMS)
                )
                sim = SimClock(start=clock(), speed=SPEED)
                nurse = ScriptedNurse(link, clock=sim, reaction_s=20)
                nursing = asyncio.create_task(nurse.run(), name="nurse")
                try:
                    run = await asyncio.to_thread(monitors, mosq.port, child, clock, workdir,
                                                  traced=traced)  # fmt: skip
                finally:
                    nursing.cancel()
            run["acknowledged"] = len(nurse.acknowledged)
        finally:
            await asyncio.to_thread(child.stop)
    db = workdir / "var" / "procsuite.db"
    run["stored_rows"] = await asyncio.to_thread(count_rows, db)
    if traced:
        run["top_growth_from_warmup"] = growth_top(workdir, "warm.snap")
        run["top_growth_from_steady"] = growth_top(workdir, "steady.snap")
    return run


def count_rows(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM vital_samples").fetchone()[0])


def summary(run: dict[str, Any], *, key: str) -> dict[str, Any]:
    """Warm-up, steady (windows full) and end values of `key` ("rss" or "traced"), in MiB."""
    curve = run["curve"]
    at = {p["minute"]: p[key] for p in curve}
    end = run["end"][key]
    after = [v for m, v in at.items() if m >= WARMUP_MIN] + [end]
    late_hours = (SIM_S / 60 - STEADY_MIN) / 60
    return {
        "warmup_mib": round(at[WARMUP_MIN] / MIB, 1),
        "steady_mib": round(at[STEADY_MIN] / MIB, 1),
        "end_mib": round(end / MIB, 1),
        "max_mib": round(max([*at.values(), end]) / MIB, 1),
        "max_after_warmup_mib": round(max(after) / MIB, 1),
        "growth_after_warmup_mib": round((end - at[WARMUP_MIN]) / MIB, 2),
        "growth_per_sim_hour_when_steady_mib": round((end - at[STEADY_MIN]) / MIB / late_hours, 2),
    }


def main() -> None:
    figures: dict[str, Any] = {
        "machine": machine(), "rooms": len(ROOMS), "sim_seconds": SIM_S, "speed": SPEED,
        "warmup_minute": WARMUP_MIN, "bound_mib": BOUND_MIB,
    }  # fmt: skip
    passes = os.environ.get("BENCH_MEMORY_PASSES", "plain,tracemalloc").split(",")
    for name, traced in (("plain", False), ("tracemalloc", True)):
        if name not in passes:
            continue
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            run = asyncio.run(one_pass(Path(tmp), traced=traced))
        run["summary"] = summary(run, key="traced" if traced else "rss")
        if not traced:
            run["summary_anon"] = summary(run, key="rss_anon")
        run["all_stored"] = run["stored_rows"] == run["published"] == len(ROOMS) * SIM_S
        figures[name] = run
        print(json.dumps({name: run["summary"], "all_stored": run["all_stored"]}), flush=True)
    if "plain" in figures:
        plain = figures["plain"]["summary"]
        figures["within_bound"] = plain["max_after_warmup_mib"] - plain["warmup_mib"] < BOUND_MIB
    save("memory", figures)
