"""Commands: what a person or a device asks of a case, in the imperative.

Each carries `at`, the time the step happened (passed in, never read from a clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from suite.domain.checklist import ChecklistItem, ChecklistStatus
from suite.domain.events import DrugDose
from suite.domain.values import (
    CareTeam,
    ImagingModality,
    ImagingResult,
    Leakage,
    Order,
    Patient,
    Pedicles,
    Side,
    TrocarApproach,
)


@dataclass(frozen=True, slots=True)
class Command:
    at: datetime


@dataclass(frozen=True, slots=True)
class ScheduleCase(Command):
    patient: Patient
    order: Order
    room: str
    scheduled_at: datetime
    care_team: CareTeam = CareTeam()


@dataclass(frozen=True, slots=True)
class UpdatePatient(Command):
    patient: Patient


@dataclass(frozen=True, slots=True)
class ChangeOrder(Command):
    order: Order
    room: str
    scheduled_at: datetime


@dataclass(frozen=True, slots=True)
class AssignCareTeam(Command):
    care_team: CareTeam


@dataclass(frozen=True, slots=True)
class CheckIn(Command):
    pass


@dataclass(frozen=True, slots=True)
class RecordChecklistItem(Command):
    item: ChecklistItem
    status: ChecklistStatus = ChecklistStatus.DONE
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RecordLabs(Command):
    inr: float
    platelets_10e9_per_l: float


@dataclass(frozen=True, slots=True)
class SignTimeOut(Command):
    signed_by: str
    patient_confirmed: bool
    procedure: str
    levels: tuple[str, ...]
    side: Side


@dataclass(frozen=True, slots=True)
class GiveSedation(Command):
    drugs: tuple[DrugDose, ...]


@dataclass(frozen=True, slots=True)
class PositionPatient(Command):
    position: str = "prone"


@dataclass(frozen=True, slots=True)
class GiveLocalAnesthetic(Command):
    drug: str
    volume_ml: float


@dataclass(frozen=True, slots=True)
class PlaceTrocar(Command):
    level: str
    approach: TrocarApproach = TrocarApproach.TRANSPEDICULAR
    pedicles: Pedicles = Pedicles.UNIPEDICULAR


@dataclass(frozen=True, slots=True)
class ConfirmTrocar(Command):
    level: str


@dataclass(frozen=True, slots=True)
class InflateBalloon(Command):
    level: str
    pressure_psi: float
    volume_ml: float


@dataclass(frozen=True, slots=True)
class RemoveBalloon(Command):
    level: str


@dataclass(frozen=True, slots=True)
class MixCement(Command):
    product: str = "PMMA"


@dataclass(frozen=True, slots=True)
class InjectCement(Command):
    level: str
    volume_ml: float
    leakage: Leakage = Leakage.NONE


@dataclass(frozen=True, slots=True)
class LinkImage(Command):
    """Attach a received image to the case; the step it belongs to is worked out from state."""

    sop_instance_uid: str
    modality: str
    level: str | None = None


@dataclass(frozen=True, slots=True)
class RecordDose(Command):
    fluoro_time_s: float
    dap_gy_cm2: float
    air_kerma_mgy: float
    source: str


@dataclass(frozen=True, slots=True)
class RecordImagingCheck(Command):
    modality: ImagingModality
    result: ImagingResult
    signed_by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class CloseWound(Command):
    pass


@dataclass(frozen=True, slots=True)
class StartRecovery(Command):
    pass


@dataclass(frozen=True, slots=True)
class Discharge(Command):
    """`vitals_stable_since` is when the patient's vitals last became stable (from the alarms)."""

    vitals_stable_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class CancelCase(Command):
    reason: str


@dataclass(frozen=True, slots=True)
class AbortCase(Command):
    reason: str


@dataclass(frozen=True, slots=True)
class AddNote(Command):
    kind: str
    text: str


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        ScheduleCase,
        UpdatePatient,
        ChangeOrder,
        AssignCareTeam,
        CheckIn,
        RecordChecklistItem,
        RecordLabs,
        SignTimeOut,
        GiveSedation,
        PositionPatient,
        GiveLocalAnesthetic,
        PlaceTrocar,
        ConfirmTrocar,
        InflateBalloon,
        RemoveBalloon,
        MixCement,
        InjectCement,
        LinkImage,
        RecordDose,
        RecordImagingCheck,
        CloseWound,
        StartRecovery,
        Discharge,
        CancelCase,
        AbortCase,
        AddNote,
    )
}
