"""A case's timeline as text a person reads: one line per event, with who logged it and how."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from suite.domain import events as e
from suite.domain.case import Case
from suite.domain.envelope import Recorded
from suite.domain.timers import warnings


def describe(event: e.Event) -> str:
    """One short phrase for an event."""
    match event:
        case e.CaseScheduled():
            o = event.order
            levels = ", ".join(map(str, o.levels))
            return (
                f"scheduled {o.procedure.value} {levels} in {event.room} (accession {o.accession})"
            )
        case e.PatientUpdated():
            return f"patient details updated (MRN {event.patient.mrn})"
        case e.OrderChanged():
            return f"order changed: {', '.join(map(str, event.order.levels))} in {event.room}"
        case e.CheckedIn():
            return "checked in"
        case e.ChecklistItemRecorded():
            extra = f" ({event.detail})" if event.detail else ""
            return f"checklist: {event.item.value} {event.status.value}{extra}"
        case e.LabsRecorded():
            return f"labs: INR {event.inr:g}, platelets {event.platelets_10e9_per_l:g} x10^9/L"
        case e.TimeOutSigned():
            return f"time-out signed by {event.signed_by}: {', '.join(map(str, event.levels))}, {event.side.value}"
        case e.SedationGiven():
            return "sedation: " + ", ".join(f"{d.drug} {d.dose:g} {d.unit}" for d in event.drugs)
        case e.PatientPositioned():
            return f"positioned {event.position}"
        case e.LocalAnestheticGiven():
            return f"local anaesthetic: {event.drug} {event.volume_ml:g} mL"
        case e.TrocarPlaced():
            return f"trocar on {event.level}: {event.approach.value}, {event.pedicles.value}"
        case e.TrocarConfirmed():
            return f"trocar on {event.level} confirmed"
        case e.BalloonInflated():
            return f"balloon on {event.level}: {event.pressure_psi:g} psi, {event.volume_ml:g} mL"
        case e.BalloonRemoved():
            return f"balloon on {event.level} deflated and removed"
        case e.CementMixed():
            return f"cement mixed ({event.product})"
        case e.CementInjected():
            return f"cement on {event.level}: {event.volume_ml:g} mL, leakage {event.leakage.value}"
        case e.ImageLinked():
            where = f" {event.level}" if event.level else ""
            return f"image {event.modality} linked to {event.step}{where}"
        case e.DoseRecorded():
            return (
                f"dose: {event.air_kerma_mgy:g} mGy air kerma, {event.dap_gy_cm2:g} Gy·cm², "
                f"{event.fluoro_time_s / 60:.1f} min fluoroscopy ({event.source})"
            )
        case e.ImagingCheckRecorded():
            return f"imaging check ({event.modality.value}): {event.result.value}, signed by {event.signed_by}"
        case e.ClosureDone():
            return "closure done"
        case e.RecoveryStarted():
            return "recovery started"
        case e.PatientDischarged():
            return "discharged"
        case e.CaseCancelled():
            return f"cancelled: {event.reason}"
        case e.CaseAborted():
            return f"aborted: {event.reason}"
        case e.NoteAdded():
            return f"{event.kind}: {event.text}"
    return type(event).__name__


def _t(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def render(case: Case, records: Iterable[Recorded], *, now: datetime) -> str:
    """The header of the case and its timeline."""
    p, o = case.patient, case.order
    lines = [
        f"case {case.case_id}  {o.procedure.value}  levels {', '.join(map(str, o.levels))}  room {case.room}",
        f"patient MRN {p.mrn}  {p.name}  accession {o.accession}  indication {o.indication.value}",
        f"phase {case.phase.value}  scheduled {_t(case.scheduled_at)}",
    ]
    if case.dose is not None:
        lines.append(
            f"dose {case.dose.air_kerma_mgy:g} mGy  DAP {case.dose.dap_gy_cm2:g} Gy·cm²  "
            f"fluoro {case.dose.fluoro_time_s / 60:.1f} min"
        )
    for w in warnings(case, now):
        lines.append(f"WARNING {w.message}")
    lines.append("")
    for r in records:
        lines.append(
            f"{r.seq:>4}  {_t(r.event.at)}  {describe(r.event):<60}  {r.actor} ({r.source.value})"
        )
    return "\n".join(lines)
