"""What a bedside monitor sends, tick by tick: pure and deterministic.

`MonitorModel.tick(n)` is the n-th sample period (t = n / rate_hz seconds after the start):
the numerics the monitor shows, as the vitals message it would publish
(docs: MQTT vitals contract), or nothing when a drop-out or an offline episode hides it.

Choices a reader should know:
- HR, SpO2, RR, EtCO2 and temperature are continuous: every message carries them.
- NIBP is measured by a cuff every `nibp_interval_s` (default 180 s), each measurement taking
  `nibp_measure_s` (30 s) to complete. Its three values (sys, dia, map) are sent ONCE, in
  the message of the tick when the measurement completes, stamped with that device time.
  A real monitor keeps showing the last measurement with its time; on the wire each
  measurement is sent once so that its time is its own and the service's "latest reading,
  at most N minutes old" logic sees its true age. Hand-started ("stat") measurements are
  added during vasovagal and embolism episodes (physiology.PatientModel.nibp_stat_times).
- `seq` is the tick number + 1: it counts samples the device took, so a drop-out shows as a
  gap in seq. It restarts at 1 when the monitor restarts, as real devices do.
- ts is the device's own clock: start time + t (+ the clock_skew scenario's offset).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulators.physiology import Baseline, PatientModel, noise
from simulators.scenarios import Kind, Scenario
from suite.clock import iso

Number = int | float


@dataclass(frozen=True, slots=True)
class VitalsMessage:
    """One vitals message as published (values: wire key -> number, or None = no reading)."""

    ts: datetime
    seq: int
    values: dict[str, Number | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ts": iso(self.ts), "seq": self.seq, "values": dict(self.values)}

    def payload(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Tick:
    """The n-th sample period: its simulated time, whether the monitor is on the network,
    and the message it publishes (None: nothing this tick)."""

    n: int
    t_s: float
    online: bool
    message: VitalsMessage | None


class MonitorModel:
    """A monitor attached to one patient, with device-side scenarios applied."""

    def __init__(
        self,
        *,
        start_at: datetime,
        scenarios: tuple[Scenario, ...] = (),
        seed: int = 0,
        rate_hz: float = 1.0,
        nibp_interval_s: float = 180.0,
        nibp_measure_s: float = 30.0,
        baseline: Baseline | None = None,
    ) -> None:
        if start_at.tzinfo is None:
            raise ValueError("start_at needs a time zone")
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        if nibp_interval_s <= 0 or nibp_measure_s < 0:
            raise ValueError("nibp_interval_s must be > 0 and nibp_measure_s >= 0")
        self.start_at = start_at
        self.scenarios = scenarios
        self.seed = seed
        self.rate_hz = rate_hz
        self.nibp_interval_s = nibp_interval_s
        self.nibp_measure_s = nibp_measure_s
        self.baseline = baseline or Baseline.for_patient(seed)
        self.patient = PatientModel(self.baseline, scenarios, seed=seed)
        self._stat_times = self.patient.nibp_stat_times()

    def t_of(self, n: int) -> float:
        return n / self.rate_hz

    def ticks_in(self, seconds: float) -> int:
        return math.ceil(seconds * self.rate_hz - 1e-9)

    def _device(self, kind: Kind, t_s: float) -> Scenario | None:
        for s in self.scenarios:
            if s.kind is kind and s.active(t_s):
                return s
        return None

    def online(self, t_s: float) -> bool:
        """False while an `offline` scenario has the monitor off the network."""
        return self._device(Kind.OFFLINE, t_s) is None

    def skew_s(self, t_s: float) -> float:
        s = self._device(Kind.CLOCK_SKEW, t_s)
        return 0.0 if s is None or s.value is None else s.value

    def nibp_completed(self, t_prev: float, t_s: float) -> float | None:
        """Completion time of the latest cuff measurement finished in (t_prev, t_s]."""
        latest: float | None = None
        k = math.floor((t_s - self.nibp_measure_s) / self.nibp_interval_s)
        if k >= 0:
            done = k * self.nibp_interval_s + self.nibp_measure_s
            if t_prev < done <= t_s:
                latest = done
        i = bisect_right(self._stat_times, t_s)
        if i > 0 and t_prev < self._stat_times[i - 1] <= t_s:
            stat = self._stat_times[i - 1]
            latest = stat if latest is None else max(latest, stat)
        return latest

    def nibp_at(self, t_s: float) -> tuple[int, int, int]:
        """(sys, dia, map) of a cuff measurement completing at `t_s` (with cuff error)."""
        p = self.patient.at(t_s)
        t_ms = round(t_s * 1000)
        sys = round(p.sys + 3.0 * noise(self.seed, 101, t_ms))
        dia = round(p.dia + 2.0 * noise(self.seed, 102, t_ms))
        dia = min(dia, sys - 15)
        return sys, dia, round(dia + (sys - dia) / 3.0)

    def values_at(self, t_s: float, *, t_prev: float) -> dict[str, Number | None]:
        """The numerics of the message at `t_s` (the previous tick was at `t_prev`)."""
        p = self.patient.at(t_s)
        values: dict[str, Number | None] = {
            "hr": round(p.hr),
            "spo2": round(p.spo2),
            "rr": round(p.rr),
            "etco2": round(p.etco2),
            "temp": round(p.temp, 1),
        }
        done = self.nibp_completed(t_prev, t_s)
        if done is not None:
            sys, dia, mean = self.nibp_at(done)
            values.update(nibp_sys=sys, nibp_dia=dia, nibp_map=mean)
        if self._device(Kind.SENSOR_OFF, t_s) is not None:
            values["spo2"] = None  # probe off the finger: the monitor shows "---", no value
        if self._device(Kind.IMPLAUSIBLE, t_s) is not None:
            values["spo2"] = 150  # a wiring or firmware fault, not a patient
            values["hr"] = -5
        return values

    def tick(self, n: int) -> Tick:
        """The n-th sample period (n >= 0)."""
        t_s = self.t_of(n)
        online = self.online(t_s)
        if not online or self._device(Kind.DROPOUT, t_s) is not None:
            return Tick(n, t_s, online, None)
        t_prev = self.t_of(n - 1) if n > 0 else -1.0
        ts = self.start_at + timedelta(seconds=t_s + self.skew_s(t_s))
        message = VitalsMessage(ts=ts, seq=n + 1, values=self.values_at(t_s, t_prev=t_prev))
        return Tick(n, t_s, online, message)
