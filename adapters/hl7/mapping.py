"""Neutral HL7 orders and patients -> domain values (pure; the rules are documented in
docs/hl7-interface.md, "Procedure and level mapping").

- Procedure: the order code (OBR-4.1 / OBR-4.4 / AIS-3.1) looked up in the configured code
  table (CPT 22510-22512 vertebroplasty, 22513-22515 kyphoplasty by default), else the order
  text containing "kyphoplast" or "vertebroplast". Anything else is not ours: ignored.
- Planned levels: the first of OBR-13, OBR-4.2, OBR-4.5, the order's NTE-3 (SIU: AIS-3.2,
  SCH-7.2, NTE-3) that names any level. "T12, L1", "T12/L1" and "T11-L1" (a range: T11, T12,
  L1) are understood; a token that looks like a level but is none ("T13") is an error.
- Room: the first of IPC-8, IPC-7, PV1-3.1, PV1-3.2 (SIU: AIL-3.1, AIL-3.2) that is one of
  the site's rooms; else the configured default room.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters.hl7.errors import (
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    ContentError,
    Location,
)
from adapters.hl7.messages import OrderRequest, PatientData, Service, Text
from suite.domain.values import (
    CareTeam,
    Indication,
    Level,
    Order,
    Patient,
    Procedure,
    Sex,
)

ALL_LEVELS: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)
_TOKEN = re.compile(
    r"(?<![A-Z0-9])([CTLS])\s?(\d{1,2})(?![0-9])"
    r"(?:\s*(?:-|–|TO|THROUGH)\s*(?:([CTLS])\s?)?(\d{1,2})(?![0-9]))?"
)

RADIOLOGIST_ROLES = {"RAD", "RADIOLOGIST", "ATT", "ATTENDING", "PERFORMING", "PRF", "PHY", "OP"}
TECHNOLOGIST_ROLES = {"TECH", "TECHNOLOGIST", "RT", "RADTECH", "MRT"}
NURSE_ROLES = {"NURSE", "RN", "NUR", "NRS"}

_MALIGNANT = ("MALIG", "METASTA", "MYELOMA", "TUMO", "NEOPLAS", "CANCER", "LYMPHOMA")


def procedure_of(service: Service, codes: dict[str, str]) -> Procedure | None:
    """The vertebral augmentation procedure an order asks for, or None when it is another."""
    for code in (service.code, service.alt_code):
        if code and code in codes:
            return Procedure(codes[code])
    text = f"{service.text} {service.alt_text} {service.code}".lower()
    if "kyphoplast" in text:
        return Procedure.KYPHOPLASTY
    if "vertebroplast" in text:
        return Procedure.VERTEBROPLASTY
    return None


def levels_in(text: str) -> list[str]:
    """Every vertebral level a free text names, ranges expanded; `ValueError` for a token that
    looks like a level and is none."""
    found: list[str] = []
    for m in _TOKEN.finditer(text.upper()):
        region, number, end_region, end_number = m.groups()
        first = f"{region}{int(number)}"
        if first not in ALL_LEVELS:
            raise ValueError(f"{region}{number} is not a vertebral level")
        if end_number is None:
            found.append(first)
            continue
        last = f"{end_region or region}{int(end_number)}"
        if last not in ALL_LEVELS:
            raise ValueError(f"{end_region or region}{end_number} is not a vertebral level")
        a, b = sorted((ALL_LEVELS.index(first), ALL_LEVELS.index(last)))
        found.extend(ALL_LEVELS[a : b + 1])
    return found


def planned_levels(texts: Sequence[Text], *, where: Location) -> tuple[Level, ...]:
    """The planned levels from the first text that names any; `ContentError` otherwise."""
    for text in texts:
        try:
            names = levels_in(text.value)
        except ValueError as exc:
            raise ContentError(
                text.where,
                f"{exc} (expected C1-C7, T1-T12, L1-L5, S1)",
                code=TABLE_VALUE_NOT_FOUND,
            ) from None
        if names:
            return tuple(sorted({Level.parse(n) for n in names}))
    raise ContentError(
        where,
        "no planned vertebral level in the order (e.g. 'T12, L1' in OBR-13, OBR-4 text or NTE)",
        code=REQUIRED_FIELD_MISSING,
    )


def room_of(candidates: Sequence[Text], *, rooms: Sequence[str], default: str) -> str:
    """The first candidate that is one of the site's rooms (any case), else `default`."""
    by_upper = {r.upper(): r for r in rooms}
    for c in candidates:
        if c.value and c.value.upper() in by_upper:
            return by_upper[c.value.upper()]
    return default


def indication_of(reasons: Sequence[str]) -> Indication:
    """The indication named by the order's reason or diagnosis (ICD-10 or text)."""
    text = " ".join(reasons).upper()
    codes = [r.upper().replace(".", "") for r in reasons]
    if any(k in text for k in _MALIGNANT) or any(re.match(r"^C\d\d", c) for c in codes):
        return Indication.MALIGNANT
    if "STEROID" in text or "GLUCOCORTICOID" in text:
        return Indication.STEROID_INDUCED
    if "OSTEOPOR" in text or any(c.startswith(("M80", "M81")) for c in codes):
        return Indication.OSTEOPOROTIC
    return Indication.OTHER


def patient_of(data: PatientData) -> Patient:
    return Patient(
        mrn=data.mrn,
        name=data.name,
        birth_date=data.birth_date,
        sex=Sex(data.sex),
        allergies=data.allergies,
    )


def merge_patient(new: Patient, old: Patient) -> Patient:
    """`new` with what it does not say taken from `old` (a message without AL1 segments says
    nothing about allergies; it does not mean there are none)."""
    return Patient(
        mrn=new.mrn,
        name=new.name or old.name,
        birth_date=new.birth_date or old.birth_date,
        sex=new.sex if new.sex is not Sex.UNKNOWN else old.sex,
        allergies=new.allergies or old.allergies,
    )


def care_team_of(team: Sequence[tuple[str, str]]) -> CareTeam | None:
    """The care team named by SIU AIP segments (role code, person), or None when none is."""
    radiologist = technologist = nurse = ""
    for role, person in team:
        if role in RADIOLOGIST_ROLES and not radiologist:
            radiologist = person
        elif role in TECHNOLOGIST_ROLES and not technologist:
            technologist = person
        elif role in NURSE_ROLES and not nurse:
            nurse = person
    if not (radiologist or technologist or nurse):
        return None
    return CareTeam(radiologist=radiologist, technologist=technologist, nurse=nurse)


@dataclass(frozen=True, slots=True)
class MappedOrder:
    """What an order means for procsuite: the domain order and where the case happens."""

    order: Order
    room: str
    scheduled_at: datetime
    care_team: CareTeam | None


def map_order(
    request: OrderRequest,
    procedure: Procedure,
    *,
    accession: str,
    rooms: Sequence[str],
    default_room: str,
    patient_locations: Sequence[Text],
    fallback_time: datetime,
) -> MappedOrder:
    """The domain order of a vertebral augmentation request (`ContentError` naming a field)."""
    levels = planned_levels(request.level_texts, where=request.levels_where)
    # A person name (FAMILY^GIVEN): it becomes the worklist's Referring Physician's Name (PN);
    # the provider's ID stays with the order's HL7 keys.
    ident, name = request.ordering_provider
    physician = name or ident
    order = Order(
        accession=accession,
        procedure=procedure,
        levels=levels,
        indication=indication_of(request.reasons),
        fracture_date=request.diagnosis_date,
        ordering_physician=physician,
    )
    room = room_of((*request.rooms, *patient_locations), rooms=rooms, default=default_room)
    return MappedOrder(
        order=order,
        room=room,
        scheduled_at=request.scheduled_at or fallback_time,
        care_team=care_team_of(request.care_team),
    )
