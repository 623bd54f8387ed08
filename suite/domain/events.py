"""Events: facts that happened to a case, in the past tense. Each carries its time `at`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from suite.domain.checklist import ChecklistItem, ChecklistStatus
from suite.domain.values import (
    CareTeam,
    ImagingModality,
    ImagingResult,
    Leakage,
    Level,
    Order,
    Patient,
    Pedicles,
    Side,
    TrocarApproach,
)


@dataclass(frozen=True, slots=True)
class DrugDose:
    drug: str
    dose: float
    unit: str


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseScheduled(Event):
    patient: Patient
    order: Order
    room: str
    scheduled_at: datetime
    care_team: CareTeam = CareTeam()


@dataclass(frozen=True, slots=True)
class PatientUpdated(Event):
    patient: Patient


@dataclass(frozen=True, slots=True)
class OrderChanged(Event):
    order: Order
    room: str
    scheduled_at: datetime


@dataclass(frozen=True, slots=True)
class CareTeamAssigned(Event):
    care_team: CareTeam


@dataclass(frozen=True, slots=True)
class CheckedIn(Event):
    pass


@dataclass(frozen=True, slots=True)
class ChecklistItemRecorded(Event):
    item: ChecklistItem
    status: ChecklistStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LabsRecorded(Event):
    inr: float
    platelets_10e9_per_l: float


@dataclass(frozen=True, slots=True)
class TimeOutSigned(Event):
    signed_by: str
    levels: tuple[Level, ...]
    side: Side


@dataclass(frozen=True, slots=True)
class SedationGiven(Event):
    drugs: tuple[DrugDose, ...]


@dataclass(frozen=True, slots=True)
class PatientPositioned(Event):
    position: str


@dataclass(frozen=True, slots=True)
class LocalAnestheticGiven(Event):
    drug: str
    volume_ml: float


@dataclass(frozen=True, slots=True)
class TrocarPlaced(Event):
    level: Level
    approach: TrocarApproach
    pedicles: Pedicles


@dataclass(frozen=True, slots=True)
class TrocarConfirmed(Event):
    level: Level


@dataclass(frozen=True, slots=True)
class BalloonInflated(Event):
    level: Level
    pressure_psi: float
    volume_ml: float


@dataclass(frozen=True, slots=True)
class BalloonRemoved(Event):
    level: Level


@dataclass(frozen=True, slots=True)
class CementMixed(Event):
    product: str


@dataclass(frozen=True, slots=True)
class CementInjected(Event):
    level: Level
    volume_ml: float
    leakage: Leakage
    mixed_at: datetime


@dataclass(frozen=True, slots=True)
class ImageLinked(Event):
    sop_instance_uid: str
    modality: str
    level: Level | None
    step: str


@dataclass(frozen=True, slots=True)
class DoseRecorded(Event):
    """Cumulative dose totals of the case so far (they replace the previous totals)."""

    fluoro_time_s: float
    dap_gy_cm2: float
    air_kerma_mgy: float
    source: str


@dataclass(frozen=True, slots=True)
class ImagingCheckRecorded(Event):
    modality: ImagingModality
    result: ImagingResult
    signed_by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ClosureDone(Event):
    pass


@dataclass(frozen=True, slots=True)
class RecoveryStarted(Event):
    pass


@dataclass(frozen=True, slots=True)
class PatientDischarged(Event):
    pass


@dataclass(frozen=True, slots=True)
class CaseCancelled(Event):
    reason: str


@dataclass(frozen=True, slots=True)
class CaseAborted(Event):
    reason: str


@dataclass(frozen=True, slots=True)
class NoteAdded(Event):
    """A timeline entry from a person or a device (e.g. MPPS in progress) that moves no phase."""

    kind: str
    text: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        CaseScheduled,
        PatientUpdated,
        OrderChanged,
        CareTeamAssigned,
        CheckedIn,
        ChecklistItemRecorded,
        LabsRecorded,
        TimeOutSigned,
        SedationGiven,
        PatientPositioned,
        LocalAnestheticGiven,
        TrocarPlaced,
        TrocarConfirmed,
        BalloonInflated,
        BalloonRemoved,
        CementMixed,
        CementInjected,
        ImageLinked,
        DoseRecorded,
        ImagingCheckRecorded,
        ClosureDone,
        RecoveryStarted,
        PatientDischarged,
        CaseCancelled,
        CaseAborted,
        NoteAdded,
    )
}
