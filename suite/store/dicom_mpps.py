"""Modality Performed Procedure Steps as the modality last set them (table in
suite/store/dicom.py), each with its dose report in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.dose import DoseReport
from suite.store.database import Database
from suite.store.dicom import MppsRow
from suite.store.dicom_dose import save_report

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewMpps:
    """A step as the N-CREATE gave it (longer texts are cut to the columns)."""

    mpps_uid: str
    case_id: str | None
    match_rule: str | None
    status: str
    calling_ae: str
    station_ae: str
    accession: str
    study_uid: str
    patient_id: str
    fluoro_time_s: float | None
    dap_gy_cm2: float | None
    air_kerma_mgy: float | None
    exposures: int | None
    attributes: dict[str, Any]
    """Every attribute the modality sent (DICOM JSON model)."""
    at: datetime


@dataclass(frozen=True, slots=True)
class StoredMpps:
    """A step as stored before an N-SET changes it."""

    mpps_uid: str
    case_id: str | None
    match_rule: str | None
    status: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MppsChange:
    """What an N-SET makes of a stored step."""

    status: str
    fluoro_time_s: float | None
    dap_gy_cm2: float | None
    air_kerma_mgy: float | None
    exposures: int | None
    attributes: dict[str, Any]
    report: DoseReport | None
    """The dose the step now states, if any (saved with the step)."""


async def add_mpps(db: Database, new: NewMpps, *, report: DoseReport | None) -> bool:
    """Store a new step and its dose report in one transaction; False (nothing written) when a
    step with that UID exists already, also when another writer stored it at the same time."""

    async def job(session: AsyncSession) -> bool:
        if await session.get(MppsRow, new.mpps_uid) is not None:
            return False
        try:
            # A savepoint, so a step another instance inserted first fails only this insert.
            async with session.begin_nested():
                session.add(
                    MppsRow(
                        mpps_uid=new.mpps_uid,
                        case_id=new.case_id,
                        match_rule=new.match_rule,
                        status=new.status,
                        calling_ae=new.calling_ae,
                        station_ae=new.station_ae[:16],
                        accession=new.accession[:64],
                        study_uid=new.study_uid[:64],
                        patient_id=new.patient_id[:64],
                        fluoro_time_s=new.fluoro_time_s,
                        dap_gy_cm2=new.dap_gy_cm2,
                        air_kerma_mgy=new.air_kerma_mgy,
                        exposures=new.exposures,
                        attributes=new.attributes,
                        created_at=new.at,
                        updated_at=new.at,
                    )
                )
        except IntegrityError:
            return False
        if report is not None:
            await save_report(
                session,
                report,
                case_id=new.case_id,
                device=new.calling_ae,
                object_uid=new.mpps_uid,
                at=new.at,
            )
        await session.flush()
        return True

    return await db.write(job)


async def change_mpps(
    db: Database,
    mpps_uid: str,
    change: Callable[[StoredMpps], tuple[MppsChange, T]],
    *,
    device: str,
    at: datetime,
) -> tuple[StoredMpps, T] | None:
    """Apply `change` to a stored step in one transaction (read, decide, write: no other N-SET
    slips in between); returns the step as it was and what `change` returned with its
    `MppsChange`, or None when there is no such step. An error `change` raises leaves the step
    as it was and comes back to the caller."""

    async def job(session: AsyncSession) -> tuple[StoredMpps, T] | None:
        row = await session.get(MppsRow, mpps_uid)
        if row is None:
            return None
        before = StoredMpps(
            mpps_uid=row.mpps_uid,
            case_id=row.case_id,
            match_rule=row.match_rule,
            status=row.status,
            attributes=row.attributes,
        )
        update, result = change(before)
        row.status = update.status
        row.fluoro_time_s = update.fluoro_time_s
        row.dap_gy_cm2 = update.dap_gy_cm2
        row.air_kerma_mgy = update.air_kerma_mgy
        row.exposures = update.exposures
        row.attributes = update.attributes
        row.updated_at = at
        session.add(row)
        if update.report is not None:
            await save_report(
                session, update.report, case_id=row.case_id, device=device,
                object_uid=mpps_uid, at=at,
            )  # fmt: skip
        return before, result

    return await db.write(job)


async def cases_with_status(db: Database, statuses: Iterable[str]) -> set[str]:
    """The cases that have a step in one of `statuses`."""
    wanted = list(statuses)

    async def read(session: AsyncSession) -> set[str]:
        found = await session.exec(
            select(MppsRow.case_id).where(
                col(MppsRow.status).in_(wanted), col(MppsRow.case_id).is_not(None)
            )
        )
        return {case_id for case_id in found if case_id}

    async with db.session() as session:
        return await read(session)
