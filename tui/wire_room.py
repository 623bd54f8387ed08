"""The retained room snapshot (`rooms/<room>/state`, docs/mqtt.md "Room state") as a
`RoomState`. The case part is suite.domain's Case in its JSON form plus the service's extras
(levels with their steps, checklist, countdowns, warnings, timeline with who logged what)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tui import json_reader as jr
from tui.views import (
    CaseView,
    DeviceView,
    DoseView,
    ImageView,
    Injection,
    LevelView,
    Limits,
    ReceivedImage,
    RoomState,
    ScheduledCase,
    TimelineEntry,
    VitalView,
)
from tui.wire_alarms import alarm_view, limit_change


def _level_view(data: Mapping[str, Any], where: str) -> LevelView:
    trocar = data.get("trocar")
    balloon = data.get("balloon")
    trocar_text = None
    trocar_at = None
    if trocar is not None:
        t = jr.obj(trocar, f"{where}.trocar")
        trocar_text = ", ".join(
            x for x in (jr.text(t.get("approach"), "approach"), jr.text(t.get("pedicles"), "")) if x
        )
        trocar_at = jr.time(t.get("at"), f"{where}.trocar.at")
    pressure = volume = None
    balloon_at = None
    if balloon is not None:
        b = jr.obj(balloon, f"{where}.balloon")
        pressure = jr.number(b.get("pressure_psi"), f"{where}.balloon.pressure_psi")
        volume = jr.number(b.get("volume_ml"), f"{where}.balloon.volume_ml")
        balloon_at = jr.time(b.get("at"), f"{where}.balloon.at")
    injections = tuple(
        Injection(
            at=jr.time(i.get("at"), f"{w}.at"),
            volume_ml=jr.number(i.get("volume_ml"), f"{w}.volume_ml") or 0.0,
            leakage=jr.text(i.get("leakage"), f"{w}.leakage", "none"),
        )
        for i, w in jr.objects(data.get("injections"), f"{where}.injections")
    )
    return LevelView(
        level=jr.text(data.get("level"), f"{where}.level"),
        trocar=trocar_text,
        trocar_at=trocar_at,
        trocar_confirmed_at=jr.time(
            data.get("trocar_confirmed_at"), f"{where}.trocar_confirmed_at"
        ),
        balloon_pressure_psi=pressure,
        balloon_volume_ml=volume,
        balloon_at=balloon_at,
        balloon_removed_at=jr.time(data.get("balloon_removed_at"), f"{where}.balloon_removed_at"),
        injections=injections,
    )


def _drug(d: Any) -> str:
    if isinstance(d, Mapping):
        dose = d.get("dose")
        shown = f"{dose:g}" if isinstance(dose, int | float) else str(dose)
        return f"{d.get('drug', '?')} {shown} {d.get('unit', '')}".strip()
    return str(d)


def _time_out(t: Mapping[str, Any] | None, where: str) -> str:
    if t is None:
        return ""
    levels = ", ".join(str(x) for x in jr.items(t.get("levels"), f"{where}.levels"))
    return (
        f"signed by {jr.text(t.get('signed_by'), f'{where}.signed_by')}: {levels}, {t.get('side')}"
    )


def _dose(d: Mapping[str, Any] | None, where: str) -> DoseView | None:
    if d is None:
        return None
    return DoseView(
        air_kerma_mgy=jr.number(d.get("air_kerma_mgy"), f"{where}.air_kerma_mgy") or 0.0,
        dap_gy_cm2=jr.number(d.get("dap_gy_cm2"), f"{where}.dap_gy_cm2") or 0.0,
        fluoro_time_s=jr.number(d.get("fluoro_time_s"), f"{where}.fluoro_time_s") or 0.0,
        source=jr.text(d.get("source"), f"{where}.source"),
        at=jr.time(d.get("at"), f"{where}.at"),
    )


def _image(i: Mapping[str, Any], where: str) -> ImageView:
    level = i.get("level")
    return ImageView(
        at=jr.time(i.get("at"), f"{where}.at"),
        sop_instance_uid=jr.text(i.get("sop_instance_uid"), f"{where}.sop_instance_uid"),
        modality=jr.text(i.get("modality"), f"{where}.modality"),
        step=jr.text(i.get("step"), f"{where}.step"),
        level=level if isinstance(level, str) else None,
    )


def _timeline_entry(t: Mapping[str, Any], where: str) -> TimelineEntry:
    seq = t.get("seq")
    return TimelineEntry(
        seq=seq if isinstance(seq, int) else 0,
        at=jr.time(t.get("at"), f"{where}.at"),
        what=jr.text(t.get("what"), f"{where}.what"),
        actor=jr.text(t.get("actor"), f"{where}.actor"),
        source=jr.text(t.get("source"), f"{where}.source"),
    )


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list) and len(value) == 2:
        lo, hi = value
        if all(isinstance(x, int | float) and not isinstance(x, bool) for x in (lo, hi)):
            return (float(lo), float(hi))
    return None


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def case_view(data: Mapping[str, Any], where: str = "case") -> CaseView:
    """The case part of a room snapshot (suite.domain's Case in its JSON form, plus extras)."""
    patient = jr.optional(data, "patient", where) or {}
    order = jr.optional(data, "order", where) or {}
    labs = jr.optional(data, "labs", where)
    time_out = jr.optional(data, "time_out", where)
    mixed = jr.optional(data, "cement_mixed", where) or {}
    check = jr.optional(data, "imaging_check", where)
    checklist = {
        jr.text(c.get("item"), f"{w}.item"): (
            jr.text(c.get("status"), f"{w}.status"),
            jr.text(c.get("detail"), f"{w}.detail"),
        )
        for c, w in jr.objects(data.get("checklist"), f"{where}.checklist")
    }
    return CaseView(
        case_id=jr.text(data.get("case_id"), f"{where}.case_id"),
        room=jr.text(data.get("room"), f"{where}.room"),
        procedure=jr.text(order.get("procedure"), f"{where}.order.procedure"),
        levels=tuple(str(x) for x in jr.items(order.get("levels"), f"{where}.order.levels")),
        phase=jr.text(data.get("phase"), f"{where}.phase"),
        version=_whole(data.get("version")),
        mrn=jr.text(patient.get("mrn"), f"{where}.patient.mrn"),
        patient_name=jr.text(patient.get("name"), f"{where}.patient.name"),
        sex=jr.text(patient.get("sex"), f"{where}.patient.sex"),
        accession=jr.text(order.get("accession"), f"{where}.order.accession"),
        phase_since=jr.time(data.get("phase_since"), f"{where}.phase_since"),
        phase_history=tuple(
            (jr.text(p.get("phase"), f"{w}.phase"), jr.time(p.get("at"), f"{w}.at"))
            for p, w in jr.objects(data.get("phase_history"), f"{where}.phase_history")
        ),
        checklist=checklist,
        checklist_missing=tuple(
            str(x) for x in jr.items(data.get("checklist_missing"), f"{where}.checklist_missing")
        ),
        labs=(
            f"INR {labs.get('inr')}, platelets {labs.get('platelets_10e9_per_l')} x10^9/L"
            if labs is not None
            else ""
        ),
        time_out=_time_out(time_out, f"{where}.time_out"),
        time_out_at=jr.time(time_out.get("at"), f"{where}.time_out.at") if time_out else None,
        sedation=tuple(_drug(d) for d in jr.items(data.get("sedation"), f"{where}.sedation")),
        local_anesthetics=tuple(
            _drug({"drug": a.get("drug"), "dose": a.get("volume_ml"), "unit": "mL"})
            for a, _ in jr.objects(data.get("local_anesthetics"), f"{where}.local_anesthetics")
        ),
        level_views=tuple(
            _level_view(lv, w) for lv, w in jr.objects(data.get("levels"), f"{where}.levels")
        ),
        cement_product=jr.text(mixed.get("product"), f"{where}.cement_mixed.product"),
        cement_mixed_at=jr.time(mixed.get("at"), f"{where}.cement_mixed.at"),
        cement_time_left_s=jr.number(data.get("cement_time_left_s"), f"{where}.cement_time_left_s"),
        cement_working_time_s=jr.number(
            data.get("cement_working_time_s"), f"{where}.cement_working_time_s"
        ),
        procedure_elapsed_s=jr.number(
            data.get("procedure_elapsed_s"), f"{where}.procedure_elapsed_s"
        ),
        images=tuple(_image(i, w) for i, w in jr.objects(data.get("images"), f"{where}.images")),
        received_images=tuple(
            ReceivedImage(
                sop_instance_uid=jr.text(r.get("sop_instance_uid"), f"{w}.sop_instance_uid"),
                series_uid=jr.text(r.get("series_uid"), f"{w}.series_uid"),
                modality=jr.text(r.get("modality"), f"{w}.modality"),
                received_at=jr.time(r.get("received_at"), f"{w}.received_at"),
                linked=r.get("linked") is True,
            )
            for r, w in jr.objects(data.get("received_images"), f"{where}.received_images")
        ),
        dose=_dose(jr.optional(data, "dose", where), f"{where}.dose"),
        imaging_check=(
            f"{check.get('result')} ({check.get('modality')}), signed by {check.get('signed_by')}"
            if check is not None
            else ""
        ),
        warnings=tuple(
            jr.text(w.get("message"), f"{ww}.message")
            for w, ww in jr.objects(data.get("warnings"), f"{where}.warnings")
        ),
        timeline=tuple(
            _timeline_entry(t, w) for t, w in jr.objects(data.get("timeline"), f"{where}.timeline")
        ),
        end_reason=jr.text(data.get("end_reason"), f"{where}.end_reason"),
        phases=tuple(str(x) for x in jr.items(data.get("phases"), f"{where}.phases")),
        procedure_overrun_s=jr.number(
            data.get("procedure_overrun_s"), f"{where}.procedure_overrun_s"
        ),
        dose_next_level_mgy=jr.number(
            data.get("dose_next_level_mgy"), f"{where}.dose_next_level_mgy"
        ),
    )


def _scheduled(data: Mapping[str, Any], where: str) -> ScheduledCase:
    return ScheduledCase(
        case_id=jr.text(data.get("case_id"), f"{where}.case_id"),
        accession=jr.text(data.get("accession"), f"{where}.accession"),
        mrn=jr.text(data.get("mrn"), f"{where}.mrn"),
        patient_name=jr.text(data.get("name"), f"{where}.name"),
        procedure=jr.text(data.get("procedure"), f"{where}.procedure"),
        levels=tuple(str(x) for x in jr.items(data.get("levels"), f"{where}.levels")),
        scheduled_at=jr.time(data.get("scheduled_at"), f"{where}.scheduled_at"),
    )


def room_state(data: Mapping[str, Any], where: str = "state") -> RoomState:
    case = data.get("case")
    vitals = {
        str(k): VitalView(
            value=jr.number(
                jr.obj(v, f"{where}.vitals.{k}").get("value"), f"{where}.vitals.{k}.value"
            ),
            at=jr.time(v.get("at"), f"{where}.vitals.{k}.at"),
            device=jr.text(v.get("device"), f"{where}.vitals.{k}.device"),
        )
        for k, v in jr.obj(data.get("vitals") or {}, f"{where}.vitals").items()
    }
    limits = {
        str(k): Limits(
            low=jr.number(jr.obj(v, f"{where}.limits.{k}").get("low"), f"{where}.limits.{k}.low"),
            high=jr.number(v.get("high"), f"{where}.limits.{k}.high"),
            allowed=_pair(v.get("allowed")),
        )
        for k, v in jr.obj(data.get("limits") or {}, f"{where}.limits").items()
    }
    devices = tuple(
        DeviceView(
            name=str(name),
            online=d.get("online") if isinstance(d.get("online"), bool) else None,
            last_sample_at=jr.time(d.get("last_sample_at"), f"{where}.devices.{name}"),
            samples=d.get("samples") if isinstance(d.get("samples"), int) else None,
            kind=str(d.get("kind") or ""),
        )
        for name, d in (
            (n, jr.obj(x, f"{where}.devices.{n}"))
            for n, x in jr.obj(data.get("devices") or {}, f"{where}.devices").items()
        )
    )
    counters = jr.obj(data.get("counters") or {}, f"{where}.counters")
    faults = {
        str(dev): {str(k): int(n) for k, n in jr.obj(kinds, "faults").items() if isinstance(n, int)}
        for dev, kinds in jr.obj(counters.get("faults") or {}, f"{where}.counters.faults").items()
    }
    return RoomState(
        room=jr.text(data.get("room"), f"{where}.room"),
        at=jr.required_time(data.get("at"), f"{where}.at"),
        case=case_view(jr.obj(case, f"{where}.case"), f"{where}.case")
        if case is not None
        else None,
        vitals=vitals,
        limits=limits,
        adjusted_limits=tuple(
            limit_change(jr.obj(x, f"{where}.adjusted_limits"), f"{where}.adjusted_limits")
            for x in jr.items(data.get("adjusted_limits"), where)
        ),
        devices=devices,
        alarms=tuple(
            alarm_view(jr.obj(x, f"{where}.alarms"), f"{where}.alarms[{i}]")
            for i, x in enumerate(jr.items(data.get("alarms"), f"{where}.alarms"))
        ),
        vitals_stable_since=jr.time(
            data.get("vitals_stable_since"), f"{where}.vitals_stable_since"
        ),
        faults=faults,
        scheduled=tuple(
            _scheduled(x, w) for x, w in jr.objects(data.get("scheduled"), f"{where}.scheduled")
        ),
    )
