"""The demo's day list: one kyphoplasty on two levels in IR1, one vertebroplasty in IR2."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from suite.case_service import CaseService
from suite.domain.commands import ScheduleCase
from suite.domain.envelope import Source
from suite.domain.values import Indication, Level, Order, Patient, Procedure, Sex

DEMO_CASES = (
    (
        "DEMO-K1",
        Patient(mrn="MRN1001", name="DEMO^ALICE", birth_date=date(1946, 3, 14), sex=Sex.FEMALE),
        Procedure.KYPHOPLASTY,
        ("T12", "L1"),
        "IR1",
    ),
    (
        "DEMO-V1",
        Patient(mrn="MRN1002", name="DEMO^BRUNO", birth_date=date(1951, 9, 2), sex=Sex.MALE),
        Procedure.VERTEBROPLASTY,
        ("L2",),
        "IR2",
    ),
)


async def schedule_demo_cases(cases: CaseService, *, now: datetime) -> list[str]:
    """Schedule the demo cases that are not there yet; returns a line per case."""
    lines = []
    for accession, patient, procedure, levels, room in DEMO_CASES:
        existing = cases.by_accession(accession)
        if existing is None:
            case_id = cases.new_case_id()
            order = Order(
                accession=accession,
                procedure=procedure,
                levels=tuple(Level.parse(lv) for lv in levels),
                indication=Indication.OSTEOPOROTIC,
                fracture_date=(now - timedelta(days=21)).date(),
            )
            await cases.execute(
                case_id,
                ScheduleCase(at=now, patient=patient, order=order, room=room, scheduled_at=now),
                actor="demo",
                source=Source.SYSTEM,
            )
            existing = cases.get(case_id)
        assert existing is not None
        lines.append(
            f"{existing.case_id}  {room}  {procedure.value} {','.join(levels)}  {existing.phase.value}"
        )
    return lines
