"""How fast `procsuite demo` is up, and how fast Ctrl-C takes it down (issue 6: "the demo
starts in under 5 seconds on this machine and stops cleanly with Ctrl-C").

Each round starts `procsuite demo --headless --speed 60` in a fresh temporary directory on
free ports, as a user would (a new interpreter: imports, the database migrations, the
embedded broker, the DICOM and HL7 listeners, the simulated HIS), and measures the wall time
from the spawn to:

- "ready": the line the demo prints once the broker answers MQTT and every listener accepts
  connections;
- the first progress line (the HIS's first order acknowledged);
- the first case step (IR1 checked in, two simulated minutes later = 2 s at 60x);

then sends SIGINT and measures the time until the process has exited (summary printed).
Anchor in the same run: `procsuite --help` (the interpreter and procsuite's imports, no
work), the floor of any `procsuite` command.

    .venv/bin/python -m bench demo_startup        (DEMO_BENCH_ROUNDS=3)
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench._common import machine, save

ROUNDS = int(os.environ.get("DEMO_BENCH_ROUNDS", "3"))
PROCSUITE = [sys.executable, "-c", "import sys; from procsuite.cli import main; sys.exit(main())"]


def one_round() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [*PROCSUITE, "demo", "--headless", "--speed", "60", "--mqtt-port", "0",
             "--dicom-port", "0", "--hl7-port", "0", "--his-port", "0"],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        marks: dict[str, float] = {}
        try:
            while "step" not in marks:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"the demo ended early: {proc.communicate()[1][-2000:]}")
                now = time.perf_counter() - began
                if line.startswith("procsuite demo ready"):
                    marks["ready"] = now
                elif "ready" in marks and "first_line" not in marks:
                    marks["first_line"] = now
                if "phase checked_in" in line:
                    marks["step"] = now
            stopping = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
            marks["stop"] = time.perf_counter() - stopping
            marks["exit_code"] = float(proc.returncode)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return marks


def anchor() -> float:
    began = time.perf_counter()
    subprocess.run([*PROCSUITE, "--help"], check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    rounds = [one_round() for _ in range(ROUNDS)]
    anchors = [anchor() for _ in range(ROUNDS)]
    figures: dict[str, Any] = {"rounds": rounds, "anchor_help_s": [round(a, 2) for a in anchors]}
    for key in ("ready", "first_line", "step", "stop"):
        values = [r[key] for r in rounds]
        figures[f"{key}_s_median"] = round(statistics.median(values), 2)
        figures[f"{key}_s_max"] = round(max(values), 2)
    figures["anchor_help_s_median"] = round(statistics.median(anchors), 2)
    figures["exit_codes"] = sorted({int(r["exit_code"]) for r in rounds})
    save("demo_startup", {"machine": machine(), **figures})
