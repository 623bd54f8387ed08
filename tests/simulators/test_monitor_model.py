"""The monitor model in simulated time: each scenario produces the signature it promises."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulators.monitor_model import MonitorModel
from simulators.physiology import Baseline
from simulators.scenarios import Kind, Scenario, ScenarioError, parse_all
from suite.clock import iso as iso_ms

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def model(*specs: str, seed: int = 7, **kw: Any) -> MonitorModel:
    return MonitorModel(start_at=T0, scenarios=parse_all(list(specs)), seed=seed, **kw)


def series(
    m: MonitorModel, key: str, start_s: float, end_s: float
) -> list[tuple[float, float | None]]:
    out = []
    for n in range(m.ticks_in(start_s), m.ticks_in(end_s)):
        tick = m.tick(n)
        if tick.message is not None and key in tick.message.values:
            out.append((tick.t_s, tick.message.values[key]))
    return out


def first_time(points: list[tuple[float, float | None]], predicate: object) -> float | None:
    return next((t for t, v in points if v is not None and predicate(v)), None)  # type: ignore[operator]


# ---- scenario texts ---------------------------------------------------------------------------


def test_scenario_texts_parse_with_units_defaults_and_aliases() -> None:
    assert Scenario.parse("embolism@10m+2m") == Scenario(Kind.EMBOLISM, 600.0, 120.0, None)
    assert Scenario.parse("vasovagal@90") == Scenario(Kind.VASOVAGAL, 90.0, 180.0, None)
    assert Scenario.parse("skew=-600") == Scenario(Kind.CLOCK_SKEW, 0.0, None, -600.0)
    assert Scenario.parse("probe-off@1h+30s").kind is Kind.SENSOR_OFF
    assert [s.kind for s in parse_all(["stable", "dropout@5+5,implausible@20"])] == [
        Kind.STABLE,
        Kind.DROPOUT,
        Kind.IMPLAUSIBLE,
    ]
    assert str(Scenario.parse("embolism@600+120")) == "embolism@600+120"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("bradycardia@10", "unknown scenario 'bradycardia'; known: stable"),
        ("embolism@ten", "is not KIND[@START][+DURATION][=VALUE]"),
        ("dropout@5+0", "duration must be > 0"),
    ],
)
def test_bad_scenario_texts_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(says)):
        Scenario.parse(text)


# ---- the stable patient -----------------------------------------------------------------------


def test_same_seed_same_patient_other_seed_other_patient() -> None:
    a, b, c = model(seed=3), model(seed=3), model(seed=4)
    assert [a.tick(n).message for n in range(50)] == [b.tick(n).message for n in range(50)]
    assert a.baseline != c.baseline
    assert a.tick(10).message != c.tick(10).message


def test_payload_is_the_wire_contract() -> None:
    m = model()
    tick = m.tick(30)  # the first cuff measurement completes at 30 s
    assert tick.message is not None
    data = json.loads(tick.message.payload())
    assert data["ts"] == "2026-11-24T09:00:30.000Z"
    assert data["seq"] == 31
    assert set(data["values"]) == {
        "hr",
        "spo2",
        "rr",
        "etco2",
        "temp",
        "nibp_sys",
        "nibp_dia",
        "nibp_map",
    }
    v = data["values"]
    assert all(isinstance(v[k], int) for k in ("hr", "spo2", "rr", "etco2", "nibp_sys"))
    assert v["nibp_sys"] > v["nibp_map"] > v["nibp_dia"]
    assert iso_ms(T0 + timedelta(milliseconds=250)) == "2026-11-24T09:00:00.250Z"


def test_stable_patient_stays_near_their_baseline_with_noise_and_trends() -> None:
    m = model(seed=11)
    b = m.baseline
    hr = [v for _, v in series(m, "hr", 0, 3600) if v is not None]
    spo2 = [v for _, v in series(m, "spo2", 0, 3600) if v is not None]
    assert len(hr) == 3600
    assert abs(sum(hr) / len(hr) - b.hr) < 3
    assert max(hr) - min(hr) >= 4  # noise and trends: not a flat line
    assert all(abs(v - b.hr) <= 12 for v in hr)
    assert all(90 <= v <= 100 for v in spo2)


def test_nibp_comes_once_per_cuff_cycle_and_stat_measurements_are_added() -> None:
    m = model(nibp_interval_s=180)
    times = [t for t, _ in series(m, "nibp_sys", 0, 1000)]
    assert times == [30.0, 210.0, 390.0, 570.0, 750.0, 930.0]
    v = model("vasovagal@300+120")
    stat = [t for t, _ in series(v, "nibp_sys", 0, 600)]
    assert stat == [30.0, 210.0, 340.0, 390.0, 400.0, 570.0]


def test_rate_sets_the_sample_period() -> None:
    m = model(rate_hz=2.0)
    ts = [m.tick(n).message.ts for n in range(4)]  # type: ignore[union-attr]
    assert [(t - T0).total_seconds() for t in ts] == [0.0, 0.5, 1.0, 1.5]


# ---- physiological scenarios ------------------------------------------------------------------


def test_oversedation_breathing_fails_first_then_saturation() -> None:
    m = model("oversedation@120+600")
    rr, etco2, spo2 = (series(m, k, 0, 900) for k in ("rr", "etco2", "spo2"))
    rr_low = first_time(rr, lambda v: v < 8)
    etco2_high = first_time(etco2, lambda v: v > 50)
    spo2_low = first_time(spo2, lambda v: v < 90)
    assert rr_low is not None and etco2_high is not None and spo2_low is not None
    assert 120 < rr_low < spo2_low
    assert etco2_high < spo2_low
    assert min(v for _, v in spo2 if v is not None) <= 86
    assert all(v is not None and v >= 93 for t, v in spo2 if t < 120)  # fine before it
    assert all(v is not None and v >= 92 for t, v in spo2 if t > 900 - 60)  # and after recovery


def test_vasovagal_brings_bradycardia_with_hypotension() -> None:
    m = model("vasovagal@300+180")
    hr = series(m, "hr", 300, 480)
    sys = series(m, "nibp_sys", 300, 480)
    assert min(v for _, v in hr if v is not None) <= 45
    assert sys and all(v is not None and v < 90 for _, v in sys)  # stat cuff readings
    assert all(v is not None and v > 50 for _, v in series(m, "hr", 0, 290))


def test_cement_embolism_is_a_sudden_fall_in_spo2_and_etco2_with_shock() -> None:
    m = model("embolism@600+240", seed=5)
    b = m.baseline
    spo2, etco2, hr, sys = (series(m, k, 600, 840) for k in ("spo2", "etco2", "hr", "nibp_sys"))
    fell = first_time(spo2, lambda v: v <= b.spo2 - 8)
    assert fell is not None and fell - 600 <= 25  # within seconds of the injection
    assert min(v for _, v in etco2 if v is not None) <= b.etco2 - 10
    assert max(v for _, v in hr if v is not None) >= b.hr * 1.3
    assert sys and min(v for _, v in sys if v is not None) <= b.sys * 0.7
    before = series(m, "spo2", 0, 600)
    assert all(v is not None and v >= b.spo2 - 3 for _, v in before)


# ---- device scenarios -------------------------------------------------------------------------


def test_sensor_off_sends_spo2_as_null_and_keeps_the_rest() -> None:
    m = model("sensor_off@100+30")
    during = m.tick(110).message
    assert during is not None and during.values["spo2"] is None and during.values["hr"] is not None
    assert m.tick(131).message.values["spo2"] is not None  # type: ignore[union-attr]


def test_dropout_publishes_nothing_and_leaves_a_gap_in_seq() -> None:
    m = model("dropout@100+20")
    sent = [m.tick(n).message for n in range(90, 130)]
    seqs = [msg.seq for msg in sent if msg is not None]
    assert len(seqs) == 20
    assert 100 in seqs and 121 in seqs and not any(100 < s < 121 for s in seqs)


def test_clock_skew_offsets_the_device_time_only() -> None:
    m = model("clock_skew=-600")
    msg = m.tick(60).message
    assert msg is not None and msg.ts == T0 + timedelta(seconds=60 - 600)


def test_implausible_values_are_sent_as_the_device_sends_them() -> None:
    m = model("implausible@50+10")
    values = m.tick(55).message.values  # type: ignore[union-attr]
    assert values["spo2"] == 150 and values["hr"] == -5
    assert 0 <= m.tick(61).message.values["hr"] <= 300  # type: ignore[union-attr,operator]


def test_offline_takes_the_monitor_off_the_network() -> None:
    m = model("offline@100+50")
    assert m.tick(99).online and not m.tick(100).online and not m.tick(149).online
    assert m.tick(150).online
    assert m.tick(120).message is None


def test_baseline_is_realistic_for_many_patients() -> None:
    for seed in range(200):
        b = Baseline.for_patient(seed)
        assert 58 <= b.hr <= 96 and 95 <= b.spo2 <= 99 and 110 <= b.sys <= 160
        assert b.dia < b.sys - 20 and 11 <= b.rr <= 19 and 32 <= b.etco2 <= 43
