"""The loop-lag watchdog raises its alarm when the event loop is held, and the IT view of a
room holds no patient data."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest

from adapters.mqtt.redacted import redacted_snapshot
from suite.app.site_alarm import SiteAlarm
from suite.bus import Bus
from suite.domain.alarms.model import AlarmCleared, AlarmEvent, AlarmRaised
from suite.watchdog import LOOP_STALLED_KIND, LoopWatchdog


def _watchdog(bus: Bus) -> LoopWatchdog:
    alarm = SiteAlarm(bus, clock=lambda: datetime.now(UTC), kind=LOOP_STALLED_KIND, device="t")
    return LoopWatchdog(alarm, interval_s=0.05, threshold_s=0.2, clear_after_s=0.5)


@pytest.mark.asyncio
async def test_a_held_event_loop_raises_the_loop_stalled_alarm_once() -> None:
    bus = Bus()
    seen = bus.subscribe("test", AlarmEvent)
    watchdog = _watchdog(bus)
    task = asyncio.create_task(watchdog.run())
    try:
        await asyncio.sleep(0.2)
        time.sleep(0.6)  # noqa: ASYNC251 - on purpose: hold the loop, as the regex did
        await asyncio.sleep(0.2)
        time.sleep(0.6)  # noqa: ASYNC251 - a second stall of the same episode
        await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    raised = []
    while not seen.queue.empty():
        raised.append(seen.get_nowait())
    assert [type(e) for e in raised] == [AlarmRaised]
    assert raised[0].kind == LOOP_STALLED_KIND and "stopped responding" in raised[0].message
    assert watchdog.stats.stalls == 2 and watchdog.stats.worst_s >= 0.4


def test_the_alarm_clears_after_a_quiet_time() -> None:
    bus = Bus()
    seen = bus.subscribe("test", AlarmEvent)
    watchdog = _watchdog(bus)
    watchdog.observe(1.5, now=10.0)
    watchdog.observe(0.01, now=10.2)  # quiet, but not for long enough
    assert watchdog.alarm.active
    watchdog.observe(0.01, now=10.6)
    assert not watchdog.alarm.active
    kinds = [type(seen.get_nowait()), type(seen.get_nowait())]
    assert kinds == [AlarmRaised, AlarmCleared]


def test_the_it_view_keeps_device_health_and_drops_every_patient_datum() -> None:
    full = {
        "room": "IR1", "at": "2026-12-04T10:00:00.000Z",
        "case": {"case_id": "k1", "phase": "checked_in", "phase_since": "x", "room": "IR1",
                 "patient": {"mrn": "MRN7731", "name": "DOE^JANE"},
                 "order": {"accession": "ACC7731"}},
        "scheduled": [{"case_id": "k2", "accession": "ACC2", "mrn": "MRN2", "name": "ROE^RICHARD",
                       "procedure": "kyphoplasty", "levels": ["L1"], "scheduled_at": "y"}],
        "vitals": {"spo2": {"value": 84, "at": "z", "device": "mon-1"}},
        "limits": {"spo2": {"low": 90}}, "baseline": {"hr": 70},
        "adjusted_limits": [{"parameter": "spo2", "reason": "COPD, DOE^JANE"}],
        "devices": {"mon-1": {"online": True, "last_seq": 3}},
        "alarms": [
            {"alarm_id": "a1", "kind": "spo2_low", "category": "physiological",
             "priority": "high", "message": "SpO2 84 below 90", "state": "active",
             "source": {"device": "mon-1", "readings": [["t", 84]]}},
            {"alarm_id": "a2", "kind": "malformed_payload", "category": "technical",
             "priority": "medium", "message": "Monitor mon-1 sends unreadable data",
             "state": "active", "source": {"device": "mon-1"}},
        ],
        "counters": {"faults": {"mon-1": {"malformed": 1}}},
    }  # fmt: skip
    view = redacted_snapshot(full)
    text = json.dumps(view)
    for secret in ("DOE", "JANE", "ROE", "MRN", "ACC", "84", "COPD", "baseline", "limits"):
        assert secret not in text, secret
    assert view["devices"] == full["devices"] and view["counters"] == full["counters"]
    assert view["case"]["phase"] == "checked_in"
    assert [a.get("message") for a in view["alarms"]] == [
        None,
        "Monitor mon-1 sends unreadable data",
    ]
