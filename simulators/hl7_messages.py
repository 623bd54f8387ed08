"""HL7 v2.5.1 messages of the simulated hospital system: pure text builders and ACK reading.

What goes where follows procsuite's inbound mapping (adapters/hl7/mapping.py, parse.py;
docs/hl7-interface.md), the way an IHE Scheduled Workflow order filler expects it:

- ADT^A04 (register an outpatient): PID-3 MRN with identifier type MR, PID-5 name, PID-7
  birth date, PID-8 sex; PV1-2 O, PV1-3 point of care `IR` ^ room (`IR1`); AL1-3 allergies.
- ORM^O01 NW (new order): ORC-2 placer / ORC-3 filler order number, ORC-7.4 and OBR-27.4
  the scheduled start, ORC-12 / OBR-16 the ordering provider; OBR-4 the procedure as a CPT
  code (coding system C4: 22510/22511 vertebroplasty thoracic/lumbar, 22513/22514
  kyphoplasty) with its text; OBR-13 the planned levels ("T12, L1"); OBR-18 the accession
  number (IHE); OBR-31 the reason (ICD-10); OBR-36 the scheduled time; DG1 the diagnosis
  with DG1-5 the fracture date.
- ORM^O01 CA (cancel): the same order with ORC-1 CA and the reason in ORC-16.

Times carry their UTC offset (20261124090000+0100), so no one has to guess the zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import hl7
from hl7.exceptions import HL7Exception

from simulators.day_list import DayCase

VERSION = "2.5.1"
CHARSET = "UNICODE UTF-8"
SEGMENT_END = "\r"

# Table 0357 message error condition codes (ERR-3) used by the receiver's AE answers.
APPLICATION_INTERNAL_ERROR = ("207", "Application internal error")


@dataclass(frozen=True, slots=True)
class Identity:
    """MSH-3..6 of messages this system sends, and whom they are for."""

    application: str = "HIS"
    facility: str = "HOSPITAL"
    receiving_application: str = "PROCSUITE"
    receiving_facility: str = "IR"


def esc(text: str) -> str:
    """HL7 escaping of the delimiters (|^~\\&) in a text value."""
    return (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("~", "\\R\\")
        .replace("&", "\\T\\")
    )


def xpn(name: str) -> str:
    """A person name given as "Family^Given" (components kept, each escaped)."""
    return "^".join(esc(part) for part in name.split("^"))


def ts(at: datetime) -> str:
    """HL7 DTM with seconds and the UTC offset: 20261124090000+0100."""
    if at.tzinfo is None:
        raise ValueError("an HL7 time needs a zone here")
    return at.strftime("%Y%m%d%H%M%S%z")


def dt(day: date | None) -> str:
    return day.strftime("%Y%m%d") if day is not None else ""


def segment(name: str, *fields: str) -> str:
    """`name|f1|f2...` with empty trailing fields dropped (fields are already escaped)."""
    values = list(fields)
    while values and values[-1] == "":
        values.pop()
    return "|".join([name, *values])


def msh(ident: Identity, *, kind: str, control_id: str, at: datetime) -> str:
    """MSH for `kind` like "ADT^A04^ADT_A01" (original acknowledgement mode)."""
    return "MSH|^~\\&|" + "|".join(
        [
            esc(ident.application),
            esc(ident.facility),
            esc(ident.receiving_application),
            esc(ident.receiving_facility),
            ts(at),
            "",
            kind,
            esc(control_id),
            "P",
            VERSION,
            "",
            "",
            "",
            "",
            "",
            CHARSET,
        ]
    )


def _pid(case: DayCase) -> str:
    return segment(
        "PID",
        "1",
        "",
        f"{esc(case.mrn)}^^^HOSP^MR",
        "",
        xpn(case.name),
        "",
        dt(case.birth_date),
        case.sex if case.sex in ("F", "M", "O", "U", "A", "N") else "U",
    )


def _pv1(case: DayCase) -> str:
    family_given = _provider(case)
    fields = ["1", "O", f"IR^{esc(case.room)}^^MAIN", "", "", "", family_given]
    fields += [""] * 11 + [esc(case.visit_number)]  # PV1-19 visit number
    return segment("PV1", *fields)


def _al1(case: DayCase) -> list[str]:
    return [
        segment("AL1", str(i), "DA", f"^{esc(text)}") for i, text in enumerate(case.allergies, 1)
    ]


def _provider(case: DayCase) -> str:
    ident, family, given = case.ordering_provider
    return f"{esc(ident)}^{esc(family)}^{esc(given)}"


def service_code(case: DayCase) -> tuple[str, str]:
    """(CPT code, text) of the order: the first planned level's region picks the code."""
    lumbar = case.levels[0][:1] in ("L", "S")
    if case.procedure == "kyphoplasty":
        if lumbar:
            return "22514", "Percutaneous vertebral augmentation (kyphoplasty), lumbar"
        return "22513", "Percutaneous vertebral augmentation (kyphoplasty), thoracic"
    if lumbar:
        return "22511", "Percutaneous vertebroplasty, lumbosacral"
    return "22510", "Percutaneous vertebroplasty, cervicothoracic"


def requested_procedure_id(case: DayCase) -> str:
    """Requested Procedure ID (DICOM SH, 16 characters) derived from the accession."""
    return ("RP" + case.accession.removeprefix("ACC"))[:16]


def placer_number(case: DayCase) -> str:
    return f"P{case.accession}"[:22]


def adt_a04(case: DayCase, *, ident: Identity, control_id: str, at: datetime) -> str:
    """ADT^A04: register the patient for today's outpatient visit."""
    segments = [
        msh(ident, kind="ADT^A04^ADT_A01", control_id=control_id, at=at),
        segment("EVN", "A04", ts(at)),
        _pid(case),
        _pv1(case),
        *_al1(case),
    ]
    return SEGMENT_END.join(segments) + SEGMENT_END


def _order_segments(
    case: DayCase, *, control: str, status: str, at: datetime, reason: str = ""
) -> list[str]:
    code, text = service_code(case)
    start = ts(case.scheduled_at)
    levels = ", ".join(case.levels)
    orc = segment(
        "ORC",
        control,
        esc(placer_number(case)),
        esc(case.accession),
        "",
        status,
        "",
        f"^^^{start}",
        "",
        ts(at),
        "",
        "",
        _provider(case),
        "",
        "",
        "",
        f"^{esc(reason)}" if reason else "",
    )
    obr_fields = [""] * 36
    obr_fields[0] = "1"
    obr_fields[1] = esc(placer_number(case))
    obr_fields[2] = esc(case.accession)
    obr_fields[3] = f"{code}^{esc(text)}^C4"
    obr_fields[12] = esc(levels)
    obr_fields[15] = _provider(case)
    obr_fields[17] = esc(case.accession)
    obr_fields[18] = esc(requested_procedure_id(case))  # OBR-19 placer field 2
    obr_fields[23] = "RX"
    obr_fields[26] = f"^^^{start}"
    obr_fields[30] = f"{esc(case.indication_code)}^{esc(case.indication_text)}^I10"
    obr_fields[35] = start
    segments = [orc, segment("OBR", *obr_fields)]
    if case.indication_code:
        segments.append(
            segment(
                "DG1",
                "1",
                "",
                f"{esc(case.indication_code)}^{esc(case.indication_text)}^I10",
                esc(case.indication_text),
                dt(case.fracture_date),
                "W",
            )
        )
    return segments


def orm_new(case: DayCase, *, ident: Identity, control_id: str, at: datetime) -> str:
    """ORM^O01 with ORC-1 NW: a new order for the case's procedure and levels."""
    segments = [
        msh(ident, kind="ORM^O01^ORM_O01", control_id=control_id, at=at),
        _pid(case),
        _pv1(case),
        *_al1(case),
        *_order_segments(case, control="NW", status="SC", at=at),
    ]
    return SEGMENT_END.join(segments) + SEGMENT_END


def orm_cancel(
    case: DayCase,
    *,
    ident: Identity,
    control_id: str,
    at: datetime,
    reason: str = "Patient request",
) -> str:
    """ORM^O01 with ORC-1 CA: cancel the order (reason in ORC-16)."""
    segments = [
        msh(ident, kind="ORM^O01^ORM_O01", control_id=control_id, at=at),
        _pid(case),
        _pv1(case),
        *_order_segments(case, control="CA", status="CA", at=at, reason=reason),
    ]
    return SEGMENT_END.join(segments) + SEGMENT_END


# ---- acknowledgements ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    """What an ACK says: MSA-1 code, MSA-2 the control id it answers, MSA-3 / ERR text."""

    code: str
    control_id: str
    text: str = ""
    error_code: str = ""

    @property
    def accepted(self) -> bool:
        return self.code in ("AA", "CA")


class AckError(ValueError):
    """A reply that is not a readable ACK; the message says what is missing."""


def parse_ack(text: str) -> Ack:
    """The ACK's MSA (and ERR) read with python-hl7."""
    try:
        message = hl7.parse(text)
        msa = message.segment("MSA")
    except (KeyError, IndexError, ValueError, HL7Exception) as exc:
        raise AckError(f"reply is not an ACK with an MSA segment: {text[:80]!r}") from exc
    error_code = detail = ""
    try:
        err = message.segment("ERR")
        error_code = _part(err, 3)
        detail = _part(err, 8)
    except KeyError:
        pass
    code = _part(msa, 1)
    if not code:
        raise AckError("ACK has an empty MSA-1")
    return Ack(
        code=code,
        control_id=_part(msa, 2),
        text=_part(msa, 3) or detail,
        error_code=error_code,
    )


def _part(seg: hl7.Segment, n: int, component: int = 1) -> str:
    """Component `component` of field `n` as text ("" when absent)."""
    if len(seg) <= n:
        return ""
    parts = str(seg[n]).split("^")
    return parts[component - 1] if component <= len(parts) else ""


@dataclass(frozen=True, slots=True)
class Received:
    """The head of a received message: enough to answer and to file it."""

    kind: str  # MSH-9 as sent, e.g. "ORU^R01^ORU_R01"
    trigger: str
    control_id: str
    sender: str
    sender_facility: str
    version: str


def read_header(text: str) -> Received:
    """MSH of a received message (python-hl7); ValueError when there is no MSH."""
    try:
        message = hl7.parse(text)
        header = message.segment("MSH")
    except (KeyError, IndexError, ValueError, HL7Exception) as exc:
        raise ValueError(f"no readable MSH segment: {text[:60]!r}") from exc

    kind = str(header[9]) if len(header) > 9 else ""
    return Received(
        kind=kind,
        trigger=_part(header, 9, 2),
        control_id=_part(header, 10),
        sender=_part(header, 3),
        sender_facility=_part(header, 4),
        version=_part(header, 12) or VERSION,
    )


def ack_for(
    received: Received | None,
    *,
    code: str,
    ident: Identity,
    control_id: str,
    at: datetime,
    text: str = "",
) -> str:
    """An ACK (original mode) answering `received`; AE/AR carry an ERR with code 207."""
    trigger = received.trigger if received else ""
    answering = Identity(
        application=ident.application,
        facility=ident.facility,
        receiving_application=received.sender if received else "",
        receiving_facility=received.sender_facility if received else "",
    )
    segments = [
        msh(
            answering, kind=f"ACK^{trigger}^ACK" if trigger else "ACK", control_id=control_id, at=at
        ),
        segment("MSA", code, esc(received.control_id if received else ""), esc(text[:80])),
    ]
    if code != "AA":
        err_code, err_text = APPLICATION_INTERNAL_ERROR
        segments.append(
            segment("ERR", "", "", f"{err_code}^{err_text}^HL70357", "E", "", "", "", esc(text))
        )
    return SEGMENT_END.join(segments) + SEGMENT_END
