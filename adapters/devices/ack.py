"""Original-mode ACKs of the device paths: built for PCD-01 (AA / AE / AR with ERR), read for
PCD-04 (the alert manager's ACK, or an ORA^R41 in its place). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters.devices.hl7v2 import MessageError, escape, format_ts, parse

# HL7 table 0357, the texts of the codes procsuite answers with
ERROR_TEXT = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "203": "Unsupported version id",
    "207": "Application internal error",
}


@dataclass(frozen=True, slots=True)
class AckError:
    """One ERR segment: where (e.g. "PV1-3", "OBX-6 (set 5)"), the 0357 code, the text."""

    where: str
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class To:
    """What an ACK needs from the message it answers."""

    sending_application: str = ""
    sending_facility: str = ""
    control_id: str = ""
    trigger: str = "R01"
    processing_id: str = "P"
    version: str = "2.6"


def build_ack(
    to: To,
    *,
    code: str,
    errors: Sequence[AckError] = (),
    control_id: str,
    now: datetime,
    application: str,
    facility: str,
) -> bytes:
    """The ACK (UTF-8 bytes, not framed): MSH, MSA, and one ERR (v2.5 layout) per error."""
    text = "; ".join(f"{e.where}: {e.text}" if e.where else e.text for e in errors)
    segments = [
        "|".join(
            [
                "MSH",
                "^~\\&",
                escape(application),
                escape(facility),
                escape(to.sending_application),
                escape(to.sending_facility),
                format_ts(now),
                "",
                f"ACK^{escape(to.trigger)}^ACK",
                escape(control_id),
                escape(to.processing_id),
                escape(to.version or "2.6"),
            ]
        ),  # fmt: skip
        "|".join(["MSA", code, escape(to.control_id), escape(_short(text, 80))]),
    ]
    for e in errors:
        segments.append(
            "|".join(
                ["ERR", "", _location(e.where), f"{e.code}^{ERROR_TEXT.get(e.code, '')}"
                 "^HL70357", "E", "", "", "", escape(_short(e.text, 250))]
            )
        )  # fmt: skip
    return ("\r".join(segments) + "\r").encode("utf-8")


def _location(where: str) -> str:
    """ERR-2 (ERL) from "OBX-6 (set 5)" -> "OBX^5^6", "PV1-3" -> "PV1^1^3"."""
    head, _, rest = where.partition(" (set ")
    name, _, number = head.partition("-")
    sequence = rest.rstrip(")") or "1"
    if len(name) != 3:
        return ""
    return f"{name}^{sequence}^{number}" if number else f"{name}^{sequence}"


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Answer:
    """The alert manager's answer: `accepted` for AA/CA (or an ORA^R41), the MSA code, text."""

    accepted: bool
    code: str
    control_id: str  # MSA-2: the message it answers
    text: str


def read_answer(raw: bytes) -> Answer:
    """The answer to a PCD-04 message: an ACK (MSA-1 AA / CA accepted, AE / AR / CE / CR
    not) or an ORA^R41 (accepted when its MSA says so, or when it has none).

    Raises:
        MessageError: not an HL7 message, or an ACK without MSA.
    """
    msg = parse(raw)
    msa = msg.first("MSA")
    kind = msg.component_of(msg.segments[0].field(9), 1)
    if msa is None:
        if kind == "ORA":
            return Answer(True, "AA", "", "ORA^R41")
        raise MessageError("MSA", f"the {kind or 'answer'} has no MSA segment")
    code = msa.field(1).strip().upper()
    return Answer(code in ("AA", "CA"), code, msa.field(2).strip(), msa.field(3).strip())
