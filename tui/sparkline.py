"""The vitals screen's one-line trends: the last samples of a parameter as block characters,
scaled over at least a minimum span per parameter, with a gap for each missing value. Pure:
the vitals screen's `tui.widgets.Trend` and the wall display draw with it.

A terminal sparkline scaled from its own minimum to its own maximum draws noise as a wave:
36.3-36.4 °C would fill the line's height. Here the scale is never narrower than the
parameter's `MIN_SPAN` (centred on the values shown), so a steady temperature stays a flat
line and a real change still shows. A sample without a value (a missed NIBP cycle, a probe
off) is drawn as a gap, never as the lowest block.

`MIN_SPAN` is the one table of these spans (display only: they decide nothing; see
docs/clinical-defaults.md "Dashboard trends").
"""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"
GAP = " "

# The narrowest value range a trend line spans, per parameter, in the parameter's unit.
MIN_SPAN: dict[str, float] = {
    "hr": 20.0,  # /min
    "spo2": 10.0,  # %
    "nibp_sys": 20.0,  # mmHg
    "nibp_dia": 20.0,  # mmHg
    "nibp_map": 20.0,  # mmHg
    "rr": 10.0,  # /min
    "etco2": 10.0,  # mmHg
    "temp": 1.0,  # °C
}


def scale(values: Sequence[float], min_span: float) -> tuple[float, float]:
    """The low and high ends of the line: the values' range, widened about its middle to
    `min_span` when narrower."""
    low, high = min(values), max(values)
    if high - low < min_span:
        middle = (low + high) / 2
        low, high = middle - min_span / 2, middle + min_span / 2
    return low, high


def render(values: Sequence[float | None], width: int, min_span: float) -> str:
    """The last `width` samples as one block character each, a gap for a missing value."""
    shown = list(values)[-width:] if width > 0 else []
    numbers = [v for v in shown if v is not None]
    if not numbers:
        return GAP * len(shown)
    low, high = scale(numbers, min_span)
    top = len(BLOCKS) - 1
    line = []
    for v in shown:
        if v is None:
            line.append(GAP)
        else:
            line.append(BLOCKS[round((v - low) / (high - low) * top)])
    return "".join(line)
