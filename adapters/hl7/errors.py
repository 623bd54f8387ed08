"""The HL7 adapter's error tree, drawn once.

    Hl7Error                  a message cannot be applied; names the field (e.g. "PID-7")
    ├── ContentError          the content is wrong (bad date, unknown patient, missing
    │                         accession): answered AE with an ERR segment naming the field
    └── Rejected              the message cannot be parsed or is not supported (framing,
                              character set, version, message type): answered AR

Each carries an HL7 table 0357 error code so the ERR segment says what kind of error it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite.errors import WireError

# HL7 table 0357 (message error condition codes), the ones procsuite uses.
REQUIRED_FIELD_MISSING = 101
DATA_TYPE_ERROR = 102
TABLE_VALUE_NOT_FOUND = 103
UNSUPPORTED_MESSAGE_TYPE = 200
UNSUPPORTED_EVENT_CODE = 201
UNSUPPORTED_PROCESSING_ID = 202
UNSUPPORTED_VERSION_ID = 203
UNKNOWN_KEY_IDENTIFIER = 204
APPLICATION_RECORD_LOCKED = 206
APPLICATION_INTERNAL_ERROR = 207

ERROR_TEXT = {
    REQUIRED_FIELD_MISSING: "Required field missing",
    DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found",
    UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    UNSUPPORTED_VERSION_ID: "Unsupported version id",
    UNKNOWN_KEY_IDENTIFIER: "Unknown key identifier",
    APPLICATION_RECORD_LOCKED: "Application record locked",
    APPLICATION_INTERNAL_ERROR: "Application internal error",
}


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a message an error is: segment, its sequence (1 = first), field, component."""

    segment: str
    field: int = 0
    component: int = 0
    sequence: int = 1

    def __str__(self) -> str:
        if not self.field:
            return self.segment
        text = f"{self.segment}-{self.field}"
        return f"{text}.{self.component}" if self.component else text


class Hl7Error(WireError):
    """A message that cannot be applied; `str()` is the text for the ACK and the log."""

    ack_code = "AE"

    def __init__(self, where: Location | str, message: str, *, code: int = DATA_TYPE_ERROR):
        self.location = where if isinstance(where, Location) else parse_location(where)
        self.code = code
        self.message = message
        super().__init__(f"{self.location}: {message}" if self.location.segment else message)

    @property
    def text(self) -> str:
        return str(self)


class ContentError(Hl7Error):
    """Wrong content in a well-formed, supported message: answered AE."""

    ack_code = "AE"


class Rejected(Hl7Error):
    """A message that cannot be parsed or is not supported: answered AR."""

    ack_code = "AR"


def parse_location(text: str) -> Location:
    """`Location` from "PID-7", "PID-7.1", "MSH" or "" (no location)."""
    if not text:
        return Location("")
    segment, _, rest = text.partition("-")
    field, _, component = rest.partition(".")
    return Location(segment, int(field or 0), int(component or 0))
