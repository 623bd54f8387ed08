"""The wall display's page and its live fragment, from the dashboard's model. Pure.

The fragment holds the same blocks as the terminal board (tui/room_summary.py), every line
of them, then each room's vitals with their limits and a trend line, then the open alarms.
Colours double text markers as on the terminal ("▲", "!!! HIGH").
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from html import escape

from rich.text import Text

from tui import labels
from tui.model import SuiteModel
from tui.room_summary import Reading, room_blocks, value_text
from tui.sparkline import MIN_SPAN, scale

VITALS = ("hr", "spo2", "nibp_sys", "nibp_dia", "rr", "etco2")
WIDE = {"who": 40, "phase": 40, "vitals": 80, "alarm": 60}

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>procsuite wall display</title>
<style>
body { background: #101418; color: #e8e8e8; font-family: "DejaVu Sans Mono", monospace;
       margin: 0.6em; font-size: 15px; }
h1 { font-size: 1.2em; margin: 0.2em 0; }
table { border-collapse: collapse; width: 100%; margin-bottom: 0.8em; }
th, td { border-bottom: 1px solid #333; padding: 4px 8px; text-align: left; vertical-align: top; }
th { color: #9ab; font-weight: normal; }
.b { font-weight: bold; }
.dim { color: #889; }
.high { background: #b00020; color: #fff; font-weight: bold; }
.warn { background: #e0b000; color: #000; font-weight: bold; }
.low { color: #4dd0e1; font-weight: bold; }
.stale { background: #e0b000; color: #000; }
.rooms td:first-child { font-weight: bold; font-size: 1.3em; }
.vitals { display: flex; flex-wrap: wrap; gap: 0.8em; }
.vitals section { border: 1px solid #333; padding: 0.4em; min-width: 22em; }
svg.trend { width: 9em; height: 1.4em; vertical-align: middle; }
#status { color: #9ab; }
</style></head>
<body>
<h1>procsuite — suite board <span id="status">connecting…</span></h1>
<p class="dim">Read-only wall display: it shows the suite and cannot change anything.</p>
<div id="board"></div>
<script>
(function () {
  var status = document.getElementById("status");
  var board = document.getElementById("board");
  function connect() {
    var url = new URL("ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(url.toString());
    ws.onopen = function () { status.textContent = "live"; };
    ws.onmessage = function (event) { board.innerHTML = event.data; };
    ws.onclose = function () { status.textContent = "connection lost, retrying"; setTimeout(connect, 2000); };
  }
  connect();
})();
</script>
</body></html>
"""


def _class(style: str) -> str:
    if "red" in style:
        return "high"
    if "yellow" in style:
        return "warn"
    if "cyan" in style:
        return "low"
    if "dim" in style:
        return "dim"
    if "bold" in style:
        return "b"
    return ""


def html_of(text: Text) -> str:
    """Rich `text` as HTML: each styled stretch a <span> with a class for its colour."""
    plain = text.plain
    cuts = sorted({0, len(plain), *(s.start for s in text.spans), *(s.end for s in text.spans)})
    base = _class(str(text.style)) if text.style else ""
    out = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        if start >= end:
            continue
        styles = [str(s.style) for s in text.spans if s.start <= start and s.end >= end]
        cls = next((c for c in map(_class, reversed(styles)) if c), base)
        chunk = escape(plain[start:end])
        out.append(f'<span class="{cls}">{chunk}</span>' if cls else chunk)
    return "".join(out)


def _lines(lines: list[Text]) -> str:
    return "<br>".join(html_of(line) for line in lines)


def _trend(param: str, values: list[float | None]) -> str:
    """An SVG trend over at least the parameter's minimum span, broken at missing values."""
    numbers = [v for v in values if v is not None]
    if len(values) < 2 or not numbers:
        return ""
    lo, hi = scale(numbers, MIN_SPAN.get(param, 0.0))
    span = (hi - lo) or 1.0
    step = 100 / (len(values) - 1)
    runs: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
        else:
            runs[-1].append(f"{i * step:.1f},{18 - (v - lo) / span * 16:.1f}")
    lines = "".join(
        f'<polyline fill="none" stroke="#7fb3ff" stroke-width="1.5" points="{" ".join(run)}"/>'
        for run in runs
        if run
    )
    return f'<svg class="trend" viewBox="0 0 100 20" preserveAspectRatio="none">{lines}</svg>'


def fragment(model: SuiteModel, now: datetime, tz: tzinfo | None) -> str:
    """The live part of the page: the board, each room's vitals, the open alarms."""
    rows = []
    vitals = []
    for room in model.room_names():
        state = model.rooms[room]
        readings: dict[str, Reading | None] = {}
        for param in VITALS:
            current = model.current(room, param)
            readings[param] = Reading(current.value if current else None, state.limits.get(param))
        has_vitals = any(r and r.value is not None for r in readings.values())
        open_alarms = model.active_alarms(room)
        top = None
        if open_alarms:
            top = labels.priority(open_alarms[0].priority)
            top.append(f" {open_alarms[0].message}")
        blocks = room_blocks(
            state, readings=readings if has_vitals else {}, alarm=top,
            more_alarms=max(0, len(open_alarms) - 1), now=now, tz=tz, widths=WIDE,
        )  # fmt: skip
        stale = '<br><span class="stale">STALE</span>' if model.room_stale(room, now) else ""
        rows.append(
            f"<tr data-room='{escape(room)}'><td>{escape(room)}{stale}</td>"
            f"<td>{_lines(blocks.who)}</td><td>{_lines(blocks.phase)}</td>"
            f"<td>{_lines(blocks.vitals)}</td><td>{_lines(blocks.alarm)}</td></tr>"
        )
        if has_vitals:
            items = []
            for param in VITALS:
                reading = readings[param]
                lim = reading.limits if reading else None
                limits = labels.limits(param, lim.low, lim.high) if lim else "no limits"
                items.append(
                    f"<tr><td>{escape(labels.label(param))}</td>"
                    f"<td>{html_of(value_text(param, reading))}</td>"
                    f"<td class='dim'>{escape(limits)}</td>"
                    f"<td>{_trend(param, model.trend(room, param))}</td></tr>"
                )
            vitals.append(
                f"<section data-room='{escape(room)}'><b>{escape(room)} vitals</b>"
                f"<table>{''.join(items)}</table></section>"
            )
    alarms = [
        f"<li>{html_of(labels.alarm_line(a, tz, now=now))}</li>" for a in model.active_alarms()
    ]
    connected = (
        "connected" if model.connected else "NOT CONNECTED to the service: data may be stale"
    )
    return (
        f"<p class='dim'>{escape(labels.clock_time(now, tz))} · {escape(connected)}</p>"
        "<table class='rooms'><tr><th>Room</th><th>Patient / procedure</th>"
        "<th>Phase / times</th><th>Vitals (▲▼ outside limits)</th><th>Alarm / dose</th></tr>"
        + "".join(rows)
        + "</table><h2>Vitals</h2><div class='vitals'>"
        + "".join(vitals)
        + "</div><h2>Open alarms</h2><ul id='alarms'>"
        + ("".join(alarms) or "<li class='dim'>none</li>")
        + "</ul>"
    )
