"""A small, strict HL7 v2 reader and writer for the device messages (PCD-01, PCD-04, ACKs).

procsuite's general HL7 adapter has its own (adapters do not import each other); the device
messages need only segments, fields, components and repetitions, so this is the few dozen
lines they take, fast enough for a gateway sending every second. Pure: text in, tuples out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from suite.domain.bounds import OutOfRange, utc_time

__all__ = ["Hl7Text", "MessageError", "Segment", "escape", "format_ts", "parse", "parse_ts"]


class MessageError(ValueError):
    """A message that cannot be read; `where` names the place ("MSH-9", "OBX-3-5")."""

    def __init__(self, where: str, text: str, *, code: str = "102", reject: bool = False) -> None:
        super().__init__(f"{where}: {text}" if where else text)
        self.where = where
        self.text = text
        self.code = code  # HL7 table 0357
        self.reject = reject  # AR (the message as a whole is refused) rather than AE


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: `fields[n]` is field n as text (MSH counted the HL7 way: MSH-1 is `|`)."""

    name: str
    fields: tuple[str, ...]
    sequence: int  # 1 for the first segment of its name, 2 for the second, ...

    def field(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""


@dataclass(frozen=True, slots=True)
class Hl7Text:
    """A parsed message: its segments and the encoding characters to split fields with."""

    segments: tuple[Segment, ...]
    component: str = "^"
    repetition: str = "~"
    escape_char: str = "\\"
    subcomponent: str = "&"

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def components(self, value: str) -> list[str]:
        """The components of the first repetition of `value`, unescaped."""
        first = value.split(self.repetition, 1)[0] if self.repetition else value
        return [self.unescape(c) for c in first.split(self.component)]

    def component_of(self, value: str, n: int) -> str:
        parts = self.components(value)
        return parts[n - 1].strip() if n <= len(parts) else ""

    def unescape(self, text: str) -> str:
        e = self.escape_char
        if not e or e not in text:
            return text
        return (
            text.replace(f"{e}F{e}", "|")
            .replace(f"{e}S{e}", self.component)
            .replace(f"{e}T{e}", self.subcomponent)
            .replace(f"{e}R{e}", self.repetition)
            .replace(f"{e}E{e}", e)
        )


def parse(raw: bytes, *, max_segments: int = 5_000) -> Hl7Text:
    """The segments of `raw` (UTF-8, or Latin-1 when it is not UTF-8).

    Raises:
        MessageError: no MSH first, or encoding characters that cannot be read (reject).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.lstrip("\r\n \t\ufeff")
    if not text.startswith("MSH") or len(text) < 8:
        raise MessageError("MSH", "the message does not start with an MSH segment", reject=True)
    sep = text[3]
    enc = text[4:8]
    if sep.isalnum() or len(set(enc)) < 4 or sep in enc:
        raise MessageError("MSH-2", f"unreadable encoding characters {enc!r}", reject=True)
    lines = [line for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if line]
    if len(lines) > max_segments:
        raise MessageError("", f"more than {max_segments} segments", code="207", reject=True)
    counts: dict[str, int] = {}
    segments: list[Segment] = []
    for line in lines:
        parts = line.split(sep)
        name = parts[0].strip()
        if len(name) != 3 or not name.isalnum():
            raise MessageError(
                f"segment {len(segments) + 1}", f"{name[:10]!r} is not a segment name", code="100"
            )
        counts[name] = counts.get(name, 0) + 1
        # MSH-1 is the separator itself, MSH-2 the encoding characters
        fields = ("MSH", sep, *parts[1:]) if name == "MSH" else tuple(parts)
        segments.append(Segment(name, fields, counts[name]))
    return Hl7Text(tuple(segments), enc[0], enc[1], enc[2], enc[3])


def parse_ts(text: str, *, where: str, default_zone: timezone = UTC) -> datetime | None:
    """An HL7 DTM (YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]) in UTC; None when empty.

    Raises:
        MessageError: not a time.
    """
    text = text.strip()
    if not text:
        return None
    zone = default_zone
    for sign in ("+", "-"):
        if sign in text[4:]:
            idx = text.rindex(sign)
            tz = text[idx + 1 :]
            if len(tz) != 4 or not tz.isdigit():
                raise MessageError(where, f"{text!r} has an unreadable time zone")
            minutes = int(tz[:2]) * 60 + int(tz[2:])
            if int(tz[:2]) > 23 or int(tz[2:]) > 59:
                raise MessageError(where, f"{text!r} has a time zone offset beyond 23:59")
            zone = timezone(timedelta(minutes=minutes if sign == "+" else -minutes))
            text = text[:idx]
            break
    frac = 0.0
    if "." in text:
        text, _, digits = text.partition(".")
        if not digits.isdigit():
            raise MessageError(where, f"{text}.{digits} is not a time")
        frac = float("0." + digits)
    if not text.isdigit() or len(text) not in (4, 6, 8, 10, 12, 14):
        raise MessageError(where, f"{text!r} is not a time (YYYYMMDDHHMMSS)")
    parts = [int(text[i : i + 2]) for i in range(4, len(text), 2)]
    year = int(text[:4])
    month, day, hour, minute, second = (parts + [1, 1, 0, 0, 0][len(parts) :])[:5]
    try:
        value = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        raise MessageError(where, f"{text!r} is not a valid date and time") from None
    try:  # 9999-12-31 at -23:59 would overflow here and in every later conversion
        return utc_time(value, where=where) + timedelta(seconds=frac)
    except OutOfRange:
        raise MessageError(where, f"{text!r} is not a time between 1900 and 2200") from None


def format_ts(value: datetime) -> str:
    """`value` as an HL7 DTM with seconds and its UTC offset (20250301091500+0000)."""
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def escape(text: str) -> str:
    """`text` with the HL7 delimiters escaped (default encoding characters)."""
    return (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
        .replace("\r", " ")
        .replace("\n", " ")
    )
