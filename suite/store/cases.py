"""The case event log: append with optimistic concurrency, load for replay, list for people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.case import Case
from suite.domain.codec import event_from_data, event_to_data
from suite.domain.envelope import Recorded, Source
from suite.domain.values import Phase
from suite.store.database import ConcurrencyError
from suite.store.sqlite_driver import StepFailed, execute_all
from suite.store.tables import CaseEventRow, CaseRow


@dataclass(frozen=True, slots=True)
class Append:
    """New events of one case, appended only if the case is still at `expected_version`."""

    records: Sequence[Recorded]
    expected_version: int
    state: Case
    recorded_at: datetime


# Core statements on the tables, built once: the ORM's bulk paths cost more per call than the
# statements do (issue 18's profile of new-case HL7 orders).
_CASES = CaseRow.__table__  # type: ignore[attr-defined]
_EVENTS = CaseEventRow.__table__  # type: ignore[attr-defined]
_INSERT_CASE = insert(_CASES)
_INSERT_EVENTS = insert(_EVENTS)
_UPDATE_CASE = (
    update(_CASES)
    .where(_CASES.c.case_id == bindparam("b_case_id"), _CASES.c.version == bindparam("b_expected"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "accession",
                "mrn",
                "room",
                "procedure",
                "phase",
                "version",
                "scheduled_at",
                "updated_at",
            )
        }
    )
)


async def append(
    session: AsyncSession,
    *,
    records: Sequence[Recorded],
    expected_version: int,
    state: Case,
    recorded_at: datetime,
) -> None:
    """Append `records` to a case whose stored version must be `expected_version`."""
    await append_many(session, [Append(records, expected_version, state, recorded_at)])


async def append_many(session: AsyncSession, appends: Sequence[Append]) -> None:
    """Append the events of several cases (one case at most once): new cases in one insert,
    every event in one insert. Raises `ConcurrencyError` naming the first case whose stored
    version is not the expected one (then nothing of the transaction may be committed)."""
    appends = [a for a in appends if a.records]
    if not appends:
        return
    conn = await session.connection()
    new_cases: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for a in appends:
        state = a.state
        projection = {
            "accession": state.order.accession,
            "mrn": state.patient.mrn,
            "room": state.room,
            "procedure": state.procedure.value,
            "phase": state.phase.value,
            "version": state.version,
            "scheduled_at": state.scheduled_at,
            "updated_at": a.recorded_at,
        }
        if a.expected_version == 0:
            projection["case_id"] = state.case_id
            new_cases.append(projection)
        else:
            # The version check and the projection update are one statement: a second
            # writer that read the same version finds no row to update.
            projection["b_case_id"] = state.case_id
            projection["b_expected"] = a.expected_version
            try:
                updated = await conn.execute(_UPDATE_CASE, projection)
            except IntegrityError as exc:
                raise ConcurrencyError(
                    f"case {state.case_id}: another writer appended first"
                ) from exc
            if updated.rowcount != 1:
                raise ConcurrencyError(
                    f"case {state.case_id} is no longer at version {a.expected_version}:"
                    " reload and retry"
                )
        for record in a.records:
            kind, payload = event_to_data(record.event)
            events.append(
                {
                    "case_id": state.case_id,
                    "seq": record.seq,
                    "at": record.event.at,
                    "kind": kind,
                    "actor": record.actor,
                    "source": record.source.value,
                    "payload": payload,
                    "recorded_at": a.recorded_at,
                }
            )
    steps = [(_INSERT_CASE, new_cases)] if new_cases else []
    try:
        await execute_all(conn, [*steps, (_INSERT_EVENTS, events)])  # one trip on SQLite
    except StepFailed as failed:
        if not isinstance(failed.error, IntegrityError):
            raise failed.error from None
        which = appends[0].state.case_id if len(appends) == 1 else "one of the cases"
        raise ConcurrencyError(f"case {which}: another writer appended first") from failed.error


def _record(row: CaseEventRow) -> Recorded:
    return Recorded(
        case_id=row.case_id,
        seq=row.seq,
        event=event_from_data(row.kind, row.payload),
        actor=row.actor,
        source=Source(row.source),
    )


async def load(session: AsyncSession, case_id: str, *, after_seq: int = 0) -> list[Recorded]:
    """A case's events in order (those after `after_seq`)."""
    rows = await session.exec(
        select(CaseEventRow)
        .where(CaseEventRow.case_id == case_id, CaseEventRow.seq > after_seq)
        .order_by(col(CaseEventRow.seq))
    )
    return [_record(r) for r in rows]


async def load_all(session: AsyncSession, *, open_only: bool = False) -> dict[str, list[Recorded]]:
    """Every case's events, grouped by case, each in order."""
    query = select(CaseEventRow).order_by(col(CaseEventRow.case_id), col(CaseEventRow.seq))
    if open_only:
        open_ids = select(CaseRow.case_id).where(
            col(CaseRow.phase).not_in(["discharged", "cancelled", "aborted"])
        )
        query = query.where(col(CaseEventRow.case_id).in_(open_ids))
    grouped: dict[str, list[Recorded]] = {}
    for row in await session.exec(query):
        grouped.setdefault(row.case_id, []).append(_record(row))
    return grouped


async def list_rows(session: AsyncSession) -> list[CaseRow]:
    rows = await session.exec(select(CaseRow).order_by(col(CaseRow.scheduled_at)))
    return list(rows)


async def event_rows(session: AsyncSession, case_id: str) -> list[CaseEventRow]:
    rows = await session.exec(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(col(CaseEventRow.seq))
    )
    return list(rows)


FINAL_PHASES = tuple(p.value for p in Phase if p.is_final)


async def open_versions(
    session: AsyncSession, rooms: Sequence[str], *, also: Sequence[str] = ()
) -> dict[str, int]:
    """Stored version of every open case in `rooms`, and of the cases `also` names whatever
    their phase (to notice that another process ended them)."""
    query = select(CaseRow.case_id, CaseRow.version).where(
        col(CaseRow.room).in_(list(rooms)), col(CaseRow.phase).not_in(FINAL_PHASES)
    )
    found = {case_id: version for case_id, version in await session.exec(query)}
    if also:
        extra = select(CaseRow.case_id, CaseRow.version).where(col(CaseRow.case_id).in_(list(also)))
        found.update({case_id: version for case_id, version in await session.exec(extra)})
    return found


async def room_of(session: AsyncSession, ref: str) -> str | None:
    """The room of a case by its id or accession number (None: no such case)."""
    query = select(CaseRow.room).where(
        (col(CaseRow.case_id) == ref) | (col(CaseRow.accession) == ref)
    )
    return (await session.exec(query)).first()
