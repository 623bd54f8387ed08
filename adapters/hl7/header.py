"""MSH of an inbound message: the bytes decoded per MSH-18, the delimiters and encoding
characters checked, the header read and what it must say (AR when it cannot be used).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import hl7

from adapters.hl7.errors import (
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_VERSION_ID,
    ContentError,
    Location,
    Rejected,
)
from adapters.hl7.fields import Seg, parse_ts, segments
from adapters.hl7.messages import (
    ADT_EVENTS,
    SIU_EVENTS,
    SUPPORTED_VERSIONS,
    Header,
)
from adapters.hl7.tree import parse_tree
from adapters.hl7.wire import decode, require

# The segments procsuite reads; the others (NK1, IN1, GT1, OBX, Z-segments...) are dropped
# before python-hl7 builds its tree, which is most of the parsing cost of a long ADT.
USED_SEGMENTS = frozenset(
    ("MSH", "PID", "PV1", "AL1", "MRG", "ORC", "OBR", "TQ1", "NTE", "DG1", "IPC")
    + ("SCH", "AIS", "AIL", "AIP")
)


def _check_encoding_characters(text: str) -> None:
    """MSH-1 and MSH-2 must be distinct, non-alphanumeric characters (HL7 v2 2.5.4): python-hl7
    asserts (an internal error, not a parse error) on `MSH|^^~\\&`."""
    if not text.startswith("MSH") or len(text) < 8:
        raise Rejected(Location("MSH"), "the message does not start with an MSH segment")
    field = text[3]
    encoding = text[4:].split(field, 1)[0]
    chars = field + encoding
    if (
        len(encoding) < 4
        or len(set(chars[:5])) != 5
        or any(c.isalnum() or c in "\r\n " for c in chars[:5])
    ):
        raise Rejected(
            Location("MSH", 2),
            f"MSH-1/MSH-2 {chars[:6]!r} are not five distinct separator characters",
        )


# python-hl7 builds one object per field, repetition, component and subcomponent: a 900 KB
# PID-5 of `^&~` x 300,000 took 5-12 s. No real order or ADT comes near this many delimiters;
# counting them is one linear pass.
MAX_DELIMITERS = 20_000


def _check_delimiters(text: str) -> None:
    seps = text[3:8]  # field, component, repetition, escape, subcomponent
    count = sum(text.count(ch) for ch in {seps[0], seps[1], seps[2], seps[4]})
    if count > MAX_DELIMITERS:
        raise Rejected(
            Location("MSH"),
            f"the message has {count} field/component delimiters (at most {MAX_DELIMITERS})",
        )


def read_header(raw: bytes, *, default_charset: str, zone: tzinfo) -> tuple[Header, list[Seg]]:
    """The header and segments of `raw`; `Rejected` (AR) when the bytes cannot be read."""
    decoded = decode(raw, default_charset=default_charset)
    text = "\r".join(s for s in decoded.text.split("\r") if s[:3] in USED_SEGMENTS)
    _check_encoding_characters(text)
    _check_delimiters(text)
    try:
        message: Any = parse_tree(text) or hl7.parse(text)
    except (hl7.ParseException, ValueError, IndexError) as exc:
        raise Rejected(Location("MSH"), f"the message cannot be parsed: {exc}") from None
    segs = list(segments(message))
    msh = segs[0]
    header = Header(
        sending_application=msh.get(3),
        sending_facility=msh.get(4),
        receiving_application=msh.get(5),
        receiving_facility=msh.get(6),
        sent_at=_header_time(msh, zone),
        code=msh.get(9, 1).upper(),
        trigger=msh.get(9, 2).upper(),
        structure=msh.get(9, 3).upper(),
        control_id=msh.get(10),
        processing_id=msh.get(11, 1).upper(),
        version=msh.get(12, 1),
        charset=decoded.declared,
        codec=decoded.codec,
        field_separator=msh.get(1),
        encoding_characters=msh.get(2),
    )
    return header, segs


def check_header(header: Header, *, processing_ids: tuple[str, ...]) -> None:
    """`Rejected` (AR) unless MSH says what procsuite needs and supports."""
    require(header.control_id, Location("MSH", 10), "message control ID")
    require(header.code, Location("MSH", 9), "message type")
    require(header.version, Location("MSH", 12), "version ID")
    if header.version not in SUPPORTED_VERSIONS:
        raise Rejected(
            Location("MSH", 12),
            f"version {header.version} is not supported ({', '.join(SUPPORTED_VERSIONS)})",
            code=UNSUPPORTED_VERSION_ID,
        )
    if header.processing_id not in processing_ids:
        raise Rejected(
            Location("MSH", 11),
            f"processing ID {header.processing_id or '(none)'} is not accepted here"
            f" ({', '.join(processing_ids)})",
            code=UNSUPPORTED_PROCESSING_ID,
        )
    _check_type(header)


def _header_time(msh: Seg, zone: tzinfo) -> Any:
    try:
        return parse_ts(msh.get(7), msh.at(7), zone=zone)
    except ContentError:
        return None  # MSH-7 is informational here; a bad one does not stop the message


def _check_type(header: Header) -> None:
    code, trigger = header.code, header.trigger
    supported = {"ADT": ADT_EVENTS, "ORM": ("O01",), "OMI": ("O23",), "SIU": SIU_EVENTS}
    if code not in supported:
        raise Rejected(
            Location("MSH", 9, 1),
            f"message type {code} is not supported (ADT, ORM, OMI, SIU)",
            code=UNSUPPORTED_MESSAGE_TYPE,
        )
    if trigger not in supported[code]:
        raise Rejected(
            Location("MSH", 9, 2),
            f"event {code}^{trigger or '(none)'} is not supported"
            f" ({', '.join(code + '^' + t for t in supported[code])})",
            code=UNSUPPORTED_EVENT_CODE,
        )
