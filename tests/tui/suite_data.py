"""Fixed suite data for the dashboard tests, in the service's own wire form.

Room snapshots are built with the service's snapshot functions (adapters/mqtt/state.py
`case_summary`, suite/alarm_records.py `alarm_view`) from cases driven through the real
domain, so these fixtures follow the MQTT contract as it is, not as we remember it.
Everything happens at fixed times: snapshots of the screens are stable.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.mqtt.state import case_summary, timeline_entry
from suite.app.alarm_records import alarm_view, event_payload
from suite.clock import iso
from suite.domain import commands as c
from suite.domain.alarms.model import (
    Alarm,
    AlarmAcknowledged,
    AlarmAudioPaused,
    AlarmRaised,
    AlarmSource,
    Category,
    Priority,
)
from suite.domain.case import Case, replay
from suite.domain.envelope import Recorded, Source
from suite.domain.policy import DEFAULT_POLICY
from suite.domain.values import Procedure
from suite.domain.workflow import decide
from tests.scenarios import full_case, schedule

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
START = NOW - timedelta(minutes=40)

ACTORS = {
    c.SignTimeOut: "dr1",
    c.GiveSedation: "nurse1",
    c.RecordChecklistItem: "nurse1",
    c.RecordLabs: "nurse1",
    c.RecordImagingCheck: "dr1",
}


def drive(
    case_id: str,
    *,
    room: str,
    procedure: Procedure,
    levels: tuple[str, ...],
    steps: int,
    start: datetime = START,
    step_s: float = 60,
    mrn: str = "MRN0001",
) -> tuple[Case, list[Recorded]]:
    """A case scheduled at `start` with its first `steps` workflow steps, step_s apart."""
    commands: Iterator[c.Command] = itertools.chain(
        [
            schedule(
                start,
                procedure=procedure,
                levels=levels,
                room=room,
                accession=f"ACC-{case_id}",
                mrn=mrn,
            )
        ],
        itertools.islice(
            full_case(start, procedure=procedure, levels=levels, step_s=step_s), steps
        ),
    )
    case: Case | None = None
    records: list[Recorded] = []
    for command in commands:
        events = decide(case, command, now=command.at, policy=DEFAULT_POLICY)
        for ev in events:
            case = replay(case_id, [ev]) if case is None else case.apply(ev)
            actor = ACTORS.get(type(command), "tech1" if records else "his")
            source = Source.HL7 if not records else Source.MQTT
            records.append(Recorded(case_id, len(records) + 1, ev, actor, source))
    assert case is not None
    return case, records


def room_state(
    room: str,
    *,
    case: tuple[Case, list[Recorded]] | None,
    vitals: dict[str, float | None],
    alarms: list[Alarm] = (),  # type: ignore[assignment]
    devices: dict[str, bool | None] | None = None,
    at: datetime = NOW,
) -> dict[str, Any]:
    """A room snapshot with the keys of adapters/mqtt/state.py `RoomStates.snapshot`."""
    devices = {"mon-1": True} if devices is None else devices
    return {
        "room": room,
        "at": iso(at),
        "case": (
            case_summary(
                case[0],
                now=at,
                policy=DEFAULT_POLICY,
                timeline=[timeline_entry(r) for r in case[1]],
            )
            if case is not None
            else None
        ),
        "vitals": {
            k: {"value": v, "at": iso(at - timedelta(seconds=1)), "device": "mon-1"}
            for k, v in vitals.items()
        },
        "limits": {
            "spo2": {"low": 90, "high": None, "delay_s": 10},
            "hr": {"low": 50, "high": 120, "delay_s": 10},
            "nibp_sys": {"low": 90, "high": 180, "delay_s": 0},
            "nibp_dia": {"low": None, "high": 110, "delay_s": 0},
            "nibp_map": {"low": 65, "high": None, "delay_s": 0},
            "rr": {"low": 8, "high": 30, "delay_s": 15},
            "etco2": {"low": None, "high": 50, "delay_s": 15},
            "temp": {"low": 35.0, "high": 38.5, "delay_s": 60},
        },
        "adjusted_limits": [],
        "baseline": {},
        "devices": {
            name: {
                "online": online,
                "last_sample_at": iso(at - timedelta(seconds=1))
                if online
                else iso(at - timedelta(minutes=3)),
                "last_received_at": iso(at),
                "last_seq": 100,
                "samples": 100,
            }
            for name, online in devices.items()
        },
        "alarms": [alarm_view(a) for a in alarms],
        "vitals_stable_since": None,
        "counters": {"faults": {}, "samples_not_stored": 0},
    }


def alarm(
    alarm_id: str,
    room: str,
    *,
    kind: str,
    priority: Priority,
    message: str,
    raised_at: datetime,
    parameter: str = "",
    category: Category = Category.PHYSIOLOGICAL,
    acknowledged_by: str | None = None,
) -> Alarm:
    a = Alarm.from_raised(
        AlarmRaised(
            alarm_id,
            room,
            raised_at,
            kind=kind,
            category=category,
            priority=priority,
            message=message,
            source=AlarmSource(rule=kind, device="mon-1", parameter=parameter),
        )
    )
    if acknowledged_by is not None:
        a.apply(
            AlarmAcknowledged(
                alarm_id, room, raised_at + timedelta(seconds=20), user=acknowledged_by
            )
        )
    return a


def alarm_event(
    a: Alarm, event: str = "raised", *, at: datetime | None = None, user: str | None = None
) -> dict[str, Any]:
    """An `alarms/<room>` payload as the service publishes it."""
    when = at or a.raised_at
    ev = (
        AlarmAcknowledged(a.alarm_id, a.room, when, user=user or "?")
        if event == "acknowledged"
        else AlarmRaised(
            a.alarm_id, a.room, when, kind=a.kind, category=a.category, priority=a.priority,
            message=a.message, source=a.source,
        )
    )  # fmt: skip
    return {"event_id": 1, **event_payload(ev, a, case_id=a.case_id)}


# ---- the suite the snapshots show ---------------------------------------------------------------

SPO2_LOW = alarm(
    "a-spo2", "IR1", kind="spo2_low", priority=Priority.HIGH,
    message="SpO2 86 % below 90 %", raised_at=NOW - timedelta(seconds=20), parameter="spo2",
)  # fmt: skip
# A nurse silenced it a second ago: the alarm list shows "ACTIVE, audio paused 1:59".
SPO2_LOW.apply(
    AlarmAudioPaused(
        "a-spo2", "IR1", NOW - timedelta(seconds=1), user="nurse1",
        until=NOW + timedelta(seconds=119),
    )
)  # fmt: skip
HR_HIGH = alarm(
    "a-hr", "IR2", kind="hr_high", priority=Priority.MEDIUM, message="HR 124/min above 120/min",
    raised_at=NOW - timedelta(minutes=2), parameter="hr", acknowledged_by="nurse2",
)  # fmt: skip
MON_OFF = alarm(
    "a-off", "IR3", kind="device_offline", priority=Priority.LOW, message="monitor mon-3 offline",
    raised_at=NOW - timedelta(minutes=3), category=Category.TECHNICAL,
)  # fmt: skip


def suite_states() -> dict[str, dict[str, Any]]:
    """IR1: kyphoplasty T12+L1 with cement going in; IR2: vertebroplasty in its checklist;
    IR3: no case, its monitor offline."""
    # 27 steps of a two-level kyphoplasty: up to the cement on T12 (mixed 5 min before now).
    ir1 = drive(
        "K-100",
        room="IR1",
        procedure=Procedure.KYPHOPLASTY,
        levels=("T12", "L1"),
        steps=22,
        step_s=90,
    )
    ir2 = drive(
        "V-200",
        room="IR2",
        procedure=Procedure.VERTEBROPLASTY,
        levels=("L2",),
        steps=3,
        start=NOW - timedelta(minutes=10),
        mrn="MRN0002",
    )
    return {
        "IR1": room_state(
            "IR1", case=ir1, alarms=[SPO2_LOW],
            vitals={"hr": 96, "spo2": 86, "nibp_sys": 118, "nibp_dia": 72, "nibp_map": 87, "rr": 14, "etco2": 38, "temp": 36.4},
        ),
        "IR2": room_state(
            "IR2", case=ir2, alarms=[HR_HIGH],
            vitals={"hr": 124, "spo2": 97, "nibp_sys": 141, "nibp_dia": 88, "rr": 16},
        ),
        "IR3": room_state("IR3", case=None, alarms=[MON_OFF], vitals={}, devices={"mon-3": False}),
    }  # fmt: skip


def trend_samples(room: str, *, points: int = 60) -> Iterator[tuple[str, dict[str, Any]]]:
    """A minute of 1 Hz samples ending just before NOW, a slow SpO2 fall in IR1."""
    for i in range(points):
        at = NOW - timedelta(seconds=points - i + 1)
        fall = max(0, i - 30) / 3
        values = {
            "hr": 80 + (i % 7) + fall,
            "spo2": round(97 - fall),
            "rr": 14,
            "etco2": 38 - fall / 2,
        }
        yield f"rooms/{room}/vitals/mon-1", {"ts": iso(at), "seq": i, "values": values}


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()
