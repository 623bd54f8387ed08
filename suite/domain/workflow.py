"""Deciding: a command on a case gives the events it causes, or a `DomainError` naming the rule.

`decide` never changes anything; `Case.apply` (case.py) folds the events into the new state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from suite.domain import commands as c
from suite.domain import events as e
from suite.domain import level_steps
from suite.domain.case import Case
from suite.domain.checklist import MAY_BE_NOT_APPLICABLE, ChecklistItem, ChecklistStatus
from suite.domain.errors import CaseClosed, DomainError, GuardError, InvalidTime, InvalidValue
from suite.domain.policy import DEFAULT_POLICY, WorkflowPolicy
from suite.domain.rules import (
    BEFORE_TIME_OUT,
    NEEDLE_PHASES,
    require_phase,
    require_range,
    require_text,
)
from suite.domain.values import Level, Order, Phase, Sex

_LATE_FACTS = (c.LinkImage, c.RecordDose, c.AddNote)


def decide(
    case: Case | None,
    command: c.Command,
    *,
    now: datetime,
    policy: WorkflowPolicy = DEFAULT_POLICY,
) -> list[e.Event]:
    """The events `command` produces on `case`, or a `DomainError` naming the broken rule."""
    _check_time(case, command.at, now, policy)
    if isinstance(command, c.ScheduleCase):
        if case is not None:
            raise GuardError(f"case {case.case_id} is already scheduled")
        return [_schedule(command)]
    if case is None:
        raise GuardError(f"{type(command).__name__} needs a scheduled case")
    if case.phase.is_final and not isinstance(command, _LATE_FACTS):
        raise CaseClosed(f"case {case.case_id} is {case.phase.value}: no further steps")
    handler = _DECIDE.get(type(command))
    if handler is None:
        raise DomainError(f"unknown command {type(command).__name__}")
    return handler(case, command, policy)


def _check_time(case: Case | None, at: datetime, now: datetime, policy: WorkflowPolicy) -> None:
    if at.tzinfo is None:
        raise InvalidTime(f"time {at.isoformat()} has no time zone")
    if at > now + timedelta(seconds=policy.future_tolerance_s):
        raise InvalidTime(f"time {at.isoformat()} is in the future (now {now.isoformat()})")
    if case is not None and at < case.last_at:
        raise InvalidTime(
            f"time {at.isoformat()} is before the case's last step at {case.last_at.isoformat()}"
        )


def _validate_order(order: Order) -> None:
    require_text(order.accession, "accession number")
    if not order.levels:
        raise InvalidValue("an order needs at least one planned vertebral level")
    if len(set(order.levels)) != len(order.levels):
        raise InvalidValue("an order lists the same vertebral level twice")


def _schedule(cmd: c.ScheduleCase) -> e.Event:
    require_text(cmd.patient.mrn, "patient MRN")
    _validate_order(cmd.order)
    require_text(cmd.room, "room")
    if cmd.scheduled_at.tzinfo is None:
        raise InvalidTime("scheduled time has no time zone")
    return e.CaseScheduled(
        at=cmd.at,
        patient=cmd.patient,
        order=cmd.order,
        room=cmd.room,
        scheduled_at=cmd.scheduled_at,
        care_team=cmd.care_team,
    )


def _d_update_patient(case: Case, cmd: c.UpdatePatient, p: WorkflowPolicy) -> list[e.Event]:
    require_text(cmd.patient.mrn, "patient MRN")
    return [e.PatientUpdated(at=cmd.at, patient=cmd.patient)]


def _d_change_order(case: Case, cmd: c.ChangeOrder, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, BEFORE_TIME_OUT, "changing the order")
    _validate_order(cmd.order)
    require_text(cmd.room, "room")
    return [
        e.OrderChanged(at=cmd.at, order=cmd.order, room=cmd.room, scheduled_at=cmd.scheduled_at)
    ]


def _d_team(case: Case, cmd: c.AssignCareTeam, p: WorkflowPolicy) -> list[e.Event]:
    return [e.CareTeamAssigned(at=cmd.at, care_team=cmd.care_team)]


def _d_check_in(case: Case, cmd: c.CheckIn, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.SCHEDULED,), "check-in")
    return [e.CheckedIn(at=cmd.at)]


def _d_checklist(case: Case, cmd: c.RecordChecklistItem, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.CHECKED_IN, Phase.PRE_PROCEDURE), "the pre-procedure checklist")
    if cmd.item is ChecklistItem.LABS:
        raise InvalidValue("labs are recorded with their values (INR and platelets)")
    if cmd.status is ChecklistStatus.NOT_APPLICABLE and cmd.item not in MAY_BE_NOT_APPLICABLE:
        raise InvalidValue(f"checklist item {cmd.item.value} cannot be 'not applicable'")
    if (
        cmd.item is ChecklistItem.PREGNANCY_STATUS
        and cmd.status is ChecklistStatus.NOT_APPLICABLE
        and case.patient.sex is Sex.FEMALE
        and (case.patient.age_on(cmd.at.date()) or 0) < 60
    ):
        raise GuardError("pregnancy status is required for a female patient under 60")
    if (cmd.item, cmd.status, cmd.detail) in case.checklist:
        return []  # idempotent per item: the same answer again records nothing
    return [e.ChecklistItemRecorded(at=cmd.at, item=cmd.item, status=cmd.status, detail=cmd.detail)]


def _d_labs(case: Case, cmd: c.RecordLabs, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.CHECKED_IN, Phase.PRE_PROCEDURE), "recording labs")
    require_range(cmd.inr, *p.inr_range, "INR", "")
    require_range(cmd.platelets_10e9_per_l, *p.platelets_range_10e9_per_l, "platelets", "x10^9/L")
    return [e.LabsRecorded(at=cmd.at, inr=cmd.inr, platelets_10e9_per_l=cmd.platelets_10e9_per_l)]


def _d_time_out(case: Case, cmd: c.SignTimeOut, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.PRE_PROCEDURE,), "the time-out")
    missing = case.missing_checklist_items()
    if missing:
        names = ", ".join(m.value for m in missing)
        raise GuardError(
            f"the time-out needs the pre-procedure checklist complete: missing {names}"
        )
    signer = require_text(cmd.signed_by, "the time-out signer")
    if not cmd.patient_confirmed:
        raise GuardError("the time-out needs the patient's identity confirmed")
    if cmd.procedure != case.procedure.value:
        raise GuardError(
            f"time-out procedure {cmd.procedure!r} does not match the order ({case.procedure.value})"
        )
    levels = tuple(sorted({Level.parse(t) for t in cmd.levels}))
    if levels != case.order.levels:
        said = ", ".join(map(str, levels)) or "none"
        planned = ", ".join(map(str, case.order.levels))
        raise GuardError(f"time-out levels ({said}) do not match the order ({planned})")
    return [e.TimeOutSigned(at=cmd.at, signed_by=signer, levels=levels, side=cmd.side)]


def _d_sedation(case: Case, cmd: c.GiveSedation, p: WorkflowPolicy) -> list[e.Event]:
    if case.phase in BEFORE_TIME_OUT:
        raise GuardError("sedation needs the time-out signed first")
    require_phase(
        case,
        (
            Phase.TIME_OUT,
            Phase.SEDATION,
            Phase.POSITIONING,
            *NEEDLE_PHASES,
            Phase.IMAGING_CHECK,
            Phase.CLOSURE,
        ),
        "sedation",
    )
    if not cmd.drugs:
        raise InvalidValue("sedation needs at least one drug and dose")
    for d in cmd.drugs:
        require_text(d.drug, "sedation drug")
        require_text(d.unit, f"unit of {d.drug}")
        if not (d.dose > 0):
            raise InvalidValue(f"dose of {d.drug} must be positive, got {d.dose} {d.unit}")
    return [e.SedationGiven(at=cmd.at, drugs=cmd.drugs)]


def _d_position(case: Case, cmd: c.PositionPatient, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.SEDATION,), "positioning")
    return [e.PatientPositioned(at=cmd.at, position=require_text(cmd.position, "position"))]


def _d_local(case: Case, cmd: c.GiveLocalAnesthetic, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.POSITIONING, *NEEDLE_PHASES), "local anaesthesia")
    require_text(cmd.drug, "local anaesthetic")
    require_range(cmd.volume_ml, 0.0, p.max_local_anesthetic_ml, "local anaesthetic volume", "mL")
    return [e.LocalAnestheticGiven(at=cmd.at, drug=cmd.drug, volume_ml=cmd.volume_ml)]


def _d_dose(case: Case, cmd: c.RecordDose, p: WorkflowPolicy) -> list[e.Event]:
    for value, what in (
        (cmd.fluoro_time_s, "fluoroscopy time"),
        (cmd.dap_gy_cm2, "dose area product"),
        (cmd.air_kerma_mgy, "reference air kerma"),
    ):
        if not (value >= 0):
            raise InvalidValue(f"{what} must not be negative, got {value}")
    return [
        e.DoseRecorded(
            at=cmd.at,
            fluoro_time_s=cmd.fluoro_time_s,
            dap_gy_cm2=cmd.dap_gy_cm2,
            air_kerma_mgy=cmd.air_kerma_mgy,
            source=cmd.source,
        )
    ]


def _d_imaging_check(case: Case, cmd: c.RecordImagingCheck, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.CEMENT_INJECTION,), "the imaging check")
    without = [str(lv) for lv in case.order.levels if not case.level(lv).has_cement]
    if without:
        raise GuardError(
            f"the imaging check needs cement on every planned level: none on {', '.join(without)}"
        )
    last = case.last_injection_at
    if p.imaging_check_requires_image and not any(
        last is not None and i.at >= last for i in case.images
    ):
        raise GuardError(
            "the imaging check needs an image received after the last cement injection"
        )
    signer = require_text(cmd.signed_by, "the imaging check signer")
    return [
        e.ImagingCheckRecorded(
            at=cmd.at, modality=cmd.modality, result=cmd.result, signed_by=signer, note=cmd.note
        )
    ]


def _d_close(case: Case, cmd: c.CloseWound, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.IMAGING_CHECK,), "closure")
    return [e.ClosureDone(at=cmd.at)]


def _d_recovery(case: Case, cmd: c.StartRecovery, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.CLOSURE,), "recovery")
    return [e.RecoveryStarted(at=cmd.at)]


def _d_discharge(case: Case, cmd: c.Discharge, p: WorkflowPolicy) -> list[e.Event]:
    require_phase(case, (Phase.RECOVERY,), "discharge")
    recovery = case.phase_started_at(Phase.RECOVERY)
    assert recovery is not None
    stable_since = max(recovery, cmd.vitals_stable_since or recovery)
    needed = timedelta(seconds=p.recovery_stable_vitals_s)
    if cmd.at - stable_since < needed:
        minutes = (cmd.at - stable_since).total_seconds() / 60
        raise GuardError(
            f"discharge needs vitals stable in recovery for {needed.total_seconds() / 60:.0f} min;"
            f" stable for {minutes:.0f} min"
        )
    return [e.PatientDischarged(at=cmd.at)]


def _d_cancel(case: Case, cmd: c.CancelCase, p: WorkflowPolicy) -> list[e.Event]:
    return [e.CaseCancelled(at=cmd.at, reason=require_text(cmd.reason, "the reason to cancel"))]


def _d_abort(case: Case, cmd: c.AbortCase, p: WorkflowPolicy) -> list[e.Event]:
    return [e.CaseAborted(at=cmd.at, reason=require_text(cmd.reason, "the reason to abort"))]


def _d_note(case: Case, cmd: c.AddNote, p: WorkflowPolicy) -> list[e.Event]:
    return [e.NoteAdded(at=cmd.at, kind=require_text(cmd.kind, "note kind"), text=cmd.text)]


_Decide = Callable[[Case, Any, WorkflowPolicy], list[e.Event]]


_DECIDE: dict[type[c.Command], _Decide] = {
    c.UpdatePatient: _d_update_patient,
    c.ChangeOrder: _d_change_order,
    c.AssignCareTeam: _d_team,
    c.CheckIn: _d_check_in,
    c.RecordChecklistItem: _d_checklist,
    c.RecordLabs: _d_labs,
    c.SignTimeOut: _d_time_out,
    c.GiveSedation: _d_sedation,
    c.PositionPatient: _d_position,
    c.GiveLocalAnesthetic: _d_local,
    c.PlaceTrocar: level_steps.place_trocar,
    c.ConfirmTrocar: level_steps.confirm_trocar,
    c.InflateBalloon: level_steps.inflate_balloon,
    c.RemoveBalloon: level_steps.remove_balloon,
    c.MixCement: level_steps.mix_cement,
    c.InjectCement: level_steps.inject_cement,
    c.LinkImage: level_steps.link_image,
    c.RecordDose: _d_dose,
    c.RecordImagingCheck: _d_imaging_check,
    c.CloseWound: _d_close,
    c.StartRecovery: _d_recovery,
    c.Discharge: _d_discharge,
    c.CancelCase: _d_cancel,
    c.AbortCase: _d_abort,
    c.AddNote: _d_note,
}
