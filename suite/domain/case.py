"""The `Case` aggregate: a command in, events out, or a `DomainError` naming the broken rule.

`decide` never changes anything; `Case.apply` folds one event into a new state. Replaying a
case's events through `replay` gives back the same state, which is how a restart rebuilds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from suite.domain import commands as c
from suite.domain import events as e
from suite.domain.checklist import MAY_BE_NOT_APPLICABLE, ChecklistItem, ChecklistStatus
from suite.domain.errors import (
    CaseClosed,
    DomainError,
    GuardError,
    InvalidTime,
    InvalidValue,
    PhaseError,
)
from suite.domain.policy import DEFAULT_POLICY, WorkflowPolicy
from suite.domain.values import (
    CareTeam,
    Level,
    Order,
    Patient,
    Phase,
    Procedure,
    Sex,
)


@dataclass(frozen=True, slots=True)
class LevelState:
    trocar: e.TrocarPlaced | None = None
    trocar_confirmed_at: datetime | None = None
    balloon: e.BalloonInflated | None = None
    balloon_removed_at: datetime | None = None
    injections: tuple[e.CementInjected, ...] = ()

    @property
    def cement_volume_ml(self) -> float:
        return sum(i.volume_ml for i in self.injections)

    @property
    def has_cement(self) -> bool:
        return bool(self.injections)


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    patient: Patient
    order: Order
    room: str
    scheduled_at: datetime
    care_team: CareTeam
    phase: Phase
    phase_history: tuple[tuple[Phase, datetime], ...]
    last_at: datetime
    version: int
    checklist: tuple[tuple[ChecklistItem, ChecklistStatus, str], ...] = ()
    labs: e.LabsRecorded | None = None
    time_out: e.TimeOutSigned | None = None
    sedation: tuple[e.DrugDose, ...] = ()
    local_anesthetics: tuple[e.LocalAnestheticGiven, ...] = ()
    levels: tuple[tuple[Level, LevelState], ...] = ()
    cement_mixed: e.CementMixed | None = None
    images: tuple[e.ImageLinked, ...] = ()
    dose: e.DoseRecorded | None = None
    imaging_check: e.ImagingCheckRecorded | None = None
    end_reason: str = ""
    notes: tuple[e.NoteAdded, ...] = field(default=())

    # ---- derived views -------------------------------------------------------------------

    @property
    def procedure(self) -> Procedure:
        return self.order.procedure

    def level(self, level: Level) -> LevelState:
        for lv, state in self.levels:
            if lv == level:
                return state
        return LevelState()

    def checklist_status(self, item: ChecklistItem) -> ChecklistStatus | None:
        found = None
        for it, status, _ in self.checklist:
            if it is item:
                found = status
        return found

    def missing_checklist_items(self) -> list[ChecklistItem]:
        missing = []
        for item in ChecklistItem:
            status = self.checklist_status(item)
            if status is ChecklistStatus.DONE:
                continue
            if status is ChecklistStatus.NOT_APPLICABLE and item in MAY_BE_NOT_APPLICABLE:
                continue
            missing.append(item)
        return missing

    def phase_started_at(self, phase: Phase) -> datetime | None:
        for p, at in self.phase_history:
            if p is phase:
                return at
        return None

    @property
    def last_injection_at(self) -> datetime | None:
        times = [i.at for _, s in self.levels for i in s.injections]
        return max(times) if times else None

    # ---- evolution -------------------------------------------------------------------------

    def apply(self, event: e.Event) -> Case:
        """The state after `event`; events are facts, so this never refuses."""
        handler = _APPLY.get(type(event))
        nxt = handler(self, event) if handler else self
        return replace(nxt, last_at=max(self.last_at, event.at), version=self.version + 1)

    def _enter(self, phase: Phase, at: datetime) -> Case:
        if phase is self.phase:
            return self
        return replace(self, phase=phase, phase_history=(*self.phase_history, (phase, at)))

    def _with_level(self, level: Level, state: LevelState) -> Case:
        others = tuple((lv, s) for lv, s in self.levels if lv != level)
        return replace(self, levels=tuple(sorted((*others, (level, state)))))


def start(case_id: str, event: e.CaseScheduled) -> Case:
    """The state of a new case from its first event."""
    return Case(
        case_id=case_id,
        patient=event.patient,
        order=event.order,
        room=event.room,
        scheduled_at=event.scheduled_at,
        care_team=event.care_team,
        phase=Phase.SCHEDULED,
        phase_history=((Phase.SCHEDULED, event.at),),
        last_at=event.at,
        version=1,
    )


def replay(case_id: str, events: Iterable[e.Event]) -> Case | None:
    """Fold a case's events into its state; None when there are none."""
    case: Case | None = None
    for event in events:
        if case is None:
            if not isinstance(event, e.CaseScheduled):
                raise ValueError(f"case {case_id}: first event is {type(event).__name__}")
            case = start(case_id, event)
        else:
            case = case.apply(event)
    return case


# ---- apply handlers -----------------------------------------------------------------------

_Apply = Callable[[Case, Any], Case]


def _a_updated(s: Case, ev: e.PatientUpdated) -> Case:
    return replace(s, patient=ev.patient)


def _a_order(s: Case, ev: e.OrderChanged) -> Case:
    return replace(s, order=ev.order, room=ev.room, scheduled_at=ev.scheduled_at)


def _a_team(s: Case, ev: e.CareTeamAssigned) -> Case:
    return replace(s, care_team=ev.care_team)


def _a_checklist(s: Case, ev: e.ChecklistItemRecorded) -> Case:
    s = replace(s, checklist=(*s.checklist, (ev.item, ev.status, ev.detail)))
    return s._enter(Phase.PRE_PROCEDURE, ev.at)


def _a_labs(s: Case, ev: e.LabsRecorded) -> Case:
    s = replace(
        s, labs=ev, checklist=(*s.checklist, (ChecklistItem.LABS, ChecklistStatus.DONE, ""))
    )
    return s._enter(Phase.PRE_PROCEDURE, ev.at)


def _a_sedation(s: Case, ev: e.SedationGiven) -> Case:
    s = replace(s, sedation=(*s.sedation, *ev.drugs))
    return s._enter(Phase.SEDATION, ev.at) if s.phase is Phase.TIME_OUT else s


def _a_local(s: Case, ev: e.LocalAnestheticGiven) -> Case:
    s = replace(s, local_anesthetics=(*s.local_anesthetics, ev))
    return s._enter(Phase.LOCAL_ANESTHESIA, ev.at) if s.phase is Phase.POSITIONING else s


def _a_trocar(s: Case, ev: e.TrocarPlaced) -> Case:
    s = s._with_level(ev.level, replace(s.level(ev.level), trocar=ev))
    return s._enter(Phase.TROCAR_PLACEMENT, ev.at) if s.phase is Phase.LOCAL_ANESTHESIA else s


def _a_confirm(s: Case, ev: e.TrocarConfirmed) -> Case:
    return s._with_level(ev.level, replace(s.level(ev.level), trocar_confirmed_at=ev.at))


def _a_balloon(s: Case, ev: e.BalloonInflated) -> Case:
    s = s._with_level(ev.level, replace(s.level(ev.level), balloon=ev))
    return s._enter(Phase.BALLOON_TAMP, ev.at) if s.phase is Phase.TROCAR_PLACEMENT else s


def _a_balloon_out(s: Case, ev: e.BalloonRemoved) -> Case:
    return s._with_level(ev.level, replace(s.level(ev.level), balloon_removed_at=ev.at))


def _a_inject(s: Case, ev: e.CementInjected) -> Case:
    state = s.level(ev.level)
    s = s._with_level(ev.level, replace(state, injections=(*state.injections, ev)))
    return s._enter(Phase.CEMENT_INJECTION, ev.at)


def _phase(phase: Phase) -> _Apply:
    def apply(s: Case, ev: e.Event) -> Case:
        return s._enter(phase, ev.at)

    return apply


_APPLY: dict[type[e.Event], _Apply] = {
    e.PatientUpdated: _a_updated,
    e.OrderChanged: _a_order,
    e.CareTeamAssigned: _a_team,
    e.CheckedIn: _phase(Phase.CHECKED_IN),
    e.ChecklistItemRecorded: _a_checklist,
    e.LabsRecorded: _a_labs,
    e.TimeOutSigned: lambda s, ev: replace(s, time_out=ev)._enter(Phase.TIME_OUT, ev.at),
    e.SedationGiven: _a_sedation,
    e.PatientPositioned: _phase(Phase.POSITIONING),
    e.LocalAnestheticGiven: _a_local,
    e.TrocarPlaced: _a_trocar,
    e.TrocarConfirmed: _a_confirm,
    e.BalloonInflated: _a_balloon,
    e.BalloonRemoved: _a_balloon_out,
    e.CementMixed: lambda s, ev: replace(s, cement_mixed=ev),
    e.CementInjected: _a_inject,
    e.ImageLinked: lambda s, ev: replace(s, images=(*s.images, ev)),
    e.DoseRecorded: lambda s, ev: replace(s, dose=ev),
    e.ImagingCheckRecorded: lambda s, ev: replace(s, imaging_check=ev)._enter(
        Phase.IMAGING_CHECK, ev.at
    ),
    e.ClosureDone: _phase(Phase.CLOSURE),
    e.RecoveryStarted: _phase(Phase.RECOVERY),
    e.PatientDischarged: _phase(Phase.DISCHARGED),
    e.CaseCancelled: lambda s, ev: replace(s, end_reason=ev.reason)._enter(Phase.CANCELLED, ev.at),
    e.CaseAborted: lambda s, ev: replace(s, end_reason=ev.reason)._enter(Phase.ABORTED, ev.at),
    e.NoteAdded: lambda s, ev: replace(s, notes=(*s.notes, ev)),
}


# ---- decide -------------------------------------------------------------------------------

# Commands that record device facts: accepted in any phase, even after the case ended,
# because an image or a dose report may arrive late. They never move the phase.
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


def _require_text(value: str, what: str) -> str:
    if not value or not value.strip():
        raise InvalidValue(f"{what} must not be empty")
    return value.strip()


def _require_range(value: float, low: float, high: float, what: str, unit: str) -> float:
    # NaN fails both comparisons, so it is refused as well.
    if not (low < value <= high):
        raise InvalidValue(f"{what} {value} {unit} is outside the plausible range ({low}, {high}]")
    return value


def _validate_order(order: Order) -> None:
    _require_text(order.accession, "accession number")
    if not order.levels:
        raise InvalidValue("an order needs at least one planned vertebral level")
    if len(set(order.levels)) != len(order.levels):
        raise InvalidValue("an order lists the same vertebral level twice")


def _schedule(cmd: c.ScheduleCase) -> e.Event:
    _require_text(cmd.patient.mrn, "patient MRN")
    _validate_order(cmd.order)
    _require_text(cmd.room, "room")
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


def _require_phase(case: Case, allowed: tuple[Phase, ...], step: str) -> None:
    if case.phase not in allowed:
        names = " or ".join(p.value for p in allowed)
        raise PhaseError(f"{step} needs the case in {names}; it is in {case.phase.value}")


def _level_on_order(case: Case, text: str) -> Level:
    level = Level.parse(text)
    if level not in case.order.levels:
        planned = ", ".join(str(lv) for lv in case.order.levels)
        raise GuardError(f"level {level} is not on the order (planned: {planned})")
    return level


_BEFORE_TIME_OUT = (Phase.SCHEDULED, Phase.CHECKED_IN, Phase.PRE_PROCEDURE)
_NEEDLE_PHASES = (
    Phase.LOCAL_ANESTHESIA,
    Phase.TROCAR_PLACEMENT,
    Phase.BALLOON_TAMP,
    Phase.CEMENT_INJECTION,
)


def _d_update_patient(case: Case, cmd: c.UpdatePatient, p: WorkflowPolicy) -> list[e.Event]:
    _require_text(cmd.patient.mrn, "patient MRN")
    return [e.PatientUpdated(at=cmd.at, patient=cmd.patient)]


def _d_change_order(case: Case, cmd: c.ChangeOrder, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, _BEFORE_TIME_OUT, "changing the order")
    _validate_order(cmd.order)
    _require_text(cmd.room, "room")
    return [
        e.OrderChanged(at=cmd.at, order=cmd.order, room=cmd.room, scheduled_at=cmd.scheduled_at)
    ]


def _d_team(case: Case, cmd: c.AssignCareTeam, p: WorkflowPolicy) -> list[e.Event]:
    return [e.CareTeamAssigned(at=cmd.at, care_team=cmd.care_team)]


def _d_check_in(case: Case, cmd: c.CheckIn, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.SCHEDULED,), "check-in")
    return [e.CheckedIn(at=cmd.at)]


def _d_checklist(case: Case, cmd: c.RecordChecklistItem, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.CHECKED_IN, Phase.PRE_PROCEDURE), "the pre-procedure checklist")
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
    return [e.ChecklistItemRecorded(at=cmd.at, item=cmd.item, status=cmd.status, detail=cmd.detail)]


def _d_labs(case: Case, cmd: c.RecordLabs, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.CHECKED_IN, Phase.PRE_PROCEDURE), "recording labs")
    _require_range(cmd.inr, *p.inr_range, "INR", "")
    _require_range(cmd.platelets_10e9_per_l, *p.platelets_range_10e9_per_l, "platelets", "x10^9/L")
    return [e.LabsRecorded(at=cmd.at, inr=cmd.inr, platelets_10e9_per_l=cmd.platelets_10e9_per_l)]


def _d_time_out(case: Case, cmd: c.SignTimeOut, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.PRE_PROCEDURE,), "the time-out")
    missing = case.missing_checklist_items()
    if missing:
        names = ", ".join(m.value for m in missing)
        raise GuardError(
            f"the time-out needs the pre-procedure checklist complete: missing {names}"
        )
    signer = _require_text(cmd.signed_by, "the time-out signer")
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
    if case.phase in _BEFORE_TIME_OUT:
        raise GuardError("sedation needs the time-out signed first")
    _require_phase(
        case,
        (
            Phase.TIME_OUT,
            Phase.SEDATION,
            Phase.POSITIONING,
            *_NEEDLE_PHASES,
            Phase.IMAGING_CHECK,
            Phase.CLOSURE,
        ),
        "sedation",
    )
    if not cmd.drugs:
        raise InvalidValue("sedation needs at least one drug and dose")
    for d in cmd.drugs:
        _require_text(d.drug, "sedation drug")
        _require_text(d.unit, f"unit of {d.drug}")
        if not (d.dose > 0):
            raise InvalidValue(f"dose of {d.drug} must be positive, got {d.dose} {d.unit}")
    return [e.SedationGiven(at=cmd.at, drugs=cmd.drugs)]


def _d_position(case: Case, cmd: c.PositionPatient, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.SEDATION,), "positioning")
    return [e.PatientPositioned(at=cmd.at, position=_require_text(cmd.position, "position"))]


def _d_local(case: Case, cmd: c.GiveLocalAnesthetic, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.POSITIONING, *_NEEDLE_PHASES), "local anaesthesia")
    _require_text(cmd.drug, "local anaesthetic")
    _require_range(cmd.volume_ml, 0.0, p.max_local_anesthetic_ml, "local anaesthetic volume", "mL")
    return [e.LocalAnestheticGiven(at=cmd.at, drug=cmd.drug, volume_ml=cmd.volume_ml)]


def _needle_allowed(case: Case, step: str) -> None:
    if case.time_out is None:
        raise GuardError(f"{step} is locked until the time-out is signed")
    _require_phase(case, _NEEDLE_PHASES, step)


def _d_trocar(case: Case, cmd: c.PlaceTrocar, p: WorkflowPolicy) -> list[e.Event]:
    _needle_allowed(case, "trocar placement")
    level = _level_on_order(case, cmd.level)
    if case.level(level).trocar is not None:
        raise GuardError(f"a trocar is already placed on {level}")
    return [e.TrocarPlaced(at=cmd.at, level=level, approach=cmd.approach, pedicles=cmd.pedicles)]


def _d_confirm(case: Case, cmd: c.ConfirmTrocar, p: WorkflowPolicy) -> list[e.Event]:
    _needle_allowed(case, "trocar confirmation")
    level = _level_on_order(case, cmd.level)
    state = case.level(level)
    if state.trocar is None:
        raise GuardError(f"confirming the trocar on {level} needs a trocar placed on {level}")
    if state.trocar_confirmed_at is not None:
        raise GuardError(f"the trocar on {level} is already confirmed")
    return [e.TrocarConfirmed(at=cmd.at, level=level)]


def _d_balloon(case: Case, cmd: c.InflateBalloon, p: WorkflowPolicy) -> list[e.Event]:
    if case.procedure is not Procedure.KYPHOPLASTY:
        raise GuardError("a balloon tamp is only used in kyphoplasty")
    _needle_allowed(case, "balloon inflation")
    level = _level_on_order(case, cmd.level)
    state = case.level(level)
    if state.trocar_confirmed_at is None:
        raise GuardError(f"balloon on {level} needs a confirmed trocar on {level}")
    if state.balloon_removed_at is not None:
        raise GuardError(f"the balloon on {level} is already removed")
    if state.has_cement:
        raise GuardError(f"{level} already has cement")
    _require_range(cmd.pressure_psi, 0.0, p.max_balloon_pressure_psi, "balloon pressure", "psi")
    _require_range(cmd.volume_ml, 0.0, p.max_balloon_volume_ml, "balloon volume", "mL")
    return [
        e.BalloonInflated(
            at=cmd.at, level=level, pressure_psi=cmd.pressure_psi, volume_ml=cmd.volume_ml
        )
    ]


def _d_balloon_out(case: Case, cmd: c.RemoveBalloon, p: WorkflowPolicy) -> list[e.Event]:
    if case.procedure is not Procedure.KYPHOPLASTY:
        raise GuardError("a balloon tamp is only used in kyphoplasty")
    _needle_allowed(case, "balloon removal")
    level = _level_on_order(case, cmd.level)
    state = case.level(level)
    if state.balloon is None:
        raise GuardError(f"removing the balloon on {level} needs it inflated first")
    if state.balloon_removed_at is not None:
        raise GuardError(f"the balloon on {level} is already removed")
    return [e.BalloonRemoved(at=cmd.at, level=level)]


def _d_mix(case: Case, cmd: c.MixCement, p: WorkflowPolicy) -> list[e.Event]:
    _needle_allowed(case, "cement mixing")
    if not any(s.trocar_confirmed_at for _, s in case.levels):
        raise GuardError("cement mixing needs at least one confirmed trocar")
    return [e.CementMixed(at=cmd.at, product=_require_text(cmd.product, "cement product"))]


def _d_inject(case: Case, cmd: c.InjectCement, p: WorkflowPolicy) -> list[e.Event]:
    _needle_allowed(case, "cement injection")
    level = _level_on_order(case, cmd.level)
    state = case.level(level)
    if state.trocar_confirmed_at is None:
        raise GuardError(f"cement on {level} needs a confirmed trocar on {level}")
    if case.procedure is Procedure.KYPHOPLASTY and state.balloon_removed_at is None:
        raise GuardError(
            f"cement on {level} needs the balloon on {level} deflated and removed first"
        )
    if case.cement_mixed is None:
        raise GuardError(f"cement on {level} needs the cement mixed first (log the mix time)")
    _require_range(cmd.volume_ml, 0.0, p.max_cement_volume_ml, f"cement volume on {level}", "mL")
    return [
        e.CementInjected(
            at=cmd.at,
            level=level,
            volume_ml=cmd.volume_ml,
            leakage=cmd.leakage,
            mixed_at=case.cement_mixed.at,
        )
    ]


def _open_step(case: Case) -> tuple[str, Level | None]:
    """The step an image received now belongs to: the level worked on most recently."""
    latest: tuple[datetime, str, Level] | None = None
    for level, s in case.levels:
        for at, step in (
            (s.trocar.at if s.trocar else None, "trocar"),
            (s.balloon.at if s.balloon else None, "balloon"),
            (s.injections[-1].at if s.injections else None, "cement"),
        ):
            if at is not None and (latest is None or at >= latest[0]):
                latest = (at, step, level)
    if case.phase in _NEEDLE_PHASES and latest is not None:
        return latest[1], latest[2]
    return case.phase.value, None


def _d_link_image(case: Case, cmd: c.LinkImage, p: WorkflowPolicy) -> list[e.Event]:
    uid = _require_text(cmd.sop_instance_uid, "SOP Instance UID")
    if any(i.sop_instance_uid == uid for i in case.images):
        return []  # the same instance sent again: already linked
    step, level = _open_step(case)
    if cmd.level is not None:
        level = _level_on_order(case, cmd.level)
    return [
        e.ImageLinked(
            at=cmd.at, sop_instance_uid=uid, modality=cmd.modality, level=level, step=step
        )
    ]


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
    _require_phase(case, (Phase.CEMENT_INJECTION,), "the imaging check")
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
    signer = _require_text(cmd.signed_by, "the imaging check signer")
    return [
        e.ImagingCheckRecorded(
            at=cmd.at, modality=cmd.modality, result=cmd.result, signed_by=signer, note=cmd.note
        )
    ]


def _d_close(case: Case, cmd: c.CloseWound, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.IMAGING_CHECK,), "closure")
    return [e.ClosureDone(at=cmd.at)]


def _d_recovery(case: Case, cmd: c.StartRecovery, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.CLOSURE,), "recovery")
    return [e.RecoveryStarted(at=cmd.at)]


def _d_discharge(case: Case, cmd: c.Discharge, p: WorkflowPolicy) -> list[e.Event]:
    _require_phase(case, (Phase.RECOVERY,), "discharge")
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
    return [e.CaseCancelled(at=cmd.at, reason=_require_text(cmd.reason, "the reason to cancel"))]


def _d_abort(case: Case, cmd: c.AbortCase, p: WorkflowPolicy) -> list[e.Event]:
    return [e.CaseAborted(at=cmd.at, reason=_require_text(cmd.reason, "the reason to abort"))]


def _d_note(case: Case, cmd: c.AddNote, p: WorkflowPolicy) -> list[e.Event]:
    return [e.NoteAdded(at=cmd.at, kind=_require_text(cmd.kind, "note kind"), text=cmd.text)]


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
    c.PlaceTrocar: _d_trocar,
    c.ConfirmTrocar: _d_confirm,
    c.InflateBalloon: _d_balloon,
    c.RemoveBalloon: _d_balloon_out,
    c.MixCement: _d_mix,
    c.InjectCement: _d_inject,
    c.LinkImage: _d_link_image,
    c.RecordDose: _d_dose,
    c.RecordImagingCheck: _d_imaging_check,
    c.CloseWound: _d_close,
    c.StartRecovery: _d_recovery,
    c.Discharge: _d_discharge,
    c.CancelCase: _d_cancel,
    c.AbortCase: _d_abort,
    c.AddNote: _d_note,
}
