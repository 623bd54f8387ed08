"""The demo's suite day, as data: who works, which rooms, which cases, what happens to whom.

- Users (the service's `users`): tech1 technologist, nurse1 nurse, rad1 radiologist, it1 IT,
  admin1 admin.
- Rooms IR1 and IR2, each with a monitor (`mon1`) and a fluoroscopy unit whose station AE
  title is FLUORO_IR1 / FLUORO_IR2 (the service's `dicom.stations`).
- The HIS sends the day's list at 07:58 (simulated): a kyphoplasty of T12 and L1 in IR1 at
  08:00 and a vertebroplasty of L2 in IR2 at 08:10 (simulators/day_list.py, seed 1).
- IR1: during the cement injection of the last level the patient has a cement embolism
  (SpO2 and EtCO2 fall, hypotension, tachycardia): the suspected cement embolism alarm.
- IR2: after the sedation the patient is oversedated (respiratory rate falls, EtCO2 rises,
  then SpO2 falls): respiratory and desaturation alarms.
The nurse acknowledges every alarm; the team waits for the patient to recover each time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from simulators.day_list import DayCase, default_day
from simulators.scenarios import Kind

ROOMS = ("IR1", "IR2")
STATIONS = {"IR1": "FLUORO_IR1", "IR2": "FLUORO_IR2"}
USERS = {
    "tech1": "technologist",
    "nurse1": "nurse",
    "rad1": "radiologist",
    "it1": "it",
    "admin1": "admin",
}
TECHNOLOGIST, NURSE, RADIOLOGIST = "tech1", "nurse1", "rad1"
DAY_START = time(7, 58)
DEVICE = "mon1"


@dataclass(frozen=True, slots=True)
class PatientStory:
    """What happens to the patient: `kind` after `step` (on `level`) for `duration_s`."""

    kind: Kind
    step: str
    level: str | None
    duration_s: float

    @property
    def alarm_kinds(self) -> tuple[str, ...]:
        """The alarms procsuite raises for it (the ones the demo expects to see)."""
        if self.kind is Kind.EMBOLISM:
            return ("suspected_cement_embolism",)
        if self.kind is Kind.OVERSEDATION:
            return ("rr_low", "spo2_low")
        return ()


@dataclass(frozen=True, slots=True)
class RoomDay:
    room: str
    case: DayCase
    monitor_seed: int
    station: str
    story: PatientStory


def day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, DAY_START, tzinfo=zone)


def demo_day(day: date, *, zone: tzinfo) -> list[RoomDay]:
    """The two rooms' day (deterministic for a given date and zone)."""
    ir1, ir2 = default_day(day, rooms=ROOMS, per_room=1, zone=zone, first_at=time(8, 0), seed=1)
    ir2 = replace(ir2, scheduled_at=ir1.scheduled_at + timedelta(minutes=10))
    return [
        RoomDay(
            "IR1",
            ir1,
            monitor_seed=1,
            station=STATIONS["IR1"],
            story=PatientStory(Kind.EMBOLISM, "cement", ir1.levels[-1], 240.0),
        ),
        RoomDay(
            "IR2",
            ir2,
            monitor_seed=2,
            station=STATIONS["IR2"],
            story=PatientStory(Kind.OVERSEDATION, "sedation", None, 480.0),
        ),
    ]


def speed_allowances(speed: float) -> dict[str, float]:
    """Alarm settings measured on the service's clock, widened so each stays at least a real
    second or three: at `speed` 120 the default 15 s stale-feed time is 0.125 real seconds,
    shorter than a busy machine's scheduling hiccups. Physiological delays run on the
    monitor's own clock and are unchanged (docs/clinical-defaults.md, "The demo")."""
    return {
        "stale_feed_s": max(15.0, 2.0 * speed),
        "clock_skew_s": max(10.0, 3.0 * speed),
        "sample_hold_s": max(5.0, 0.5 * speed),
    }


def monitor_rate_hz(speed: float) -> float:
    """1 Hz, or less at high speed so a monitor sends at most 60 messages per real second."""
    return min(1.0, 60.0 / speed)
