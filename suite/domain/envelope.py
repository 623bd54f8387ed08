"""A recorded event with its place in the case's log, who caused it and through which door."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from suite.domain.events import Event


class Source(StrEnum):
    TUI = "tui"
    CLI = "cli"
    HL7 = "hl7"
    DICOM = "dicom"
    MQTT = "mqtt"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Recorded:
    case_id: str
    seq: int
    event: Event
    actor: str
    source: Source
