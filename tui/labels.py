"""Short texts for people: times, durations, values with units, alarm priorities.

Priority is always shown as text AND colour (IEC 60601-1-8 markers "!!!", "!!", "!"), so a
monochrome terminal loses nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo

from rich.text import Text

from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import PARAMETERS, param_of
from tui.views import AlarmView

PRIORITY_TEXT = {Priority.HIGH: "!!! HIGH", Priority.MEDIUM: "!! MED", Priority.LOW: "! LOW"}
PRIORITY_STYLE = {
    Priority.HIGH: "bold white on red",
    Priority.MEDIUM: "bold black on yellow",
    Priority.LOW: "bold cyan",
}
REFUSED_STYLE = "bold white on red"
STALE_STYLE = "bold black on yellow"


def priority(p: Priority) -> Text:
    return Text(PRIORITY_TEXT[p], style=PRIORITY_STYLE[p])


def clock_time(at: datetime | None, tz: tzinfo | None, *, seconds: bool = True) -> str:
    """HH:MM:SS in the terminal's zone (`tz`), or "--" when unknown."""
    if at is None:
        return "--"
    return at.astimezone(tz).strftime("%H:%M:%S" if seconds else "%H:%M")


def duration(seconds: float | None) -> str:
    """42:10 (minutes:seconds) or 1:02:03; "--" when unknown. Negative: a leading minus."""
    if seconds is None:
        return "--"
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h}:{m:02d}:{s:02d}" if h else f"{sign}{m}:{s:02d}"


def since(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else (now - at).total_seconds()


def value(param: str, number: float | None, *, unit: bool = False) -> str:
    """A vital value as a display shows it ("97", "36.4"); "--" for no reading."""
    if number is None:
        return "--"
    p = param_of(param)
    if p is None:
        return f"{number:g}"
    info = PARAMETERS[p]
    text = f"{number:.{info.decimals}f}"
    return f"{text} {info.unit}" if unit else text


def label(param: str) -> str:
    p = param_of(param)
    return PARAMETERS[p].label if p is not None else param


def unit(param: str) -> str:
    p = param_of(param)
    return PARAMETERS[p].unit if p is not None else ""


def limits(param: str, low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return "no limits"
    lo = value(param, low) if low is not None else ""
    hi = value(param, high) if high is not None else ""
    return f"{lo or '  '}-{hi or '  '}"


def alarm_state(alarm: AlarmView, tz: tzinfo | None) -> str:
    """ACTIVE / ACK by nurse1 10:03:05 / ENDED, ACK NEEDED (a latched alarm)."""
    if alarm.state == "acknowledged":
        who = alarm.acknowledged_by or "?"
        return f"ACK by {who} {clock_time(alarm.acknowledged_at, tz, seconds=False)}"
    if not alarm.condition_active:
        return "ENDED, ACK NEEDED"
    return "ACTIVE"


def audio_paused(alarm: AlarmView, now: datetime) -> str:
    """ "audio paused 1:59" (the time left, by the service's clock `now`); "" when not."""
    until = alarm.audio_paused_until
    if until is None or now >= until:
        return ""
    left = math.ceil((until - now).total_seconds())
    return f"audio paused {left // 60}:{left % 60:02d}"


def alarm_line(
    alarm: AlarmView, tz: tzinfo | None, *, room: bool = True, now: datetime | None = None
) -> Text:
    """ "!!! HIGH IR1 SpO2 low 86 % since 10:01:55 ACTIVE" with the priority coloured; with
    the service's time `now`, "2:31 since onset" in place of the clock time, and "audio
    paused 1:59" while its audio is paused (the banner's line, 80 columns wide)."""
    text = priority(alarm.priority)
    where = f" {alarm.room}" if room else ""
    if now is not None and alarm.raised_at is not None:
        onset = f"{duration(max(0.0, (now - alarm.raised_at).total_seconds()))} since onset"
    else:
        onset = f"since {clock_time(alarm.raised_at, tz)}"
    text.append(f"{where} {alarm.message}  {onset}  ")
    text.append(alarm_state(alarm, tz), style="bold" if alarm.needs_ack else "")
    paused = audio_paused(alarm, now) if now is not None else ""
    if paused:
        text.append(f", {paused}", style="bold")
    return text


OUT_OF_LIMIT_STYLE = "bold reverse"


def outside(number: float | None, low: float | None, high: float | None) -> str:
    """ "LOW" / "HIGH" when `number` is outside the limits in force, else "" (the word marks
    it, the colour only doubles it: monochrome terminals and colour-blind readers)."""
    if number is None:
        return ""
    if low is not None and number < low:
        return "LOW"
    if high is not None and number > high:
        return "HIGH"
    return ""
