"""The day's list of the simulated hospital: who comes for which procedure, where and when.

`default_day` makes a deterministic list (fictional patients) for the rooms given;
`load_day` reads one from a JSON file, a list of objects with the fields of `DayCase`
(times ISO 8601 with a zone, dates YYYY-MM-DD), e.g.

    [{"mrn": "MRN10001", "name": "Keller^Ruth", "birth_date": "1941-03-12", "sex": "F",
      "accession": "ACC20261124001", "procedure": "kyphoplasty", "levels": ["T12", "L1"],
      "room": "IR1", "scheduled_at": "2026-11-24T09:00:00+01:00"}]
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

PROCEDURES = ("vertebroplasty", "kyphoplasty")

# Fictional patients (family^given), birth dates typical of osteoporotic fractures.
_PEOPLE = (
    ("Keller^Ruth", "F", date(1941, 3, 12)),
    ("Brandt^Walter", "M", date(1938, 11, 2)),
    ("Okafor^Grace", "F", date(1946, 7, 25)),
    ("Müller^Anna", "F", date(1944, 1, 30)),
    ("Nuñez^Carmen", "F", date(1949, 9, 8)),
    ("Lindqvist^Erik", "M", date(1952, 5, 17)),
    ("Haddad^Samira", "F", date(1957, 12, 3)),
    ("Novak^Josef", "M", date(1935, 4, 21)),
)
_PLANS = (
    ("kyphoplasty", ("T12", "L1")),
    ("vertebroplasty", ("L2",)),
    ("vertebroplasty", ("T11",)),
    ("kyphoplasty", ("L1",)),
    ("vertebroplasty", ("L3", "L4")),
    ("kyphoplasty", ("T8",)),
)


@dataclass(frozen=True, slots=True)
class DayCase:
    """One scheduled procedure of the day, as the HIS knows it."""

    mrn: str
    name: str
    birth_date: date | None
    sex: str
    accession: str
    procedure: str
    levels: tuple[str, ...]
    room: str
    scheduled_at: datetime
    fracture_date: date | None = None
    allergies: tuple[str, ...] = ()
    indication_code: str = (
        "M80.08XA"  # ICD-10-CM: osteoporosis with pathological fracture, vertebra
    )
    indication_text: str = "Osteoporotic vertebral compression fracture"
    ordering_provider: tuple[str, str, str] = ("1234", "House", "Gregory")  # id, family, given
    visit_number: str = ""

    def __post_init__(self) -> None:
        if self.procedure not in PROCEDURES:
            raise ValueError(
                f"{self.accession}: procedure {self.procedure!r} is not one of {PROCEDURES}"
            )
        if not self.levels:
            raise ValueError(f"{self.accession}: at least one level is needed")
        if self.scheduled_at.tzinfo is None:
            raise ValueError(f"{self.accession}: scheduled_at needs a time zone")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["levels"] = list(self.levels)
        data["allergies"] = list(self.allergies)
        data["ordering_provider"] = list(self.ordering_provider)
        for key in ("birth_date", "fracture_date", "scheduled_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DayCase:
        def day(key: str) -> date | None:
            value = data.get(key)
            return date.fromisoformat(value) if value else None

        try:
            provider = [str(p) for p in data.get("ordering_provider", ("1234", "House", "Gregory"))]
            provider += [""] * (3 - len(provider))
            return cls(
                mrn=str(data["mrn"]),
                name=str(data.get("name", "")),
                birth_date=day("birth_date"),
                sex=str(data.get("sex", "U")),
                accession=str(data["accession"]),
                procedure=str(data["procedure"]),
                levels=tuple(str(v).upper() for v in data["levels"]),
                room=str(data["room"]),
                scheduled_at=datetime.fromisoformat(str(data["scheduled_at"])),
                fracture_date=day("fracture_date"),
                allergies=tuple(data.get("allergies", ())),
                ordering_provider=(provider[0], provider[1], provider[2]),
                visit_number=str(data.get("visit_number", "")),
            )
        except KeyError as exc:
            raise ValueError(f"day list entry lacks {exc.args[0]!r}: {data!r:.120}") from None


def default_day(
    day: date,
    *,
    rooms: list[str] | tuple[str, ...] = ("IR1", "IR2"),
    per_room: int = 2,
    zone: tzinfo,
    first_at: time = time(9, 0),
    spacing_min: int = 120,
    seed: int = 1,
) -> list[DayCase]:
    """`per_room` cases in each room, the first at `first_at`, then every `spacing_min`."""
    rng = random.Random(seed)
    people = list(_PEOPLE)
    rng.shuffle(people)
    cases: list[DayCase] = []
    n = 0
    for slot in range(per_room):
        for r, room in enumerate(rooms):
            name, sex, born = people[n % len(people)]
            procedure, levels = _PLANS[n % len(_PLANS)]
            start = datetime.combine(day, first_at, tzinfo=zone) + timedelta(
                minutes=slot * spacing_min + r * 30
            )
            n += 1
            cases.append(
                DayCase(
                    mrn=f"MRN{seed:02d}{n:04d}",
                    name=name,
                    birth_date=born,
                    sex=sex,
                    accession=f"ACC{day:%y%m%d}{seed:02d}{n:03d}",
                    procedure=procedure,
                    levels=levels,
                    room=room,
                    scheduled_at=start,
                    fracture_date=day - timedelta(days=rng.randint(10, 40)),
                    allergies=("Iodinated contrast",) if n % 3 == 0 else (),
                    visit_number=f"V{day:%y%m%d}{n:03d}",
                )
            )
    return cases


def load_day(path: Path) -> list[DayCase]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: a day list is a JSON array of cases")
    return [DayCase.from_json(entry) for entry in data]


def save_day(path: Path, cases: list[DayCase]) -> None:
    path.write_text(
        json.dumps([c.to_json() for c in cases], indent=2, ensure_ascii=False), encoding="utf-8"
    )
