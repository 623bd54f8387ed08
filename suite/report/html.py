"""The procedure report as one self-contained HTML page (inline CSS and SVG, nothing fetched).

`render` is pure: report data and plots in, HTML text out. Sections in the order a
radiologist reads and signs them: patient and order, care team, checklist and time-out,
sedation, levels, images per step, dose, alarms, vitals and dose plots, the timeline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from html import escape

from suite.app.timeline import describe
from suite.domain import events as e
from suite.domain.dose import DoseThresholds
from suite.domain.names import person_name
from suite.report.data import ReportData

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; margin: 1.5em; color: #111; }
h1 { font-size: 16pt; margin-bottom: 0.2em; }
h2 { font-size: 12.5pt; border-bottom: 1px solid #888; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
.muted { color: #555; }
.high { font-weight: bold; color: #a00; }
figure { margin: 0.6em 0; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
@media print { h2 { page-break-after: avoid; } }
"""


def _t(at: datetime | None, tz: tzinfo | None, *, date: bool = False) -> str:
    if at is None:
        return "-"
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def _table(head: Sequence[str], rows: Iterable[Sequence[object]], *, cls: str = "") -> str:
    out = [f'<table class="{cls}"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    n = 0
    for row in rows:
        n += 1
        out.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>")
    if n == 0:
        return '<p class="muted">none recorded</p>'
    return "".join(out) + "</table>"


def _pairs(rows: Iterable[tuple[str, object]]) -> str:
    return (
        "<table>"
        + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
        + "</table>"
    )


def _actor(data: ReportData, event_type: type[e.Event]) -> str:
    for r in data.records:
        if isinstance(r.event, event_type):
            return r.actor
    return "-"


def render(
    data: ReportData,
    *,
    vitals_svg: str,
    kerma_svg: str,
    tz: tzinfo | None,
    thresholds: DoseThresholds,
    site: str = "",
) -> str:
    """The whole report page."""
    case, p, o = data.case, data.case.patient, data.case.order
    levels = ", ".join(map(str, o.levels))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Procedure report {escape(o.accession)}</title><style>{CSS}</style></head><body>",
        f"<h1>Procedure report: {escape(o.procedure.value)} {escape(levels)}</h1>",
        f"<p class='muted'>{escape(site)} room {escape(case.room)} · case {escape(case.case_id)}"
        f" · accession {escape(o.accession)} · phase {escape(case.phase.value)}"
        f" · made {_t(data.made_at, tz, date=True)} by procsuite</p>",
        "<h2>Patient</h2>",
        _pairs(
            [
                ("Name", person_name(p.name) or "-"),
                ("MRN", p.mrn),
                ("Birth date", p.birth_date or "-"),
                ("Sex", p.sex.value),
                ("Allergies", ", ".join(p.allergies) or "none recorded"),
            ]
        ),  # fmt: skip
        "<h2>Order</h2>",
        _pairs(
            [
                ("Procedure", o.procedure.value),
                ("Levels", levels),
                ("Indication", o.indication.value),
                ("Fracture date", o.fracture_date or "-"),
                ("Ordering physician", o.ordering_physician or "-"),
                ("Scheduled", _t(case.scheduled_at, tz, date=True)),
            ]
        ),  # fmt: skip
        "<h2>Care team</h2>",
        _pairs(
            [
                ("Radiologist", case.care_team.radiologist or "-"),
                ("Technologist", case.care_team.technologist or "-"),
                ("Nurse", case.care_team.nurse or "-"),
            ]
        ),  # fmt: skip
        "<h2>Checklist and time-out</h2>",
        _table(
            ["Item", "Status", "Detail"], [(i.value, s.value, d) for i, s, d in case.checklist]
        ),  # fmt: skip
    ]
    if case.labs is not None:
        parts.append(
            f"<p>Labs at {_t(case.labs.at, tz)}: INR {case.labs.inr:g}, platelets"
            f" {case.labs.platelets_10e9_per_l:g} ×10⁹/L</p>"
        )
    t = case.time_out
    parts.append(
        _pairs([
            ("Time-out signed by", t.signed_by), ("At", _t(t.at, tz)),
            ("Levels", ", ".join(map(str, t.levels))), ("Side", t.side.value),
        ]) if t is not None else "<p class='high'>No time-out signed.</p>"
    )  # fmt: skip
    parts.append("<h2>Sedation and local anaesthesia</h2>")
    sedation = [r.event for r in data.records if isinstance(r.event, e.SedationGiven)]
    parts.append(
        _table(
            ["At", "Drug", "Dose", "Given by"],
            [
                (_t(s.at, tz), d.drug, f"{d.dose:g} {d.unit}", _actor(data, e.SedationGiven))
                for s in sedation
                for d in s.drugs
            ],
        )  # fmt: skip
    )
    parts.append(
        _table(
            ["At", "Local anaesthetic", "Volume"],
            [(_t(a.at, tz), a.drug, f"{a.volume_ml:g} mL") for a in case.local_anesthetics],
        )
    )
    parts.append("<h2>Levels: trocar, balloon, cement</h2>")
    rows = []
    for level in o.levels:
        s = case.level(level)
        tro = s.trocar
        bal = s.balloon
        leaks = ", ".join(sorted({i.leakage.value for i in s.injections})) or "-"
        rows.append((
            str(level),
            f"{tro.approach.value}, {tro.pedicles.value} at {_t(tro.at, tz)}" if tro else "-",
            _t(s.trocar_confirmed_at, tz),
            f"{bal.pressure_psi:g} psi, {bal.volume_ml:g} mL at {_t(bal.at, tz)}" if bal else "-",
            f"{s.cement_volume_ml:g} mL" if s.injections else "-",
            leaks,
            ", ".join(_t(i.at, tz) for i in s.injections) or "-",
        ))  # fmt: skip
    parts.append(_table(["Level", "Trocar", "Confirmed", "Balloon", "Cement volume", "Leakage",
                         "Injected at"], rows))  # fmt: skip
    if case.cement_mixed is not None:
        parts.append(
            f"<p>Cement {escape(case.cement_mixed.product)} mixed at"
            f" {_t(case.cement_mixed.at, tz)}.</p>"
        )
    parts.append("<h2>Images per step</h2>")
    counts = Counter((i.step, str(i.level or "-"), i.modality) for i in case.images)
    firsts: dict[tuple[str, str, str], datetime] = {}
    for i in case.images:
        firsts.setdefault((i.step, str(i.level or "-"), i.modality), i.at)
    parts.append(
        _table(["Step", "Level", "Modality", "Images", "First at"],
               [(s, lv, m, n, _t(firsts[(s, lv, m)], tz)) for (s, lv, m), n in counts.items()])
    )  # fmt: skip
    parts.append("<h2>Radiation dose</h2>")
    d = case.dose
    if d is not None:
        parts.append(
            _pairs(
                [
                    ("Reference air kerma", f"{d.air_kerma_mgy:.1f} mGy"),
                    ("Dose-area product", f"{d.dap_gy_cm2:.2f} Gy·cm²"),
                    ("Fluoroscopy time", f"{d.fluoro_time_s:.0f} s"),
                    ("Source", d.source),
                    (
                        "Notification levels",
                        f"{thresholds.first_notification_mgy / 1000:g} Gy, then"
                        f" every {thresholds.notification_step_mgy / 1000:g} Gy; SRDL"
                        f" {thresholds.substantial_mgy / 1000:g} Gy",
                    ),
                ]
            )  # fmt: skip
        )
    else:
        parts.append("<p class='muted'>No dose reported for this case.</p>")
    crossed = [
        (f"{lv.threshold_mgy / 1000:g} Gy", f"{lv.air_kerma_mgy:.0f} mGy", _t(lv.announced_at, tz))
        for lv in data.dose_levels
    ]
    parts.append("<p><b>Levels crossed</b></p>")
    parts.append(_table(["Level", "Air kerma then", "At"], crossed))
    parts.append("<h2>Alarms</h2>")
    parts.append(
        _table(
            ["Raised", "Priority", "Alarm", "Message", "Acknowledged", "Cleared"],
            [
                (
                    _t(a.raised_at, tz),
                    a.priority.value,
                    a.kind,
                    a.message,
                    f"{a.acknowledged_by} at {_t(a.acknowledged_at, tz)}"
                    if a.acknowledged_by
                    else "not acknowledged",
                    _t(a.cleared_at, tz),
                )
                for a in data.alarms
            ],
        )  # fmt: skip
    )
    parts.append("<h2>Imaging check, recovery, discharge</h2>")
    chk = case.imaging_check
    parts.append(
        _pairs(
            [
                (
                    "Imaging check",
                    f"{chk.result.value} ({chk.modality.value}) signed by"
                    f" {chk.signed_by} at {_t(chk.at, tz)}"
                    if chk
                    else "-",
                ),
                *(
                    (ph.value.replace("_", " ").capitalize(), _t(at, tz, date=True))
                    for ph, at in case.phase_history
                    if ph.value in ("closure", "recovery", "discharged", "cancelled", "aborted")
                ),
                ("End reason", case.end_reason or "-"),
            ]
        )  # fmt: skip
    )
    parts.append("<h2>Vital signs</h2>")
    parts.append(f"<figure class='vitals'>{vitals_svg}</figure>")
    parts.append("<h2>Cumulative air kerma</h2>")
    parts.append(f"<figure class='kerma'>{kerma_svg}</figure>")
    parts.append("<h2>Timeline</h2>")
    parts.append(
        _table(
            ["At", "What", "Who", "From"],
            [
                (_t(r.event.at, tz), describe(r.event), r.actor, r.source.value)
                for r in data.records
            ],
        )  # fmt: skip
    )
    parts.append("<p class='muted'>Signature: ______________________ (radiologist)</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
