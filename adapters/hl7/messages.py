"""Neutral forms of the inbound messages procsuite understands: no python-hl7 types beyond here.

The parser (`parse.py`) fills them from the wire; the mapping (`mapping.py`) turns them into
domain commands. Each text keeps the `Location` it came from so an error can name the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from adapters.hl7.errors import Location

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
ADT_EVENTS = ("A01", "A04", "A08", "A40")
SIU_EVENTS = ("S12", "S13", "S14", "S15")


@dataclass(frozen=True, slots=True)
class Header:
    """MSH as received (MSH-18 resolved to the character set the message was read with)."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    sent_at: datetime | None
    code: str
    trigger: str
    structure: str
    control_id: str
    processing_id: str
    version: str
    charset: str  # MSH-18 as sent ('' when empty)
    codec: str  # the Python codec the bytes were decoded with (and the ACK is encoded with)
    field_separator: str = "|"
    encoding_characters: str = "^~\\&"

    @property
    def message_type(self) -> str:
        return f"{self.code}^{self.trigger}" if self.trigger else self.code

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a message a repeat: sending application, facility and MSH-10."""
        return (self.sending_application, self.sending_facility, self.control_id)


@dataclass(frozen=True, slots=True)
class Text:
    """A value and where it came from."""

    value: str
    where: Location


@dataclass(frozen=True, slots=True)
class PatientData:
    mrn: str
    mrn_where: Location
    name: str = ""
    birth_date: date | None = None
    sex: str = "U"
    allergies: tuple[str, ...] = ()
    identifiers: str = ""  # PID-3 as sent, for echoing it back in results
    visit_number: str = ""
    locations: tuple[Text, ...] = ()  # PV1-3 point of care / room candidates


@dataclass(frozen=True, slots=True)
class AdtMessage:
    header: Header
    event: str
    patient: PatientData
    prior_mrn: Text | None = None  # MRG-1 of an A40 merge


@dataclass(frozen=True, slots=True)
class Service:
    """What is ordered: OBR-4 / AIS-3 (code, text, coding system) and its alternate."""

    code: str = ""
    text: str = ""
    system: str = ""
    alt_code: str = ""
    alt_text: str = ""
    where: Location = Location("OBR", 4)

    @property
    def description(self) -> str:
        parts = [p for p in (self.code, self.text, self.alt_code, self.alt_text) if p]
        return " ".join(parts) or "(none)"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order (an ORC/OBR group of ORM / OMI, or an SIU appointment).

    `action` is NW (new), XO (change) or CA (cancel), from ORC-1 or the SIU trigger.
    """

    action: str
    action_where: Location
    accession: Text | None
    placer_order: str = ""
    filler_order: str = ""
    service: Service = field(default_factory=Service)
    level_texts: tuple[Text, ...] = ()
    levels_where: Location = Location("OBR", 13)
    scheduled_at: datetime | None = None
    rooms: tuple[Text, ...] = ()
    ordering_provider: tuple[str, str] = ("", "")  # (id, "FAMILY^GIVEN")
    ordering_provider_raw: str = ""
    reasons: tuple[str, ...] = ()  # reason for study, diagnosis texts
    diagnosis_date: date | None = None
    cancel_reason: str = ""
    care_team: tuple[tuple[str, str], ...] = ()  # (role code, person) from SIU AIP


@dataclass(frozen=True, slots=True)
class OrderMessage:
    """ORM^O01, OMI^O23 or SIU^S12-S15: a patient and one or more orders."""

    header: Header
    patient: PatientData
    orders: tuple[OrderRequest, ...]


Inbound = AdtMessage | OrderMessage
