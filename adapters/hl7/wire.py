"""Bytes to text and back: MSH-18 character sets, segment separators, escape sequences.

Pure functions. A message's bytes are decoded with the character set its MSH-18 declares
before anything parses them (python-hl7 works on text); `\\n` and `\\r\\n` segment ends become
`\\r`; field text is unescaped (`\\F\\`, `\\S\\`, `\\T\\`, `\\R\\`, `\\E\\`, `\\Xhh\\`, `\\.br\\`).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.hl7.errors import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    Location,
    Rejected,
)

# HL7 table 0211 names -> Python codecs. UNICODE UTF-8 is the v2.5 name; "UTF-8" and
# "UNICODE" (v2.3's name, used for UTF-8 in practice) are accepted as spelled by some senders.
CHARSETS: dict[str, str] = {
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "8859/2": "iso8859-2",
    "8859/5": "iso8859-5",
    "8859/7": "iso8859-7",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UNICODE": "utf-8",
}

MSH18 = Location("MSH", 18)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A message as text with normalised segment ends, and the MSH-18 name it was read with."""

    text: str
    charset: str  # the MSH-18 name the message was read with
    declared: str  # MSH-18 as sent ('' when empty: the default set was used)
    codec: str


def header_fields(raw: bytes) -> list[bytes]:
    """The MSH fields as bytes, numbered like HL7 from index 1 (MSH-1 is the separator).

    Raises `Rejected` when the bytes do not start with an MSH segment.
    """
    start = raw.lstrip(b"\r\n \t")
    if not start.startswith(b"MSH") or len(start) < 8:
        shown = start[:20].decode("ascii", "replace")
        raise Rejected(Location("MSH"), f"the message does not start with MSH (got {shown!r})")
    end = len(start)
    for sep in (b"\r", b"\n"):
        pos = start.find(sep)
        if pos != -1:
            end = min(end, pos)
    separator = start[3:4]
    parts = start[:end].split(separator)
    # parts[0] = "MSH", parts[1] = encoding characters (MSH-2): shift so index == field number.
    return [b"MSH", separator, *parts[1:]]


def decode(raw: bytes, *, default_charset: str) -> Decoded:
    """Decode `raw` per its MSH-18 and normalise segment separators to `\\r`."""
    fields = header_fields(raw)
    declared = fields[18].decode("ascii", "replace").strip() if len(fields) > 18 else ""
    # MSH-18 may repeat (the first value is the default set); only the first is used.
    name = declared.split("~")[0].strip().upper() or default_charset.upper()
    codec = CHARSETS.get(name)
    if codec is None:
        raise Rejected(
            MSH18,
            f"character set {name!r} is not supported (ASCII, 8859/1, UNICODE UTF-8)",
            code=TABLE_VALUE_NOT_FOUND,
        )
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise Rejected(
            MSH18,
            f"byte 0x{raw[exc.start]:02X} at offset {exc.start} is not valid {name}",
            code=DATA_TYPE_ERROR,
        ) from None
    text = text.strip("\r\n \t\x00").replace("\r\n", "\r").replace("\n", "\r")
    return Decoded(text=text, charset=name, declared=declared.split("~")[0].strip(), codec=codec)


def encode(text: str, codec: str) -> bytes:
    """`text` in the message's character set; what the set cannot hold becomes `?`."""
    return text.encode(codec, errors="replace")


def unescape(text: str, esc: str = "\\", separators: str = "|^~&") -> str:
    """Field text with HL7 escape sequences replaced by what they stand for."""
    if esc not in text:
        return text
    field, component, repetition, sub = separators[0], separators[1], separators[2], separators[3]
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != esc:
            out.append(ch)
            i += 1
            continue
        end = text.find(esc, i + 1)
        if end == -1:  # a lone escape character: keep it as text
            out.append(text[i:])
            break
        seq = text[i + 1 : end]
        i = end + 1
        if seq == "F":
            out.append(field)
        elif seq == "S":
            out.append(component)
        elif seq == "T":
            out.append(sub)
        elif seq == "R":
            out.append(repetition)
        elif seq == "E":
            out.append(esc)
        elif seq in (".br", ".sp"):
            out.append("\n")
        elif seq.startswith("X") and len(seq) % 2 == 1:
            try:
                out.append(bytes.fromhex(seq[1:]).decode("latin-1"))
            except ValueError:
                out.append("")
        # \H\, \N\ (highlighting), \Cxxyy\ / \Mxxyyzz\ (code switching) and unknown
        # sequences carry no text of their own: they are dropped.
    return "".join(out)


_ESCAPES = {
    ord("\\"): "\\E\\",
    ord("|"): "\\F\\",
    ord("^"): "\\S\\",
    ord("&"): "\\T\\",
    ord("~"): "\\R\\",
    ord("\n"): "\\.br\\",
    ord("\r"): "\\.br\\",
    # Other control characters (an MLLP <VT> or <FS> among them) never go out raw.
    **{c: f"\\X{c:02X}\\" for c in range(0x20) if c not in (0x0A, 0x0D)},
    0x7F: "\\X7F\\",
}


def escape(text: str) -> str:
    """`text` safe inside a field of a message with the standard separators `|^~\\&`."""
    return text.replace("\r\n", "\n").translate(_ESCAPES)


def require(value: str, where: Location, what: str) -> str:
    """`value` stripped, or a `Rejected` naming the missing header field."""
    value = value.strip()
    if not value:
        raise Rejected(where, f"{what} is missing", code=REQUIRED_FIELD_MISSING)
    return value
