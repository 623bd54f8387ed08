"""One room of the board as blocks of text lines, from the room snapshot and the time now. Pure.

Every block is a list of lines, most important first, so the board can show as many as its
rows have room for. Every coloured state also has a text marker: a value outside its limits
ends in "▲" (above) or "▼" (below), the cement countdown says "LOW" or "PAST", an overrun says
"OVER", an alarm its priority ("!!! HIGH").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.text import Text

from tui import case_text, labels
from tui.names import person_name
from tui.views import CaseView, Limits, RoomState, ScheduledCase

PROCEDURE_ABBREVIATION = {"kyphoplasty": "KP", "vertebroplasty": "VP"}
HIGH_STYLE = "bold white on red"
WARN_STYLE = "bold black on yellow"


@dataclass(frozen=True, slots=True)
class Reading:
    """A current value with the limits in force (from the model and the snapshot)."""

    value: float | None
    limits: Limits | None = None


@dataclass(frozen=True, slots=True)
class RoomBlocks:
    who: list[Text]
    phase: list[Text]
    vitals: list[Text]
    alarm: list[Text]


def procedure_text(procedure: str, levels: tuple[str, ...], *, width: int) -> str:
    """ "kyphoplasty T12, L1" or, when that does not fit `width`, "KP T12,L1"."""
    full = f"{procedure} {', '.join(levels)}"
    if len(full) <= width:
        return full
    return f"{PROCEDURE_ABBREVIATION.get(procedure, procedure[:2].upper())} {','.join(levels)}"


def phase_words(phase: str) -> str:
    return phase.replace("_", " ")


def value_text(param: str, reading: Reading | None) -> Text:
    """The value alone, "▲"/"▼" and red when outside its limits; "--" without a reading."""
    value = reading.value if reading else None
    text = labels.value(param, value)
    lim = reading.limits if reading else None
    if value is not None and lim is not None:
        if lim.high is not None and value > lim.high:
            return Text(f"{text}▲", style=HIGH_STYLE)
        if lim.low is not None and value < lim.low:
            return Text(f"{text}▼", style=HIGH_STYLE)
    return Text(text)


def marked(param: str, reading: Reading | None) -> Text:
    """ "SpO2 86▼" with the value red when outside its limits; "SpO2 --" without a reading."""
    shown = Text(f"{labels.label(param)} ")
    shown.append_text(value_text(param, reading))
    return shown


def _bp(sys_: Reading | None, dia: Reading | None) -> Text:
    shown = Text("BP ")
    shown.append_text(value_text("nibp_sys", sys_))
    shown.append("/")
    shown.append_text(value_text("nibp_dia", dia))
    return shown


def vitals_block(readings: dict[str, Reading | None], *, width: int) -> list[Text]:
    """HR / SpO2 / BP / RR / EtCO2, each marked against its limits; one line when wide."""
    hr, spo2 = marked("hr", readings.get("hr")), marked("spo2", readings.get("spo2"))
    bp = _bp(readings.get("nibp_sys"), readings.get("nibp_dia"))
    rr, etco2 = marked("rr", readings.get("rr")), marked("etco2", readings.get("etco2"))
    parts = [hr, spo2, bp, rr, etco2]
    one = Text("  ").join(parts)
    if len(one.plain) <= width:
        return [one, limits_line(readings)]
    return [Text("  ").join([hr, spo2]), bp, Text("  ").join([rr, etco2])]


def limits_line(readings: dict[str, Reading | None]) -> Text:
    """ "limits HR 50-120  SpO2 90-  ..." (the limits in force, for a wide board)."""
    shown = []
    for param in ("hr", "spo2", "nibp_sys", "rr", "etco2"):
        reading = readings.get(param)
        lim = reading.limits if reading else None
        if lim is not None and (lim.low is not None or lim.high is not None):
            name = "BP" if param == "nibp_sys" else labels.label(param)
            lo = labels.value(param, lim.low) if lim.low is not None else None
            hi = labels.value(param, lim.high) if lim.high is not None else None
            bounds = f"{lo}-{hi}" if lo and hi else f">={lo}" if lo else f"<={hi}"
            shown.append(f"{name} {bounds}")
    return Text("limits " + " ".join(shown), style="dim") if shown else Text("")


def _elapsed(at: datetime | None, now: datetime) -> str:
    return labels.duration(labels.since(at, now)) if at is not None else "--"


def case_blocks(
    case: CaseView, now: datetime, tz: tzinfo | None, *, widths: dict[str, int]
) -> tuple[list[Text], list[Text]]:
    """The who and phase blocks of a room with a case."""
    who = [
        Text(person_name(case.patient_name) or "(no name)", style="bold"),
        Text(f"MRN {case.mrn}"),
        Text(procedure_text(case.procedure, case.levels, width=widths["who"])),
    ]
    if case.accession:
        who.append(Text(f"acc {case.accession}", style="dim"))
    head = Text(phase_words(case.phase).upper(), style="bold")
    phase = [head]
    where = ""
    if case.phase in case.phases:
        where = f"{case.phases.index(case.phase) + 1}/{len(case.phases)} "
    in_phase = f"{where}· {_elapsed(case.phase_since, now)} in phase"
    if len(in_phase) > widths["phase"]:
        in_phase = f"{where}· {_elapsed(case.phase_since, now)}"
    phase.append(Text(in_phase))
    left = case_text.cement_left(case, now)
    if left is not None:
        total = case.cement_working_time_s or 0.0
        if left <= 0:
            phase.append(Text(f"CEMENT PAST {labels.duration(-left)}", style=HIGH_STYLE))
        elif total and left <= case_text.CEMENT_WARN_SHARE * total:
            phase.append(Text(f"CEMENT LOW {labels.duration(left)} left", style=WARN_STYLE))
        else:
            phase.append(Text(f"CEMENT {labels.duration(left)} left", style="bold"))
    elapsed = case_text.procedure_elapsed(case, now)
    if elapsed is not None:
        limit = case.procedure_overrun_s
        if limit is not None and elapsed > limit:
            phase.append(
                Text(
                    f"case {labels.duration(elapsed)} OVER +{labels.duration(elapsed - limit)}",
                    style=WARN_STYLE,
                )  # fmt: skip
            )
        else:
            of = f" of {limit / 60:.0f} min" if limit else ""
            line = f"case {labels.duration(elapsed)}{of}"
            phase.append(Text(line if len(line) <= widths["phase"] else line[: -len(of)]))
    return who, phase


def booked_blocks(
    booked: tuple[ScheduledCase, ...], now: datetime, tz: tzinfo | None, *, widths: dict[str, int]
) -> tuple[list[Text], list[Text]]:
    """The who and phase blocks of a room whose next case is booked, not checked in."""
    first = booked[0]
    who = [
        Text(person_name(first.patient_name) or "(no name)", style="bold"),
        Text(f"MRN {first.mrn}"),
        Text(procedure_text(first.procedure, first.levels, width=widths["who"])),
    ]
    at = labels.clock_time(first.scheduled_at, tz, seconds=False)
    phase = [Text(f"BOOKED {at}", style="bold")]
    if first.scheduled_at is not None:
        wait = (first.scheduled_at - now).total_seconds()
        phase.append(Text(f"starts in {labels.duration(wait)}" if wait >= 0 else
                          f"due {labels.duration(-wait)} ago"))  # fmt: skip
    if len(booked) > 1:
        phase.append(Text(f"+{len(booked) - 1} more booked"))
    return who, phase


def dose_line(case: CaseView | None, *, width: int = 80) -> Text | None:
    """ "dose 52 mGy / next 3 Gy" (reference air kerma against the next level), or
    "Ka 52 mGy/3 Gy" when narrow."""
    if case is None or case.dose is None:
        return None
    kerma = case.dose.air_kerma_mgy
    if kerma <= 0 and case.dose.dap_gy_cm2 > 0:
        # Images carry the dose-area product; the air kerma comes with the dose report.
        shown = f"DAP {case.dose.dap_gy_cm2:.1f} Gy·cm²"
        nxt = case.dose_next_level_mgy
        full = f"dose {shown}, Ka,r at the report" + (f" / next {nxt / 1000:g} Gy" if nxt else "")
        return Text(full if len(full) <= width else shown)
    shown = f"{kerma:.0f} mGy" if kerma < 1000 else f"{kerma / 1000:.2f} Gy"
    nxt = case.dose_next_level_mgy
    if nxt is None:
        return Text(f"dose {shown}")
    full = f"dose {shown} / next {nxt / 1000:g} Gy"
    return Text(full if len(full) <= width else f"Ka {shown}/{nxt / 1000:g} Gy")


def room_blocks(
    state: RoomState,
    *,
    readings: dict[str, Reading | None],
    alarm: Text | None,
    more_alarms: int | list[Text],
    now: datetime,
    tz: tzinfo | None,
    widths: dict[str, int],
) -> RoomBlocks:
    """Everything the board shows of one room, block by block."""
    case = state.case
    if case is not None:
        who, phase = case_blocks(case, now, tz, widths=widths)
    elif state.scheduled:
        who, phase = booked_blocks(state.scheduled, now, tz, widths=widths)
    else:
        who, phase = [Text("no patient", style="dim")], [Text("NO CASE", style="dim")]
    vitals = vitals_block(readings, width=widths["vitals"]) if readings else []
    alarms = [alarm if alarm is not None else Text("no alarm", style="dim")]
    dose = dose_line(case, width=widths["alarm"])
    if dose is not None:
        alarms.append(dose)
    if isinstance(more_alarms, list):
        alarms += more_alarms  # the other open alarms, one a line, as far as there is room
    elif more_alarms:
        alarms.append(Text(f"+{more_alarms} more open"))
    return RoomBlocks(who=who, phase=phase, vitals=vitals, alarm=alarms)
