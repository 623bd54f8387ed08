"""The `Case` aggregate's state and how each event changes it (deciding is in workflow.py).

`Case.apply` folds one event into a new state. Replaying a
case's events through `replay` gives back the same state, which is how a restart rebuilds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from suite.domain import events as e
from suite.domain.checklist import MAY_BE_NOT_APPLICABLE, ChecklistItem, ChecklistStatus
from suite.domain.values import (
    CareTeam,
    Level,
    Order,
    Patient,
    Phase,
    Procedure,
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
