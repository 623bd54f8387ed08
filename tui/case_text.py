"""The case screen's panels as rich Text, from a `CaseView` and the time now. Pure.

Every state carries a text marker ([x], [>], [ ], DONE, MISSING...) besides its colour.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, tzinfo

from rich.text import Text

from suite.domain.checklist import ChecklistItem
from suite.domain.values import Phase, Procedure, phases_for
from tui import labels
from tui.views import CaseView, ScheduledCase

# Cement working-time display: below this share of the working time left it warns
# (matches suite.domain.timers' 25 % warning).
CEMENT_WARN_SHARE = 0.25


def header(case: CaseView, now: datetime, tz: tzinfo | None) -> Text:
    text = Text()
    text.append(f"{case.room} ", style="bold")
    text.append(f"{case.procedure} {', '.join(case.levels)}  ", style="bold")
    text.append(f"MRN {case.mrn} {case.patient_name}  acc {case.accession}\n")
    text.append("phase ")
    text.append(case.phase.upper().replace("_", " "), style="bold reverse")
    text.append(f" since {labels.clock_time(case.phase_since, tz)}")
    elapsed = procedure_elapsed(case, now)
    if elapsed is not None:
        text.append(f"  procedure {labels.duration(elapsed)}")
    text.append("\n")
    text.append_text(time_out(case, tz))
    if case.phase in ("checked_in", "pre_procedure") and case.checklist_missing:
        text.append("\nChecklist missing: ", style="bold")
        text.append(", ".join(case.checklist_missing))
    for warning in case.warnings:
        text.append("\nWARNING ", style="bold black on yellow")
        text.append(warning)
    return text


_RUNNING = {"time_out", "sedation", "positioning", "local_anesthesia", "trocar_placement",
            "balloon_tamp", "cement_injection", "imaging_check"}  # fmt: skip


def procedure_elapsed(case: CaseView, now: datetime) -> float | None:
    """Procedure time (from the time-out) counted on locally while it runs."""
    if case.time_out_at is not None and case.phase in _RUNNING:
        return (now - case.time_out_at).total_seconds()
    return case.procedure_elapsed_s


def cement_left(case: CaseView, now: datetime) -> float | None:
    """Seconds of cement working time left now (negative once over), None when not running."""
    if case.cement_time_left_s is None:
        return None
    if case.cement_mixed_at is not None and case.cement_working_time_s is not None:
        return case.cement_working_time_s - (now - case.cement_mixed_at).total_seconds()
    return case.cement_time_left_s


def cement(case: CaseView, now: datetime, tz: tzinfo | None) -> Text:
    left = cement_left(case, now)
    if left is None:
        if case.cement_mixed_at is None:
            return Text("CEMENT not mixed")
        return Text(
            f"CEMENT mixed {labels.clock_time(case.cement_mixed_at, tz)} ({case.cement_product}):"
            " every planned level has cement"
        )
    total = case.cement_working_time_s or 0.0
    mixed = f"(mixed {labels.clock_time(case.cement_mixed_at, tz)}, {case.cement_product})"
    if left <= 0:
        return Text(
            f"CEMENT PAST WORKING TIME by {labels.duration(-left)} {mixed}",
            style="bold white on red",
        )
    style = "bold black on yellow" if total and left <= CEMENT_WARN_SHARE * total else "bold"
    word = "CEMENT LOW: " if style.endswith("yellow") else "CEMENT "
    return Text(f"{word}{labels.duration(left)} working time left {mixed}", style=style)


def phases(case: CaseView, tz: tzinfo | None) -> Text:
    try:
        order = phases_for(Procedure(case.procedure))
    except ValueError:
        order = ()
    reached = dict(case.phase_history)
    text = Text("Phases\n", style="bold underline")
    current_seen = False
    for phase in order:
        name = phase.value
        if name == case.phase:
            current_seen = True
            text.append(f"[>] {labels.clock_time(reached.get(name), tz)} {name}\n", style="bold")
        elif name in reached and not current_seen:
            text.append(f"[x] {labels.clock_time(reached.get(name), tz)} {name}\n")
        else:
            text.append(f"[ ]          {name}\n", style="dim")
    if case.phase in (Phase.CANCELLED.value, Phase.ABORTED.value):
        text.append(f"[!] {case.phase.upper()}: {case.end_reason}\n", style="bold reverse")
    return text


def checklist(case: CaseView, tz: tzinfo | None) -> Text:
    text = Text("Checklist\n", style="bold underline")
    for item in ChecklistItem:
        status, detail = case.checklist.get(item.value, ("", ""))
        if status == "done":
            mark, style = "[x]", ""
        elif status == "not_applicable":
            mark, style = "[-]", ""
        elif status == "not_done":
            mark, style = "[!]", "bold"
        else:
            mark, style = "[ ]", "bold" if item.value in case.checklist_missing else "dim"
        extra = f" ({detail})" if detail else ""
        if item is ChecklistItem.LABS and case.labs:
            extra = f" {case.labs}"
        shown = status.replace("_", " ") or "MISSING"
        text.append(f"{mark} {item.value} {shown}{extra}\n", style=style)
    if case.sedation:
        text.append(f"Sedation: {', '.join(case.sedation)}\n")
    if case.local_anesthetics:
        text.append(f"Local: {', '.join(case.local_anesthetics)}\n")
    return text


def time_out(case: CaseView, tz: tzinfo | None) -> Text:
    """One line, always in the case header: signed (by whom, when) or not."""
    text = Text("Time-out: ", style="bold")
    if case.time_out:
        text.append(f"{case.time_out} at {labels.clock_time(case.time_out_at, tz)}")
    else:
        text.append("NOT SIGNED - needle steps locked", style="bold reverse")
    return text


def levels(case: CaseView, tz: tzinfo | None) -> Text:
    def t(at: datetime | None) -> str:
        return labels.clock_time(at, tz, seconds=False)

    text = Text("Levels\n", style="bold underline")
    kypho = case.procedure == "kyphoplasty"
    for lv in case.level_views:
        text.append(f"{lv.level:<4}", style="bold reverse")
        if lv.trocar is None:
            text.append(" trocar -")
        else:
            ok = (
                f"confirmed {t(lv.trocar_confirmed_at)}"
                if lv.trocar_confirmed_at
                else "NOT CONFIRMED"
            )
            text.append(f" trocar {t(lv.trocar_at)} {lv.trocar}, {ok}")
        if kypho:
            text.append("\n     balloon ")
            if lv.balloon_pressure_psi is None:
                text.append("-")
            else:
                out = f"removed {t(lv.balloon_removed_at)}" if lv.balloon_removed_at else "IN"
                text.append(
                    f"{t(lv.balloon_at)} {lv.balloon_pressure_psi:g} psi {lv.balloon_volume_ml:g} mL,"
                    f" {out}"
                )
        text.append("\n     cement  ")
        if lv.injections:
            leaks = {i.leakage for i in lv.injections} - {"none"}
            leak = ", ".join(sorted(leaks)).upper() if leaks else "none"
            mixes = len(lv.injections)
            text.append(
                f"{t(lv.injections[-1].at)} {lv.cement_volume_ml:g} mL"
                + (f" ({mixes} injections)" if mixes > 1 else "")
                + f", leakage {leak}",
                style="bold" if leaks else "",
            )
        else:
            text.append("-")
        text.append("\n")
    return text


def images_and_dose(case: CaseView, tz: tzinfo | None) -> Text:
    text = Text("Images and dose\n", style="bold underline")
    by_step: defaultdict[str, list[str]] = defaultdict(list)
    for image in case.images:
        where = f"{image.step} {image.level}" if image.level else image.step
        by_step[where].append(image.modality)
    if not by_step:
        text.append("no images linked yet\n", style="dim")
    for where, modalities in by_step.items():
        kinds = ", ".join(sorted(set(modalities)))
        text.append(f"{where}: {len(modalities)} image(s) ({kinds})\n")
    if case.dose is None:
        text.append("dose: none reported yet\n", style="dim")
    else:
        d = case.dose
        text.append(
            f"dose {d.air_kerma_mgy:g} mGy air kerma, {d.dap_gy_cm2:g} Gy*cm2,"
            f" fluoro {labels.duration(d.fluoro_time_s)} ({d.source})\n"
        )
    if case.imaging_check:
        text.append(f"imaging check: {case.imaging_check}\n")
    return text


def timeline(case: CaseView, tz: tzinfo | None, *, last: int = 6) -> Text:
    """The newest `last` entries, newest first (so a short screen shows the latest)."""
    text = Text("Timeline, newest first (who logged what)\n", style="bold underline")
    entries = case.timeline[-last:]
    if not entries:
        text.append("no timeline published\n", style="dim")
    for entry in reversed(entries):
        text.append(f"{labels.clock_time(entry.at, tz)} {entry.what}")
        text.append(f"  {entry.actor} ({entry.source})\n", style="italic")
    return text


def scheduled(room: str, cases: tuple[ScheduledCase, ...], tz: tzinfo | None) -> Text:
    """The room's booked cases, numbered, earliest first (to check the next one in)."""
    text = Text(f"Scheduled in {room}\n", style="bold underline")
    if not cases:
        text.append("no case scheduled\n", style="dim")
    for n, case in enumerate(cases, start=1):
        text.append(f"{n}. {labels.clock_time(case.scheduled_at, tz, seconds=False)}  ")
        text.append(case.accession, style="bold")
        levels = ", ".join(case.levels)
        text.append(f"  {case.mrn} {case.patient_name}  {case.procedure} {levels}\n")
    return text
