"""Shared by the MQTT benchmarks: a private mosquitto tuned for load, vitals payloads, and
publishers (`mosquitto_pub -l`, the real C client, one process per monitor)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from tests.peers import Mosquitto, run_mosquitto

# No per-client limits in the way of the measurement: unlimited in-flight QoS 1 messages
# towards the subscriber and an unlimited queue.
LOAD_CONFIG = "max_inflight_messages 0\nmax_queued_messages 0\n"


@contextmanager
def broker() -> Iterator[Mosquitto]:
    with run_mosquitto(LOAD_CONFIG) as mosq:
        yield mosq


def sample_line(at: datetime, seq: int, *, spo2: float = 97) -> str:
    ts = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    values = {"hr": 72 + seq % 5, "spo2": spo2, "nibp_sys": 121, "nibp_dia": 78,
              "nibp_map": 92, "rr": 14, "etco2": 36, "temp": 36.6}  # fmt: skip
    return json.dumps({"ts": ts, "seq": seq, "values": values}, separators=(",", ":"))


@contextmanager
def monitor_files(
    root: str, rooms: list[str], monitors: int, per_monitor: int, start: datetime
) -> Iterator[list[tuple[str, Path]]]:
    """(topic, file of one JSON sample per line) for each monitor, spread over the rooms."""
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        jobs = []
        for m in range(monitors):
            room = rooms[m % len(rooms)]
            topic = f"{root}/rooms/{room}/vitals/mon-{m}"
            path = Path(tmp) / f"mon-{m}.txt"
            with path.open("w") as f:
                for seq in range(1, per_monitor + 1):
                    f.write(sample_line(start + timedelta(milliseconds=seq), seq) + "\n")
            jobs.append((topic, path))
        yield jobs


def publish_files(port: int, jobs: list[tuple[str, Path]], *, qos: int) -> None:
    """Run one `mosquitto_pub -l` per monitor at once and wait for all of them."""
    binary = shutil.which("mosquitto_pub")
    if binary is None:
        raise SystemExit("bench: mosquitto_pub is not installed (Debian package mosquitto-clients)")
    procs = []
    for topic, path in jobs:
        with path.open("rb") as stdin:
            procs.append(
                subprocess.Popen(
                    [binary, "-h", "127.0.0.1", "-p", str(port), "-q", str(qos), "-l", "-t", topic],
                    stdin=stdin,
                )
            )
    for proc in procs:
        proc.wait(120)
