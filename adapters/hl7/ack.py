"""ACK messages (original acknowledgment mode): AA, AE or AR, with an ERR segment on errors.

The ACK answers in the message's version and character set. ERR follows the version:
v2.3 to v2.4 put the location and the table 0357 code in ERR-1 (ELD); v2.5 and v2.5.1 use
ERR-2 (location), ERR-3 (code), ERR-4 (severity) and ERR-8 (the text for people). MSA-3
carries the text in every version (80 characters), as most interface engines show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapters.hl7.errors import APPLICATION_INTERNAL_ERROR, ERROR_TEXT, Hl7Error
from adapters.hl7.fields import format_ts
from adapters.hl7.messages import Header
from adapters.hl7.wire import encode, escape, header_fields

_OLD_ERR = ("2.3", "2.3.1", "2.4")
DEFAULT_VERSION = "2.5.1"


@dataclass(frozen=True, slots=True)
class Addressing:
    """What an ACK needs from the message it answers (a best effort when it cannot be read)."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = DEFAULT_VERSION
    charset: str = ""
    codec: str = "utf-8"

    @classmethod
    def of(cls, header: Header) -> Addressing:
        return cls(
            sending_application=header.sending_application,
            sending_facility=header.sending_facility,
            receiving_application=header.receiving_application,
            receiving_facility=header.receiving_facility,
            trigger=header.trigger,
            control_id=header.control_id,
            processing_id=header.processing_id or "P",
            version=header.version or DEFAULT_VERSION,
            charset=header.charset,
            codec=header.codec,
        )

    @classmethod
    def guess(cls, raw: bytes) -> Addressing:
        """Addressing read straight from MSH bytes, for a message that could not be parsed."""
        try:
            fields = header_fields(raw)
        except Hl7Error:
            return cls()

        def f(n: int, comp: int = 1) -> str:
            if n >= len(fields):
                return ""
            parts = fields[n].decode("latin-1").split("^")
            return parts[comp - 1].strip() if comp <= len(parts) else ""

        # The message could not be read in its declared set, so the ACK is plain ASCII.
        return cls(
            sending_application=f(3, 1),
            sending_facility=f(4, 1),
            receiving_application=f(5, 1),
            receiving_facility=f(6, 1),
            trigger=f(9, 2),
            control_id=f(10)[:64],
            processing_id=f(11, 1) or "P",
            version=f(12, 1) or DEFAULT_VERSION,
            codec="ascii",
        )


def build_ack(
    to: Addressing,
    *,
    code: str,
    text: str = "",
    error: Hl7Error | None = None,
    control_id: str,
    now: datetime,
    application: str,
    facility: str,
) -> bytes:
    """The ACK to a message, as bytes in the message's character set (not MLLP-framed)."""
    version = to.version
    msh9 = "ACK"
    if to.trigger:
        # MSH-9.3 (message structure) exists from v2.3.1 on.
        msh9 = f"ACK^{escape(to.trigger)}" + ("" if version == "2.3" else "^ACK")
    msh = [
        "MSH",
        "^~\\&",
        escape(application),
        escape(facility),
        escape(to.sending_application),
        escape(to.sending_facility),
        format_ts(now),
        "",
        msh9,
        escape(control_id),
        escape(to.processing_id),
        escape(version),
    ]
    if to.charset:
        msh += ["", "", "", "", "", escape(to.charset)]
    message_text = text or (error.text if error else "")
    segments = [
        "|".join(msh),
        "|".join(["MSA", code, escape(to.control_id), escape(_short(message_text, 80))]),
    ]
    if error is not None or code != "AA":
        segments.append(_err(version, error, message_text))
    return encode("\r".join(segments) + "\r", to.codec)


def _err(version: str, error: Hl7Error | None, text: str) -> str:
    code = error.code if error else APPLICATION_INTERNAL_ERROR
    code_text = ERROR_TEXT.get(code, "")
    loc = error.location if error else None
    if version in _OLD_ERR:
        # ELD: segment ID ^ sequence ^ field position ^ code (CE: id & text & system)
        parts = (
            [loc.segment, str(loc.sequence), str(loc.field or "")] if loc and loc.segment else []
        )
        parts = parts + [""] * (3 - len(parts))
        return f"ERR|{'^'.join(parts)}^{code}&{code_text}&HL70357"
    erl = ""
    if loc is not None and loc.segment:
        erl = "^".join(
            [loc.segment, str(loc.sequence)]
            + ([str(loc.field), "1"] if loc.field else [])
            + ([str(loc.component)] if loc.field and loc.component else [])
        )
    severity = "E"
    return "|".join(
        [
            "ERR",
            "",
            erl,
            f"{code}^{code_text}^HL70357",
            severity,
            "",
            "",
            "",
            escape(_short(text, 250)),
        ]
    )


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
