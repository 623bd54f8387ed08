"""Assigning a stored instance to its case by hand (suite/app/image_assignment.py): the use
case behind `procsuite dicom assign` and the MQTT `dicom_assign` command."""

from __future__ import annotations

import pytest
from sqlmodel import select

from adapters.dicom.matching import MatchRule
from suite.app.case_service import CaseService
from suite.app.image_assignment import MANUAL_MATCH, Assigned, AssignError, assign
from suite.domain.dose import DoseReport, DoseSource
from suite.domain.envelope import Source
from suite.errors import DomainError
from suite.store import dicom_instances
from suite.store.audit_log import AuditLogRow
from suite.store.database import Database
from suite.store.dicom import DicomDoseReportRow, DicomInstanceRow
from tests.conftest import FakeClock
from tests.dicom.test_linking import BOTH_DATABASES, instance
from tests.scenarios import schedule


async def audit(db: Database) -> list[AuditLogRow]:
    async with db.session() as session:
        return list(await session.exec(select(AuditLogRow).order_by(AuditLogRow.id)))


@BOTH_DATABASES
@pytest.mark.asyncio
async def test_an_instance_moves_to_its_case_with_its_dose_and_an_audit_entry(
    cases: CaseService, database: Database, clock: FakeClock
) -> None:
    assert MatchRule.MANUAL.value == MANUAL_MATCH
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    await cases.execute("k2", schedule(clock(), accession="ACC2"), actor="his", source=Source.HL7)
    report = DoseReport(source=DoseSource.IMAGE, key="1.8.1", air_kerma_mgy=5)
    await dicom_instances.record_instance(
        database, instance("1.8.1", case_id=None, clock=clock), report=report, forward_to=None
    )

    def do(case_id: str, *, force: bool = False, uid: str = "1.8.1"):
        return assign(
            db=database, cases=cases, sop_instance_uid=uid, case_id=case_id, force=force,
            user="it1", source="cli", at=clock(),
        )  # fmt: skip

    assert await do("k1") == Assigned("1.8.1", "k1", None)
    # Matched to a case now: another case takes it only with force.
    with pytest.raises(AssignError, match="belongs to case k1 .matched by manual.; use force"):
        await do("k2")
    assert await do("k1") == Assigned("1.8.1", "k1", "k1")  # no change, no audit entry
    assert await do("k2", force=True) == Assigned("1.8.1", "k2", "k1")
    async with database.session() as session:
        row = (await session.exec(select(DicomInstanceRow))).one()
        dose = (await session.exec(select(DicomDoseReportRow))).one()
    assert (row.case_id, row.match_rule, row.linked, dose.case_id) == ("k2", "manual", False, "k2")
    entries = await audit(database)
    assert [(e.user, e.source, e.action, e.subject) for e in entries] == [
        ("it1", "cli", "dicom_assign", "instance 1.8.1"),
    ] * 2
    assert [e.detail for e in entries] == [
        {"case_id": "k1", "previous_case_id": None, "force": False},
        {"case_id": "k2", "previous_case_id": "k1", "force": True},
    ]

    # Refusals are domain refusals with the rule named, and write nothing.
    for case_id, uid, words in (("k9", "1.8.1", "no case k9"), ("k1", "9.9", "no stored instance 9.9")):  # fmt: skip
        with pytest.raises(DomainError, match=words) as refused:
            await do(case_id, uid=uid)
        assert refused.value.rule == "dicom-assign"
    assert len(await audit(database)) == 2
