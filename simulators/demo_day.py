"""The demo's suite day, as data: who works, which rooms, which cases, what happens to whom.

- Users (the service's `users`): tech1 technologist, nurse1 nurse, rad1 radiologist, it1 IT,
  admin1 admin.
- Rooms IR1 to IR4; IR1-IR3 each with a monitor (`mon1`) and a fluoroscopy unit whose station
  AE title is FLUORO_IR1... (the service's `dicom.stations`).
- The day opens mid-morning (08:40 simulated) with three cases under way; the HIS sends the
  day's list at the start. Each running case is played quickly up to its opening step in the
  first seconds (`RoomDay.opening`, the team logging what was already done), then at the plan's
  pace:
  - IR1, kyphoplasty T12, L1 and L2: opens after cement on T12 (cement injection, working
    time counting down); during the cement of L1 the patient has a cement embolism (SpO2 and
    EtCO2 fall, hypotension, tachycardia): the suspected cement embolism alarm; the team waits
    for the patient, then cements L2 with the same batch.
  - IR2, vertebroplasty L2: opens after the sedation; the patient is oversedated (respiratory
    rate falls, EtCO2 rises, then SpO2 falls): respiratory and desaturation alarms.
  - IR3, vertebroplasty L3 and L4 of a heavy patient in a long case: opens in recovery; its
    reference air kerma crossed 3 Gy on the way (the dose notification), see `dose_scale`.
- Booked cases wait: IR4 (nobody in the room yet) and the next cases of IR1 and IR2.
The nurse acknowledges every alarm; the team waits for the patient to recover each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from simulators.day_list import DayCase
from simulators.scenarios import Kind

ROOMS = ("IR1", "IR2", "IR3", "IR4")
STATIONS = {room: f"FLUORO_{room}" for room in ROOMS}
USERS = {
    "tech1": "technologist",
    "nurse1": "nurse",
    "rad1": "radiologist",
    "it1": "it",
    "admin1": "admin",
}
TECHNOLOGIST, NURSE, RADIOLOGIST = "tech1", "nurse1", "rad1"
DAY_START = time(8, 40)
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
    """A room's case that the demo plays: `opening` is the label of the plan's step the case
    has reached when the day opens (played quickly at the start; None: from the beginning);
    `dose_scale` multiplies the room's fluoroscopy dose rates (docs/clinical-defaults.md)."""

    room: str
    case: DayCase
    monitor_seed: int
    station: str
    story: PatientStory | None
    opening: str | None = None
    dose_scale: float = 1.0
    dose_alarms: tuple[str, ...] = ()

    @property
    def alarm_kinds(self) -> tuple[str, ...]:
        """The alarms the demo expects procsuite to raise for this room's case."""
        return (self.story.alarm_kinds if self.story else ()) + self.dose_alarms


def day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, DAY_START, tzinfo=zone)


def _case(
    day: date, zone: tzinfo, n: int, *, room: str, at: time, procedure: str, levels: tuple[str, ...]
) -> DayCase:
    name, sex, born = _PATIENTS[(n - 1) % len(_PATIENTS)]
    return DayCase(
        mrn=f"MRN01{n:04d}",
        name=name,
        birth_date=born,
        sex=sex,
        accession=f"ACC{day:%y%m%d}01{n:03d}",
        procedure=procedure,
        levels=levels,
        room=room,
        scheduled_at=datetime.combine(day, at, tzinfo=zone),
        fracture_date=day - timedelta(days=10 + 3 * n),
        allergies=("Iodinated contrast",) if n % 3 == 0 else (),
        visit_number=f"V{day:%y%m%d}{n:03d}",
    )


# Fictional patients, as the HIS sends them (HL7 XPN: family^given; `&` separates the parts
# of a family name, as in O&Brien).
_PATIENTS = (
    ("O&BRIEN^MARGARET", "F", date(1941, 3, 12)),
    ("Brandt^Walter", "M", date(1938, 11, 2)),
    ("Okafor^Grace", "F", date(1946, 7, 25)),
    ("Müller^Anna", "F", date(1944, 1, 30)),
    ("Nuñez^Carmen", "F", date(1949, 9, 8)),
    ("Lindqvist^Erik", "M", date(1952, 5, 17)),
)


def demo_day(day: date, *, zone: tzinfo) -> list[RoomDay]:
    """The cases the demo plays, one per room (deterministic for a given date and zone)."""
    ir1 = _case(day, zone, 1, room="IR1", at=time(8, 0), procedure="kyphoplasty",
                levels=("T12", "L1", "L2"))  # fmt: skip
    ir2 = _case(day, zone, 2, room="IR2", at=time(8, 25), procedure="vertebroplasty",
                levels=("L2",))  # fmt: skip
    ir3 = _case(day, zone, 3, room="IR3", at=time(7, 30), procedure="vertebroplasty",
                levels=("L3", "L4"))  # fmt: skip
    return [
        RoomDay(
            "IR1",
            ir1,
            monitor_seed=1,
            station=STATIONS["IR1"],
            # On the middle level: the working time keeps counting down through the episode.
            story=PatientStory(Kind.EMBOLISM, "cement", ir1.levels[1], 240.0),
            opening=f"cement {ir1.levels[0]}",
        ),
        RoomDay(
            "IR2",
            ir2,
            monitor_seed=2,
            station=STATIONS["IR2"],
            story=PatientStory(Kind.OVERSEDATION, "sedation", None, 480.0),
            opening="sedation",
        ),
        RoomDay(
            "IR3",
            ir3,
            monitor_seed=3,
            station=STATIONS["IR3"],
            story=None,
            opening="recovery",
            # A long two-level case of a heavy patient, compressed: the unit's dose rates x70
            # make its reference air kerma cross the 3 Gy notification level (NCRP 168).
            dose_scale=70.0,
            dose_alarms=("dose_3gy",),
        ),
    ]


def booked_cases(day: date, *, zone: tzinfo) -> list[DayCase]:
    """The cases of the day that wait (the HIS books them; the demo does not play them)."""
    return [
        _case(day, zone, 4, room="IR4", at=time(9, 30), procedure="kyphoplasty", levels=("L1",)),
        _case(
            day, zone, 5, room="IR1", at=time(10, 30), procedure="vertebroplasty", levels=("T11",)
        ),  # fmt: skip
        _case(
            day, zone, 6, room="IR2", at=time(11, 0), procedure="kyphoplasty", levels=("T8", "T9")
        ),  # fmt: skip
    ]


def speed_allowances(speed: float) -> dict[str, float]:
    """Alarm settings measured on the service's clock, widened so each stays at least a real
    second or three: at `speed` 120 the default 15 s stale-feed time is 0.125 real seconds,
    shorter than a busy machine's scheduling hiccups. Physiological delays run on the
    monitor's own clock and are unchanged (docs/clinical-defaults.md, "The demo")."""
    return {
        "stale_feed_s": max(15.0, 2.0 * speed),
        "clock_skew_s": max(10.0, 5.0 * speed),
        "sample_hold_s": max(5.0, 0.5 * speed),
    }


def monitor_rate_hz(speed: float, monitors: int = 2) -> float:
    """1 Hz, or less at high speed so the monitors together send at most 120 messages per
    real second (60 each for the two rooms the demo once had; fewer each for more rooms)."""
    return min(1.0, 120.0 / (speed * max(1, monitors)))
