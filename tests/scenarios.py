"""Ready-made cases and the command sequence of a whole case, for tests of every layer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from suite.domain import commands as c
from suite.domain.checklist import ChecklistItem, ChecklistStatus
from suite.domain.events import DrugDose
from suite.domain.values import (
    ImagingModality,
    ImagingResult,
    Indication,
    Leakage,
    Level,
    Order,
    Patient,
    Procedure,
    Sex,
    Side,
)


def patient(mrn: str = "MRN0001", sex: Sex = Sex.FEMALE) -> Patient:
    return Patient(
        mrn=mrn, name="TEST^ANNA", birth_date=date(1944, 5, 6), sex=sex, allergies=("latex",)
    )


def order(
    procedure: Procedure = Procedure.KYPHOPLASTY,
    levels: tuple[str, ...] = ("T12", "L1"),
    accession: str = "ACC0001",
    fracture_date: date | None = date(2026, 11, 1),
) -> Order:
    return Order(
        accession=accession,
        procedure=procedure,
        levels=tuple(Level.parse(x) for x in levels),
        indication=Indication.OSTEOPOROTIC,
        fracture_date=fracture_date,
    )


def schedule(
    at: datetime,
    *,
    procedure: Procedure = Procedure.KYPHOPLASTY,
    levels: tuple[str, ...] = ("T12", "L1"),
    accession: str = "ACC0001",
    room: str = "IR1",
    mrn: str = "MRN0001",
) -> c.ScheduleCase:
    return c.ScheduleCase(
        at=at,
        patient=patient(mrn),
        order=order(procedure, levels, accession),
        room=room,
        scheduled_at=at + timedelta(hours=1),
    )


def full_case(
    start: datetime,
    *,
    procedure: Procedure = Procedure.KYPHOPLASTY,
    levels: tuple[str, ...] = ("T12", "L1"),
    step_s: float = 60,
    recovery_s: float = 3600,
) -> Iterator[c.Command]:
    """Every command of a case from check-in to discharge, `step_s` apart (after scheduling)."""
    t = start

    def at(seconds: float = step_s) -> datetime:
        nonlocal t
        t = t + timedelta(seconds=seconds)
        return t

    yield c.CheckIn(at=at())
    for item in (
        ChecklistItem.CONSENT,
        ChecklistItem.ALLERGIES_REVIEWED,
        ChecklistItem.NPO,
        ChecklistItem.IV_ACCESS,
        ChecklistItem.PREGNANCY_STATUS,
    ):
        yield c.RecordChecklistItem(at=at(), item=item, status=ChecklistStatus.DONE)
    yield c.RecordChecklistItem(
        at=at(),
        item=ChecklistItem.ANTICOAGULANTS_HELD,
        status=ChecklistStatus.NOT_APPLICABLE,
        detail="none taken",
    )
    yield c.RecordLabs(at=at(), inr=1.0, platelets_10e9_per_l=250)
    yield c.SignTimeOut(
        at=at(),
        signed_by="dr.rad",
        patient_confirmed=True,
        procedure=procedure.value,
        levels=levels,
        side=Side.BILATERAL,
    )
    yield c.GiveSedation(
        at=at(), drugs=(DrugDose("midazolam", 1, "mg"), DrugDose("fentanyl", 50, "mcg"))
    )
    yield c.PositionPatient(at=at())
    yield c.GiveLocalAnesthetic(at=at(), drug="lidocaine 1%", volume_ml=10)
    for lv in levels:
        yield c.PlaceTrocar(at=at(), level=lv)
        yield c.ConfirmTrocar(at=at(), level=lv)
        if procedure is Procedure.KYPHOPLASTY:
            yield c.InflateBalloon(at=at(), level=lv, pressure_psi=180, volume_ml=3.0)
            yield c.RemoveBalloon(at=at(), level=lv)
    yield c.MixCement(at=at())
    for lv in levels:
        yield c.InjectCement(at=at(), level=lv, volume_ml=4.0, leakage=Leakage.NONE)
    yield c.LinkImage(at=at(), sop_instance_uid="1.2.826.0.1.3680043.8.498.1", modality="XA")
    yield c.RecordImagingCheck(
        at=at(),
        modality=ImagingModality.FLUOROSCOPY,
        result=ImagingResult.SATISFACTORY,
        signed_by="dr.rad",
    )
    yield c.CloseWound(at=at())
    yield c.StartRecovery(at=at())
    yield c.Discharge(at=at(recovery_s))
