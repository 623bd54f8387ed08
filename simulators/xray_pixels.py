"""Synthetic fluoroscopy frames of a spine: real pixel data for the simulated XA images.

A 512 x 512, 12-bit (stored in 16) MONOCHROME2 frame: soft tissue, lung fields for thoracic
levels, a column of vertebral bodies with cortical rims and pedicles (AP) or posterior
elements (lateral), the treated level in the middle, and what the step puts in it: the
trocar (metal), the inflated balloon (contrast) or the cement (barium-loaded PMMA). Pure
Python (no numpy): about 0.1 s a frame. Deterministic for a given seed.
"""

from __future__ import annotations

import math
import random
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass

MAX_VALUE = 4095  # 12 bits stored
Row = list[int]


@dataclass(frozen=True, slots=True)
class Ellipse:
    cx: float
    cy: float
    rx: float
    ry: float
    add: int

    def span(self, y: int) -> tuple[int, int] | None:
        dy = (y - self.cy) / self.ry
        if abs(dy) > 1:
            return None
        half = self.rx * math.sqrt(1 - dy * dy)
        return round(self.cx - half), round(self.cx + half)


@dataclass(frozen=True, slots=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int
    add: int
    rim: int = 0  # extra brightness of a 3-pixel cortical rim

    def paint(self, y: int, row: Row) -> None:
        if not self.y0 <= y < self.y1:
            return
        edge = y < self.y0 + 3 or y >= self.y1 - 3
        for x in range(max(0, self.x0), min(len(row), self.x1)):
            rim = edge or x < self.x0 + 3 or x >= self.x1 - 3
            row[x] += self.add + (self.rim if rim else 0)


@dataclass(frozen=True, slots=True)
class Line:
    """A straight radiopaque instrument (trocar) from (x0, y0) to (x1, y1)."""

    x0: float
    y0: float
    x1: float
    y1: float
    half_width: int
    value: int

    def paint(self, y: int, row: Row) -> None:
        lo, hi = sorted((self.y0, self.y1))
        if not lo <= y <= hi or hi == lo:
            return
        x = self.x0 + (self.x1 - self.x0) * (y - self.y0) / (self.y1 - self.y0)
        for xi in range(round(x) - self.half_width, round(x) + self.half_width + 1):
            if 0 <= xi < len(row):
                row[xi] = self.value


def _paint_ellipse(shape: Ellipse, y: int, row: Row) -> None:
    span = shape.span(y)
    if span is None:
        return
    for x in range(max(0, span[0]), min(len(row), span[1] + 1)):
        row[x] += shape.add


def spine_frame(
    *,
    level: str,
    view: str,
    step: str,
    seed: int = 0,
    rows: int = 512,
    columns: int = 512,
) -> bytes:
    """One frame as little-endian unsigned 16-bit pixels (rows x columns).

    `view` is "AP" or "LAT"; `step` one of "survey", "trocar", "balloon", "cement", "check"
    (what is in the treated vertebra); `level` like "L1" (thoracic levels show lungs in AP).
    """
    rng = random.Random(f"{seed}:{level}:{view}:{step}")
    cx, cy = columns / 2, rows / 2
    scale = rows / 512
    pitch = 88 * scale  # vertebral body + disc
    painters: list[Callable[[int, Row], None]] = []
    ellipses: list[Ellipse] = []
    ap = view.upper() == "AP"
    for k in range(-3, 4):
        yc = cy + k * pitch
        h = 70 * scale
        if ap:
            w = 130 * scale
            painters.append(Box(round(cx - w / 2), round(yc - h / 2), round(cx + w / 2), round(yc + h / 2), 800, 500).paint)  # fmt: skip
            for side in (-1, 1):
                ellipses.append(Ellipse(cx + side * 45 * scale, yc - 15 * scale, 13 * scale, 18 * scale, 700))  # fmt: skip
                ellipses.append(Ellipse(cx + side * 45 * scale, yc - 15 * scale, 8 * scale, 12 * scale, -350))  # fmt: skip
            ellipses.append(Ellipse(cx, yc + 12 * scale, 8 * scale, 15 * scale, 450))
        else:
            x0 = cx - 90 * scale
            painters.append(Box(round(x0), round(yc - h / 2), round(x0 + 140 * scale), round(yc + h / 2), 800, 500).paint)  # fmt: skip
            painters.append(Box(round(x0 + 140 * scale), round(yc - 30 * scale), round(x0 + 195 * scale), round(yc + 5 * scale), 550).paint)  # fmt: skip
            ellipses.append(Ellipse(x0 + 225 * scale, yc + 10 * scale, 35 * scale, 10 * scale, 500))
    body_x = cx if ap else cx - 20 * scale
    if step in ("trocar", "balloon", "cement"):
        if ap:
            painters.append(Line(cx + 190 * scale, cy - 150 * scale, cx + 20 * scale, cy + 5 * scale, round(2 * scale), MAX_VALUE).paint)  # fmt: skip
        else:
            painters.append(Line(columns - 10, cy - 110 * scale, body_x - 30 * scale, cy + 5 * scale, round(2 * scale), MAX_VALUE).paint)  # fmt: skip
    if step == "balloon":
        ellipses.append(Ellipse(body_x, cy, 32 * scale, 20 * scale, 1100))
    if step in ("cement", "check"):
        for _ in range(4):
            ellipses.append(
                Ellipse(
                    body_x + rng.uniform(-22, 22) * scale,
                    cy + rng.uniform(-12, 12) * scale,
                    rng.uniform(14, 30) * scale,
                    rng.uniform(10, 20) * scale,
                    700,
                )
            )
    thoracic = level.upper().startswith("T")
    noise = rng.randbytes(rows * columns)
    out = array("H")
    for y in range(rows):
        row: Row = [1250 + round(350 * (1 - ((x - cx) / cx) ** 2)) for x in range(columns)]
        if ap and thoracic:
            for x in range(columns):
                if abs(x - cx) > 110 * scale:
                    row[x] -= 550
        for paint in painters:
            paint(y, row)
        for shape in ellipses:
            _paint_ellipse(shape, y, row)
        base = y * columns
        out.extend(
            min(MAX_VALUE, max(0, v + (noise[base + x] & 63) - 32)) for x, v in enumerate(row)
        )
    if out.itemsize != 2:  # pragma: no cover - every CPython platform has 2-byte "H"
        raise RuntimeError("array('H') is not 16-bit here")
    if sys.byteorder == "big":  # pragma: no cover
        out.byteswap()
    return out.tobytes()
