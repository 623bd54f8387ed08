"""The IT view's lists, read from the service status (docs/mqtt.md "Service status"): HL7
messages in and out with their ACK and effect, unmatched DICOM images. Pure.

Each row keeps its raw message and ACK for the detail view; a filter shows all, only the
problems (an ACK other than AA, a quarantined or failed message, an error result), only
inbound or only outbound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui import json_reader as jr

FILTERS = ("all", "problems", "in", "out")


@dataclass(frozen=True, slots=True)
class MessageRow:
    direction: str  # "in" / "out"
    id: int
    at: datetime | None
    type: str
    control_id: str
    ack: str  # AA / AE / AR / "" (none yet)
    effect: str  # inbound: what it did; outbound: pending / sent / quarantined (+ reason)
    case: str
    raw: str = ""
    ack_raw: str = ""
    peer: str = ""

    @property
    def key(self) -> str:
        return f"{self.direction}-{self.id}"

    @property
    def problem(self) -> bool:
        bad_ack = bool(self.ack) and self.ack != "AA"
        return bad_ack or "quarantin" in self.effect or "error" in self.effect.lower()

    def label(self) -> str:
        """How an answer names it: "outbound #12 ORU^R01 (control id 9001)"."""
        way = "inbound" if self.direction == "in" else "outbound"
        return f"{way} #{self.id} {self.type} (control id {self.control_id or '-'})"


@dataclass(frozen=True, slots=True)
class ImageRow:
    sop_instance_uid: str
    patient_id: str
    accession: str
    modality: str
    received_at: datetime | None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def messages(hl7: Mapping[str, Any] | None) -> list[MessageRow]:
    """Inbound and outbound messages, newest first (quarantined ones listed once)."""
    if not hl7:
        return []
    rows: list[MessageRow] = []
    inbound = _obj(hl7.get("inbound"))
    for m, w in jr.objects(inbound.get("recent"), "hl7.inbound.recent"):
        rows.append(
            MessageRow(
                "in",
                _int(m.get("id")),
                jr.time(m.get("received_at"), f"{w}.received_at"),
                _s(m.get("type")),
                _s(m.get("control_id")),
                _s(m.get("ack")),
                _s(m.get("result")),
                _s(m.get("case_id")),
                _s(m.get("raw")),
                _s(m.get("ack_raw")),
                _s(m.get("peer")),
            )  # fmt: skip
        )
    outbox = _obj(hl7.get("outbox"))
    seen: set[int] = set()
    listed = [*jr.objects(outbox.get("recent"), "hl7.outbox.recent")]
    listed += [*jr.objects(hl7.get("quarantine"), "hl7.quarantine")]
    for m, w in listed:
        row_id = _int(m.get("id"))
        if row_id in seen:
            continue
        seen.add(row_id)
        status = _s(m.get("status")) or "quarantined"
        reason = _s(m.get("reason"))
        rows.append(
            MessageRow(
                "out",
                row_id,
                jr.time(m.get("at"), f"{w}.at"),
                _s(m.get("type")),
                _s(m.get("control_id")),
                _s(m.get("ack")),
                f"{status}: {reason}" if reason else status,
                _s(m.get("case_id")) or _s(m.get("accession")),
                _s(m.get("raw")),
                _s(m.get("ack_raw")),
                _s(m.get("destination")),
            )  # fmt: skip
        )
    far_past = datetime.min.replace(tzinfo=None)
    return sorted(rows, key=lambda r: r.at.replace(tzinfo=None) if r.at else far_past, reverse=True)


def shown(rows: list[MessageRow], which: str) -> list[MessageRow]:
    """The rows the filter `which` (one of FILTERS) lets through."""
    if which == "problems":
        return [r for r in rows if r.problem]
    if which in ("in", "out"):
        return [r for r in rows if r.direction == which]
    return list(rows)


def images(dicom: Mapping[str, Any] | None) -> list[ImageRow]:
    """The images matched to no case (newest first), to assign by picking a case."""
    if not dicom:
        return []
    return [
        ImageRow(
            _s(m.get("sop_instance_uid")),
            _s(m.get("patient_id")),
            _s(m.get("accession")),
            _s(m.get("modality")),
            jr.time(m.get("received_at"), f"{w}.received_at"),
        )  # fmt: skip
        for m, w in jr.objects(dicom.get("unmatched"), "dicom.unmatched")
    ]


@dataclass(frozen=True, slots=True)
class AssociationRow:
    calling_ae: str
    address: str
    opened_at: datetime | None
    closed_at: datetime | None
    outcome: str  # open / released / aborted / rejected / closed
    asked: str  # "C-STORE 3, C-ECHO 1"
    refused: str  # "C-STORE 0xA700 1"
    # (SOP Instance UID, SOP class, status answered: "success", "0xA700", "" not answered)
    stored: tuple[tuple[str, str, str], ...] = ()
    queried: str = ""  # "Modality Worklist Information Model - FIND 2"

    @property
    def problem(self) -> bool:
        return bool(self.refused) or self.outcome in ("aborted", "rejected")

    def label(self) -> str:
        return f"association from {self.calling_ae or '?'} at {self.address or '?'}"


def _counts(value: Any) -> str:
    found = _obj(value)
    return ", ".join(f"{k} {v}" for k, v in found.items())


def associations(dicom: Mapping[str, Any] | None) -> list[AssociationRow]:
    """The latest DICOM associations (open first, then newest closed)."""
    listed = _obj(_obj(dicom).get("associations")).get("recent")
    return [
        AssociationRow(
            _s(m.get("calling_ae")),
            _s(m.get("address")),
            jr.time(m.get("opened_at"), f"{w}.opened_at"),
            jr.time(m.get("closed_at"), f"{w}.closed_at"),
            _s(m.get("outcome")),
            _counts(m.get("asked")),
            _counts(m.get("refused")),
            tuple(
                (_s(i.get("sop_instance_uid")), _s(i.get("sop_class")), _s(i.get("status")))
                for i, _ in jr.objects(m.get("stored"), f"{w}.stored")
            ),
            _counts(m.get("queried")),
        )  # fmt: skip
        for m, w in jr.objects(listed, "dicom.associations.recent")
    ]


def shown_associations(rows: list[AssociationRow], how: str) -> list[AssociationRow]:
    """The associations a filter shows: "problems" only the aborted, rejected or refused
    ones; every other filter all of them (associations are all calls to the service)."""
    return [r for r in rows if r.problem] if how == "problems" else rows


def segments(raw: str, width: int) -> list[str]:
    """A raw HL7 message as lines: one segment a line, a long segment broken only at a field
    separator (never inside a field), continuation lines indented."""
    lines: list[str] = []
    for segment in raw.replace("\n", "\r").split("\r"):
        if not segment:
            continue
        line = ""
        for i, field in enumerate(segment.split("|")):
            piece = field if i == 0 else "|" + field
            if line and len(line) + len(piece) > width:
                lines.append(line)
                line = "    " + piece
            else:
                line += piece
        lines.append(line)
    return lines
