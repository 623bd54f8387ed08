"""Value types of a case: levels, procedures, patient, order, and the enums of recorded facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import total_ordering

from suite.domain.errors import InvalidValue


class Procedure(StrEnum):
    VERTEBROPLASTY = "vertebroplasty"
    KYPHOPLASTY = "kyphoplasty"


class Indication(StrEnum):
    OSTEOPOROTIC = "osteoporotic"
    MALIGNANT = "malignant"
    STEROID_INDUCED = "steroid-induced"
    OTHER = "other"


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    OTHER = "O"
    UNKNOWN = "U"


class Phase(StrEnum):
    """Phases in workflow order; `cancelled` and `aborted` end a case early."""

    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    PRE_PROCEDURE = "pre_procedure"
    TIME_OUT = "time_out"
    SEDATION = "sedation"
    POSITIONING = "positioning"
    LOCAL_ANESTHESIA = "local_anesthesia"
    TROCAR_PLACEMENT = "trocar_placement"
    BALLOON_TAMP = "balloon_tamp"
    CEMENT_INJECTION = "cement_injection"
    IMAGING_CHECK = "imaging_check"
    CLOSURE = "closure"
    RECOVERY = "recovery"
    DISCHARGED = "discharged"
    CANCELLED = "cancelled"
    ABORTED = "aborted"

    @property
    def is_final(self) -> bool:
        return self in (Phase.DISCHARGED, Phase.CANCELLED, Phase.ABORTED)


WORKFLOW: tuple[Phase, ...] = tuple(p for p in Phase if p not in (Phase.CANCELLED, Phase.ABORTED))


def phases_for(procedure: Procedure) -> tuple[Phase, ...]:
    """The phases a case of this procedure passes through, in order."""
    if procedure is Procedure.KYPHOPLASTY:
        return WORKFLOW
    return tuple(p for p in WORKFLOW if p is not Phase.BALLOON_TAMP)


class TrocarApproach(StrEnum):
    TRANSPEDICULAR = "transpedicular"
    PARAPEDICULAR = "parapedicular"


class Pedicles(StrEnum):
    UNIPEDICULAR = "unipedicular"
    BIPEDICULAR = "bipedicular"


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"


class Leakage(StrEnum):
    NONE = "none"
    VENOUS = "venous"
    DISC = "disc"
    EPIDURAL = "epidural"
    PARAVERTEBRAL = "paravertebral"


class ImagingModality(StrEnum):
    FLUOROSCOPY = "fluoroscopy"
    XRAY = "xray"
    CT = "ct"
    CONE_BEAM_CT = "cbct"


class ImagingResult(StrEnum):
    SATISFACTORY = "satisfactory"
    LEAKAGE = "leakage"
    UNSATISFACTORY = "unsatisfactory"


_LEVEL = re.compile(r"^(C[1-7]|T(?:[1-9]|1[0-2])|L[1-5]|S1)$")
_REGION_ORDER = {"C": 0, "T": 1, "L": 2, "S": 3}


@total_ordering
@dataclass(frozen=True, slots=True)
class Level:
    """A vertebral level such as T12 or L1 (C1–C7, T1–T12, L1–L5, S1)."""

    name: str

    @classmethod
    def parse(cls, text: str) -> Level:
        name = text.strip().upper()
        if not _LEVEL.match(name):
            raise InvalidValue(
                f"unknown vertebral level {text!r}: expected C1-C7, T1-T12, L1-L5 or S1"
            )
        return cls(name)

    def __str__(self) -> str:
        return self.name

    @property
    def _key(self) -> tuple[int, int]:
        return (_REGION_ORDER[self.name[0]], int(self.name[1:]))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self._key < other._key


def parse_levels(texts: tuple[str, ...] | list[str]) -> tuple[Level, ...]:
    """Parse, de-duplicate and sort levels; at least one is needed."""
    levels = tuple(sorted({Level.parse(t) for t in texts}))
    if not levels:
        raise InvalidValue("an order needs at least one planned vertebral level")
    return levels


@dataclass(frozen=True, slots=True)
class Patient:
    mrn: str
    name: str
    birth_date: date | None = None
    sex: Sex = Sex.UNKNOWN
    allergies: tuple[str, ...] = ()

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(frozen=True, slots=True)
class Order:
    accession: str
    procedure: Procedure
    levels: tuple[Level, ...]
    indication: Indication = Indication.OSTEOPOROTIC
    fracture_date: date | None = None
    ordering_physician: str = ""


@dataclass(frozen=True, slots=True)
class CareTeam:
    radiologist: str = ""
    technologist: str = ""
    nurse: str = ""
