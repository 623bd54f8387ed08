"""Reading fields out of a python-hl7 parse tree, and HL7 data types into Python values.

`Seg` wraps one python-hl7 segment and reads `field(n, rep, comp, sub)` as unescaped text
(1-based, like the standard: `seg.get(3, comp=1)` is PID-3.1), whatever depth the parser
built. `parse_ts` / `parse_date` read DTM / DT values, naming the field when they are wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from adapters.hl7.errors import DATA_TYPE_ERROR, ContentError, Location
from adapters.hl7.tree import Tree
from adapters.hl7.wire import unescape
from suite.domain.bounds import OutOfRange, bounded_date, bounded_time

HL7_NULL = '""'


def _leaf(node: Any) -> str:
    while not isinstance(node, str):
        if not node:
            return ""
        node = node[0]
    return node


class Seg:
    """One segment of a parsed message; `name` is its ID, `index` its place in the message."""

    __slots__ = ("_raw", "_texts", "esc", "index", "name", "separators", "sequence")

    def __init__(
        self,
        raw: Any,
        *,
        index: int,
        sequence: int,
        esc: str,
        separators: str,
        texts: list[str] | None = None,
    ):
        self._raw = raw
        self._texts = texts  # each field's text as sent (a `tree.Tree`); else str() of a node
        self.name: str = _leaf(raw[0]) if len(raw) else ""
        self.index = index
        self.sequence = sequence
        self.esc = esc
        self.separators = separators

    def at(self, field: int, comp: int = 0) -> Location:
        return Location(self.name, field, comp, self.sequence)

    def raw_field(self, field: int) -> Any:
        if field >= len(self._raw):
            return None
        return self._raw[field]

    def repetitions(self, field: int) -> int:
        node = self.raw_field(field)
        if node is None:
            return 0
        if len(node) == 1 and _leaf(node) == "":
            return 0
        return len(node)

    def get(self, field: int, comp: int = 1, sub: int = 1, *, rep: int = 1) -> str:
        """The unescaped text at FIELD[rep].comp.sub ('' when absent; HL7 null "" too)."""
        node = self.raw_field(field)
        if node is None:
            return ""
        if self.name == "MSH" and field in (1, 2):
            return _leaf(node)
        for idx in (rep, comp, sub):
            if isinstance(node, str):
                if idx != 1:
                    return ""
                continue
            if idx > len(node):
                return ""
            node = node[idx - 1]
        text = _leaf(node)
        if text == HL7_NULL:
            return ""
        return unescape(text, self.esc, self._seps()).strip()

    def text(self, field: int, *, rep: int = 1) -> str:
        """The whole field (one repetition) as text: components joined with `^`, unescaped."""
        node = self.raw_field(field)
        if node is None or rep > len(node):
            return ""
        node = node[rep - 1]
        if isinstance(node, str):
            return "" if node == HL7_NULL else unescape(node, self.esc, self._seps()).strip()
        parts = [self._comp_text(c) for c in node]
        while parts and not parts[-1]:
            parts.pop()
        return "^".join(parts)

    def raw_text(self, field: int) -> str:
        """The field exactly as sent (still escaped), all repetitions; for echoing it back."""
        if self._texts is not None:
            return self._texts[field] if field < len(self._texts) else ""
        node = self.raw_field(field)
        return "" if node is None else str(node)

    def _comp_text(self, comp: Any) -> str:
        if isinstance(comp, str):
            return unescape(comp, self.esc, self._seps())
        return " ".join(unescape(_leaf(s), self.esc, self._seps()) for s in comp).strip()

    def _seps(self) -> str:
        # python-hl7 separators: "\r" + field + repetition + component + subcomponent
        s = self.separators
        return s[1] + s[3] + s[2] + s[4]


def segments(message: Any) -> Iterator[Seg]:
    """Every segment of a python-hl7 message (or a `tree.Tree`) as a `Seg`, numbering repeats
    of each ID."""
    counts: dict[str, int] = {}
    esc = str(message.esc)
    separators = str(message.separators)
    if isinstance(message, Tree):
        for index, (raw, texts) in enumerate(zip(message.segments, message.fields, strict=True)):
            name = _leaf(raw[0]) if raw else ""
            counts[name] = counts.get(name, 0) + 1
            yield Seg(
                raw,
                index=index,
                sequence=counts[name],
                esc=esc,
                separators=separators,
                texts=texts,
            )
        return
    for index, raw in enumerate(message):
        name = _leaf(raw[0]) if len(raw) else ""
        counts[name] = counts.get(name, 0) + 1
        yield Seg(raw, index=index, sequence=counts[name], esc=esc, separators=separators)


# ---- data types -----------------------------------------------------------------------------

_TS = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?(?:([+-])(\d{2})(\d{2}))?$"
)


def parse_ts(text: str, where: Location, *, zone: tzinfo) -> datetime | None:
    """A DTM / TS value (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) as an aware datetime.

    A value without an offset is in `zone`; '' gives None; anything else wrong raises a
    `ContentError` naming `where`.
    """
    text = text.strip()
    if not text:
        return None
    m = _TS.match(text)
    if m is None:
        raise ContentError(where, f"{text} is not a date/time (YYYYMMDDHHMMSS[+ZZZZ])")
    year, month, day, hour, minute, second, frac, sign, oh, om = m.groups()
    try:
        tz: tzinfo = zone
        if sign:
            offset = timedelta(hours=int(oh), minutes=int(om))
            tz = timezone(offset if sign == "+" else -offset)
        micro = int((frac or "0").ljust(6, "0")[:6])
        value = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError:
        raise ContentError(where, f"{text} is not a date/time", code=DATA_TYPE_ERROR) from None
    try:  # 9999-12-31 at -23:59 would overflow every later conversion to UTC
        return bounded_time(value, where=str(where))
    except OutOfRange as exc:
        raise ContentError(where, exc.message, code=DATA_TYPE_ERROR) from None


def parse_date(text: str, where: Location) -> date | None:
    """A DT value (a birth date): YYYYMMDD, optionally followed by a time that is ignored."""
    text = text.strip()
    if not text:
        return None
    if not re.match(r"^\d{8}", text):
        raise ContentError(where, f"{text} is not a date (YYYYMMDD)")
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise ContentError(where, f"{text} is not a date") from None
    try:
        return bounded_date(day, where=str(where))
    except OutOfRange as exc:
        raise ContentError(where, exc.message, code=DATA_TYPE_ERROR) from None


def format_ts(value: datetime) -> str:
    """An aware datetime as an HL7 DTM with its offset: 20261124081500+0100."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.strftime("%Y%m%d%H%M%S%z")


def person_name(seg: Seg, field: int, *, rep: int = 1) -> str:
    """An XPN / XCN name as "FAMILY^GIVEN" (procsuite's name form); '' when absent."""
    family = seg.get(field, 1, rep=rep)
    given = seg.get(field, 2, rep=rep)
    return f"{family}^{given}" if given else family


def provider(seg: Seg, field: int) -> tuple[str, str]:
    """An XCN (ID^FAMILY^GIVEN...) as (id, "FAMILY^GIVEN")."""
    ident = seg.get(field, 1)
    family = seg.get(field, 2)
    given = seg.get(field, 3)
    name = f"{family}^{given}" if given else family
    return ident, name
