"""The DICOM instance index: recording a stored instance, the rows still to be told to their
case (the linker's queue), the unmatched ones, and moving an instance to another case.

Tables in suite/store/dicom.py. Reads take the `Database` (driver errors come out as
`StoreError`); the pieces of a write that must commit with something else take the session of
that write's job.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.case import Case
from suite.domain.dose import DoseReport
from suite.domain.envelope import Recorded
from suite.store.database import AfterCommit, Database
from suite.store.dicom import DicomDoseReportRow, DicomInstanceRow, ForwardRow
from suite.store.dicom_dose import save_report

# Runs in the transaction of a case command (suite/app/case_service.py `TransactionPart`).
CasePart = Callable[[AsyncSession, Sequence[Recorded], Case], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class NewInstance:
    """A stored SOP instance as the SCP received it (longer texts are cut to the columns)."""

    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    modality: str
    accession: str
    patient_id: str
    path: str
    size_bytes: int
    transfer_syntax: str
    calling_ae: str
    received_at: datetime
    case_id: str | None
    match_rule: str | None
    link_note: str = ""


@dataclass(frozen=True, slots=True)
class IndexResult:
    new: bool
    """False when the index had the instance already (nothing was written)."""
    path: str
    """The relative path the index has for it (the first copy's, for a repeat)."""


@dataclass(frozen=True, slots=True)
class PendingLink:
    """An index row with a case that the case has not been told about yet."""

    row_id: int
    case_id: str
    sop_instance_uid: str
    sop_class_uid: str
    modality: str
    calling_ae: str
    link_note: str


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    row_id: int
    note: str
    """Why the case was not told, if it was not ("" when it was)."""


@dataclass(frozen=True, slots=True)
class UnmatchedInstance:
    received_at: datetime
    sop_instance_uid: str
    sop_class_uid: str
    modality: str
    patient_id: str
    accession: str
    calling_ae: str


@dataclass(frozen=True, slots=True)
class InstanceCase:
    """Which case an instance is on now, and by which match rule (None: unmatched)."""

    case_id: str | None
    match_rule: str | None


_INSTANCES: Any = DicomInstanceRow.__table__  # type: ignore[attr-defined]


@functools.cache
def _insert_instance(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id for an index row, in `dialect`: a Core
    statement built once (building an ORM insert per instance cost more than running it)."""
    insert_new: Any = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert_new(_INSTANCES)
        .on_conflict_do_nothing(index_elements=["sop_instance_uid"])
        .returning(_INSTANCES.c.id)
    )


async def record_instance(
    db: Database,
    new: NewInstance,
    *,
    report: DoseReport | None,
    forward_to: str | None,
    after_commit: AfterCommit | None = None,
) -> IndexResult:
    """Record a stored instance in one transaction: its index row (unless the index has it
    already), its dose report, and its PACS forward row when `forward_to` is set. Returns
    once committed."""
    statement = _insert_instance(db.engine.dialect.name)
    values = {
        "sop_instance_uid": new.sop_instance_uid,
        "sop_class_uid": new.sop_class_uid,
        "study_uid": new.study_uid,
        "series_uid": new.series_uid,
        "modality": new.modality[:16],
        "accession": new.accession[:64],
        "patient_id": new.patient_id[:64],
        "path": new.path,
        "size_bytes": new.size_bytes,
        "transfer_syntax": new.transfer_syntax,
        "calling_ae": new.calling_ae,
        "received_at": new.received_at,
        "case_id": new.case_id,
        "match_rule": new.match_rule,
        "linked": new.case_id is None,  # nothing to tell a case until it is assigned
        "link_note": new.link_note[:400],
    }

    async def job(session: AsyncSession) -> IndexResult:
        # One statement on the association's critical path: insert unless already there.
        added = (await session.exec(statement, params=values)).first()
        if added is None:
            existing = (
                await session.exec(
                    select(DicomInstanceRow.path).where(
                        DicomInstanceRow.sop_instance_uid == new.sop_instance_uid
                    )
                )
            ).one()
            return IndexResult(new=False, path=existing)
        if report is not None:
            await save_report(
                session,
                report,
                case_id=new.case_id,
                device=new.calling_ae,
                object_uid=new.sop_instance_uid,
                at=new.received_at,
            )
        if forward_to:
            await session.exec(
                insert(ForwardRow).values(
                    sop_instance_uid=new.sop_instance_uid,
                    sop_class_uid=new.sop_class_uid,
                    transfer_syntax=new.transfer_syntax,
                    path=new.path,
                    destination=forward_to,
                    attempts=0,
                    next_attempt_at=new.received_at,
                    last_error="",
                    created_at=new.received_at,
                )
            )
        return IndexResult(new=True, path=new.path)

    return await db.write(job, after_commit=after_commit)


async def pending_links(db: Database, *, limit: int) -> list[PendingLink]:
    """Up to `limit` rows with a case not yet told to it, in the order they were stored."""

    async def read(session: AsyncSession) -> list[PendingLink]:
        rows = await session.exec(
            select(DicomInstanceRow)
            .where(
                col(DicomInstanceRow.linked).is_(False),
                col(DicomInstanceRow.case_id).is_not(None),
            )
            .order_by(col(DicomInstanceRow.id))
            .limit(limit)
        )
        return [
            PendingLink(
                row_id=r.id or 0,
                case_id=r.case_id or "",
                sop_instance_uid=r.sop_instance_uid,
                sop_class_uid=r.sop_class_uid,
                modality=r.modality,
                calling_ae=r.calling_ae,
                link_note=r.link_note,
            )
            for r in rows
        ]

    async with db.session() as session:
        return await read(session)


_rows = DicomInstanceRow.__table__  # type: ignore[attr-defined]
_MARK_LINKED = (
    update(_rows)
    .where(_rows.c.id == bindparam("row_id"))
    .values(linked=True, link_note=bindparam("note"))
)


async def mark_linked(session: AsyncSession, outcomes: Sequence[LinkOutcome]) -> None:
    """Mark rows told to their case, with the note of why not where it was not (in the
    caller's transaction)."""
    if not outcomes:
        return
    # One executemany for all of them (a linker run marks hundreds of rows at a time).
    await session.exec(
        _MARK_LINKED,
        params=[{"row_id": o.row_id, "note": o.note[:400]} for o in outcomes],
    )


def marking_linked(outcomes: Sequence[LinkOutcome]) -> CasePart:
    """`mark_linked` as a part of a case command's transaction (`CaseService.execute(also=)`)."""
    chosen = tuple(outcomes)

    async def part(session: AsyncSession, _records: Sequence[Recorded], _case: Case) -> None:
        await mark_linked(session, chosen)

    return part


async def write_linked(db: Database, outcomes: Sequence[LinkOutcome]) -> None:
    """`mark_linked` in a transaction of its own (rows no case command was recorded with)."""
    chosen = tuple(outcomes)

    async def job(session: AsyncSession) -> None:
        await mark_linked(session, chosen)

    await db.write(job)


async def unmatched(db: Database, *, limit: int = 1000) -> list[UnmatchedInstance]:
    """Stored instances that match no case, oldest first (for the CLI)."""

    async def read(session: AsyncSession) -> list[UnmatchedInstance]:
        rows = await session.exec(
            select(DicomInstanceRow)
            .where(col(DicomInstanceRow.case_id).is_(None))
            .order_by(col(DicomInstanceRow.received_at), col(DicomInstanceRow.id))
            .limit(limit)
        )
        return [
            UnmatchedInstance(
                received_at=r.received_at,
                sop_instance_uid=r.sop_instance_uid,
                sop_class_uid=r.sop_class_uid,
                modality=r.modality,
                patient_id=r.patient_id,
                accession=r.accession,
                calling_ae=r.calling_ae,
            )
            for r in rows
        ]

    async with db.session() as session:
        return await read(session)


async def instance_case(session: AsyncSession, sop_instance_uid: str) -> InstanceCase | None:
    """The case an instance is on now; None when no such instance is stored."""
    row = (
        await session.exec(
            select(DicomInstanceRow).where(DicomInstanceRow.sop_instance_uid == sop_instance_uid)
        )
    ).first()
    return None if row is None else InstanceCase(row.case_id, row.match_rule)


async def move_instance(
    session: AsyncSession, sop_instance_uid: str, *, case_id: str, match_rule: str
) -> None:
    """Put a stored instance and its dose reports on `case_id`, to be told to it again by the
    linker (in the caller's transaction)."""
    row = (
        await session.exec(
            select(DicomInstanceRow).where(DicomInstanceRow.sop_instance_uid == sop_instance_uid)
        )
    ).one()
    row.case_id = case_id
    row.match_rule = match_rule
    row.linked = False
    session.add(row)
    reports = await session.exec(
        select(DicomDoseReportRow).where(DicomDoseReportRow.object_uid == sop_instance_uid)
    )
    for report in reports:
        report.case_id = case_id
        session.add(report)
    await session.flush()
