"""The pure alarm engine alone: samples per second through `AlarmEngine.observe`.

100 monitors in 50 rooms send all eight parameters once a (simulated) second, the service
ticks once per simulated second, half the rooms are in cement injection (the embolism rule
armed, its baseline frozen) and one monitor in ten drifts out of range now and then, so
delays, hysteresis, raises and clears all run. The anchor, measured in the same run, is a
naive threshold check of the same samples (each value against a static low / high), the
floor of any per-sample evaluation in Python.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench._common import save
from suite.domain.alarms import AlarmConfig, AlarmEngine, Param, VitalSample
from suite.domain.values import Phase

MONITORS = 100
SECONDS = 300  # simulated seconds: 30,000 samples
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NORMAL = {
    Param.HR: 72.0,
    Param.SPO2: 97.0,
    Param.NIBP_SYS: 125.0,
    Param.NIBP_DIA: 78.0,
    Param.NIBP_MAP: 92.0,
    Param.RR: 14.0,
    Param.ETCO2: 37.0,
    Param.TEMP: 36.6,
}


def samples(rng: random.Random) -> list[VitalSample]:
    out = []
    for second in range(SECONDS):
        at = T0 + timedelta(seconds=second)
        for m in range(MONITORS):
            values = {p: v + rng.uniform(-2, 2) for p, v in NORMAL.items()}
            if m % 10 == 0 and (second // 40) % 2:  # a desaturating patient, on and off
                values[Param.SPO2] = 86 + rng.uniform(-2, 2)
            out.append(VitalSample(f"OR{m % 50}", f"mon{m}", at, values, seq=second))
    return out


def run_engine(batch: list[VitalSample]) -> tuple[float, list[int], int]:
    engine = AlarmEngine(AlarmConfig())
    for r in range(50):
        if r % 2:
            engine.set_context(
                f"OR{r}", case_id=f"c{r}", phase=Phase.CEMENT_INJECTION,
                injection=("L1", T0 + timedelta(seconds=120)), now=T0,
            )  # fmt: skip
    per_call: list[int] = []
    events = 0
    start = time.perf_counter()
    for i, sample in enumerate(batch):
        t = time.perf_counter_ns()
        events += len(engine.observe(sample, now=sample.at))
        per_call.append(time.perf_counter_ns() - t)
        if i % MONITORS == MONITORS - 1:
            events += len(engine.tick(now=sample.at))
    return time.perf_counter() - start, per_call, events


def run_anchor(batch: list[VitalSample]) -> float:
    limits = {p: (v * 0.8, v * 1.2) for p, v in NORMAL.items()}
    out = 0
    start = time.perf_counter()
    for sample in batch:
        for param, value in sample.values.items():
            low, high = limits[param]
            if value is not None and not low <= value <= high:
                out += 1
    return time.perf_counter() - start


def main() -> None:
    batch = samples(random.Random(7))
    elapsed, per_call, events = run_engine(batch)
    anchor = run_anchor(batch)
    per_call.sort()
    rate = len(batch) / elapsed
    anchor_rate = len(batch) / anchor
    save(
        "alarm_engine",
        {
            "samples": len(batch),
            "values_per_sample": len(NORMAL),
            "alarm_events": events,
            "engine_samples_per_s": round(rate),
            "anchor_threshold_check_samples_per_s": round(anchor_rate),
            "engine_vs_anchor": round(rate / anchor_rate, 3),
            "observe_p50_us": round(per_call[len(per_call) // 2] / 1000, 1),
            "observe_p99_us": round(per_call[int(len(per_call) * 0.99)] / 1000, 1),
            "observe_mean_us": round(statistics.fmean(per_call) / 1000, 1),
        },
    )
