"""A message's parse tree as plain lists, in exactly the shape python-hl7 builds.

python-hl7 makes a container object (with its separators, escape character and factory) for
every segment, field, repetition and component: that was most of the loop's time per
inbound message (issue 18's profile: `hl7.parse` 13 %). `parse_tree` splits the same text
with `str.split` into nested lists of the same depth: a level that holds no separator of its
own or below it is one string in a list, as python-hl7 does, so `fields.Seg` reads both the
same way. What python-hl7 would read differently (no field after MSH-2) is left to it
(`parse_tree` returns None).
"""

from __future__ import annotations

from typing import Any

SEGMENT_HEADERS = ("MSH", "BHS", "FHS")


class Tree:
    """The segments of a message (each a list of fields) and the raw text of their fields."""

    __slots__ = ("esc", "fields", "segments", "separators")

    def __init__(
        self, segments: list[list[Any]], fields: list[list[str]], *, separators: str, esc: str
    ) -> None:
        self.segments = segments
        self.fields = fields  # per segment: each field's text as sent (still escaped)
        self.separators = separators  # as python-hl7's: "\r" + field, repetition, component, sub
        self.esc = esc


def parse_tree(text: str) -> Tree | None:
    """The tree of `text` (its MSH-1 / MSH-2 already checked: five distinct separators);
    None when python-hl7 must read it (an MSH, BHS or FHS segment with nothing after MSH-2)."""
    text = text.strip()
    if text[:3] not in SEGMENT_HEADERS:
        return None
    f = text[3]
    encoding = text[4 : text.find(f, 4)]
    if len(encoding) < 4:
        return None
    comp, rep, esc, sub = encoding[0], encoding[1], encoding[2], encoding[3]
    segments: list[list[Any]] = []
    texts: list[list[str]] = []
    for seg in text.split("\r"):
        if f not in seg and rep not in seg and comp not in seg and sub not in seg:
            segments.append([seg])
            texts.append([seg])
            continue
        if seg[:3] in SEGMENT_HEADERS:
            end = seg.find(f, 4)
            if end < 0:
                return None
            rest = seg[end + 1 :]
            raw = [seg[:3], f, seg[4:end], *(rest.split(f) if rest else ())]
            head: list[Any] = [[seg[:3]], [f], [seg[4:end]]]
            body = raw[3:]
        else:
            raw = seg.split(f)
            head = []
            body = raw
        fields = head
        for field in body:
            if rep not in field and comp not in field and sub not in field:
                fields.append([field])
                continue
            reps: list[Any] = []
            for repetition in field.split(rep):
                if comp not in repetition and sub not in repetition:
                    reps.append([repetition])
                    continue
                reps.append([c.split(sub) for c in repetition.split(comp)])
            fields.append(reps)
        segments.append(fields)
        texts.append(raw)
    return Tree(segments, texts, separators="\r" + f + rep + comp + sub, esc=esc)
