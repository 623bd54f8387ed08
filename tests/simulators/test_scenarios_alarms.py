"""Each monitor scenario and procsuite's reaction to it, in simulated time.

The simulated monitor's payloads go through procsuite's own MQTT codec
(adapters.mqtt.codec.decode_vitals) into procsuite's alarm engine, ticked once a second on
service time, exactly as the MQTT adapter feeds it; the broker is played by the harness
(an offline episode delivers the last will as the status `offline`). The full path over a
real broker is in test_against_procsuite.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from adapters.mqtt.codec import decode_vitals
from simulators.monitor_model import MonitorModel
from simulators.scenarios import parse_all
from suite.domain.alarms import AlarmConfig, AlarmEngine
from suite.domain.alarms.model import AlarmEvent, AlarmRaised
from suite.domain.values import Phase

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ROOM, DEVICE = "IR1", "mon1"


@dataclass
class Played:
    raised: list[tuple[float, str]] = field(default_factory=list)
    events: list[AlarmEvent] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [k for _, k in self.raised]

    def first(self, kind: str) -> float | None:
        return next((t for t, k in self.raised if k == kind), None)


def play(
    *specs: str,
    seconds: float,
    seed: int = 7,
    phases: dict[float, Phase] | None = None,
) -> Played:
    """Run the monitor for `seconds` and feed procsuite's engine as the adapter would."""
    m = MonitorModel(start_at=T0, scenarios=parse_all(list(specs)), seed=seed)
    engine = AlarmEngine(AlarmConfig())
    out = Played()
    phases = dict(phases or {})
    online = True

    def take(events: list[AlarmEvent], t: float) -> None:
        out.events += events
        out.raised += [(t, e.kind) for e in events if isinstance(e, AlarmRaised)]

    for n in range(m.ticks_in(seconds)):
        tick = m.tick(n)
        now = T0 + timedelta(seconds=tick.t_s)
        for t_phase in sorted(p for p in phases if p <= tick.t_s):
            phase = phases.pop(t_phase)
            take(
                engine.set_context(ROOM, case_id="case-1", phase=phase, injection=None, now=now),
                tick.t_s,
            )
        if tick.online != online:
            online = tick.online
            take(engine.device_status(ROOM, DEVICE, online=online, now=now), tick.t_s)
        if tick.message is not None:
            decoded = decode_vitals(ROOM, DEVICE, tick.message.payload(), max_bytes=65_536)
            take(engine.observe(decoded.sample, now=now), tick.t_s)
        take(engine.tick(now=now), tick.t_s)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_a_stable_patient_raises_no_alarm_in_an_hour(seed: int) -> None:
    played = play("stable", seconds=3600, seed=seed)
    assert played.raised == []


def test_oversedation_raises_respiratory_alarms_before_the_desaturation_alarm() -> None:
    played = play("oversedation@300+600", seconds=1000, phases={0: Phase.SEDATION})
    rr, etco2, spo2 = (played.first(k) for k in ("rr_low", "etco2_high", "spo2_low"))
    assert rr is not None and etco2 is not None and spo2 is not None, played.kinds()
    assert 300 < rr < spo2 and etco2 < spo2


def test_vasovagal_raises_heart_rate_and_blood_pressure_alarms() -> None:
    played = play("vasovagal@300+180", seconds=600, phases={0: Phase.POSITIONING})
    assert played.first("hr_low") is not None, played.kinds()
    assert played.first("nibp_sys_low") is not None, played.kinds()
    assert "suspected_cement_embolism" not in played.kinds()


def test_embolism_during_cement_injection_raises_the_embolism_alarm() -> None:
    played = play(
        "embolism@660+240",
        seconds=900,
        phases={0: Phase.LOCAL_ANESTHESIA, 640: Phase.CEMENT_INJECTION},
    )
    t = played.first("suspected_cement_embolism")
    assert t is not None, played.kinds()
    assert 660 < t <= 660 + 60
    raised = next(
        e
        for e in played.events
        if isinstance(e, AlarmRaised) and e.kind == "suspected_cement_embolism"
    )
    assert raised.priority.value == "high"
    # The same episode outside cement injection is only limit alarms: the pattern needs
    # the injection context.
    outside = play("embolism@660+240", seconds=900, phases={0: Phase.LOCAL_ANESTHESIA})
    assert "spo2_low" in outside.kinds()
    assert "suspected_cement_embolism" not in outside.kinds()


def test_sensor_off_raises_the_technical_sensor_off_alarm() -> None:
    played = play("sensor_off@120+60", seconds=240)
    assert played.kinds() == ["spo2_sensor_off"]
    assert 120 < (played.first("spo2_sensor_off") or 0) <= 135


def test_feed_dropout_raises_stale_feed() -> None:
    played = play("dropout@120+60", seconds=240)
    assert played.kinds() == ["stale_feed"]
    assert 130 <= (played.first("stale_feed") or 0) <= 140


def test_clock_skew_raises_the_clock_skew_alarm() -> None:
    played = play("clock_skew=300", seconds=120)
    assert played.kinds() == ["clock_skew"]


def test_implausible_values_raise_implausible_alarms_not_physiological_ones() -> None:
    played = play("implausible@60+20", seconds=120)
    assert sorted(set(played.kinds())) == ["implausible_hr", "implausible_spo2"]


def test_offline_raises_device_offline() -> None:
    played = play("offline@60+60", seconds=180)
    assert "device_offline" in played.kinds()
    assert played.first("device_offline") == 60.0
