"""Writing received HL7 messages: the message row with its ACK, and what it changes in the
patient registry and the order keys, in one transaction.

Two ways in (adapters/hl7/journal.py decides which):
- `InboundStore.with_case(...)`: a transaction part for `CaseService.execute(..., also=...)`,
  so the message row (and its order's HL7 keys, and the patient) commits with the case events
  the message caused.
- `InboundStore.write_batch(...)`: many messages that change no case (ADT registry changes,
  ignored orders, AE / AR answers) in one statement per kind (executemany).

The (sending application, facility, accepted MSH-10) of an accepted message is unique; a
second copy raises `DuplicateMessage` and its transaction is rolled back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from suite.domain.case import Case
from suite.domain.envelope import Recorded
from suite.store.database import Database, StoreError
from suite.store.deferred import deferred_of
from suite.store.hl7 import Hl7InboundRow, Hl7OrderRow, Hl7PatientRow
from suite.store.sqlite_driver import StepFailed, execute_all

# Column values of one row, by column name (built by the HL7 adapter's journal).
Values = Mapping[str, Any]
# A part of a case transaction (the signature of `suite.app.case_service.TransactionPart`).
CasePart = Callable[[AsyncSession, Sequence[Recorded], Case], Awaitable[None]]


class DuplicateMessage(StoreError):
    """A message with the same sending application, facility and MSH-10 was accepted before;
    nothing of this one was stored."""


@dataclass(frozen=True, slots=True)
class PatientChange:
    """What one message does to the patient registry.

    `kind`: "upsert" (register or update; stored allergies are kept when `patient` has
    none), "ensure" (insert when absent) or "merge" (`prior` merged into `patient`, which is
    upserted). With `must_exist`, the change applies only when that MRN is registered.
    """

    kind: Literal["upsert", "ensure", "merge"]
    patient: Values
    prior: str | None = None
    must_exist: str | None = None


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One message for `write_batch`: its row, its registry change, and the row stored
    instead when the change's `must_exist` patient is not registered."""

    message: Values
    change: PatientChange | None = None
    unknown: Values | None = None


class InboundStore:
    """The statements for the inbound rows, built once per dialect (building them per message
    costs more than running them)."""

    def __init__(self, dialect: str) -> None:
        insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
        patients = Hl7PatientRow.__table__  # type: ignore[attr-defined]
        orders = Hl7OrderRow.__table__  # type: ignore[attr-defined]
        self._inbound = insert(Hl7InboundRow.__table__)  # type: ignore[attr-defined]
        up = insert_fn(patients)
        every = [c.name for c in patients.columns if c.name != "mrn"]
        self._patient_upsert = up.on_conflict_do_update(
            index_elements=["mrn"], set_={c: up.excluded[c] for c in every}
        )
        # A message without AL1 segments says nothing about allergies: keep the stored ones.
        self._patient_upsert_keep_allergies = up.on_conflict_do_update(
            index_elements=["mrn"], set_={c: up.excluded[c] for c in every if c != "allergies"}
        )
        self._patient_ensure = insert_fn(patients).on_conflict_do_nothing(index_elements=["mrn"])
        self._patient_merge = (
            update(patients)
            .where(patients.c.mrn == bindparam("prior"))
            .values(merged_into=bindparam("into"), updated_at=bindparam("now"))
        )
        oup = insert_fn(orders)
        self._order_upsert = oup.on_conflict_do_update(
            index_elements=["accession"],
            set_={c.name: oup.excluded[c.name] for c in orders.columns if c.name != "accession"},
        )

    @classmethod
    def for_database(cls, db: Database) -> InboundStore:
        return cls(db.engine.dialect.name)

    # ---- with a case command ------------------------------------------------------------

    def with_case(
        self,
        message: Values,
        *,
        order: Values | None = None,
        patient: Values | None = None,
    ) -> CasePart:
        """A transaction part that stores `message` (and upserts `order`'s HL7 keys, and
        inserts `patient` when the registry lacks it) with the case's events."""

        async def part(session: AsyncSession, records: Sequence[Recorded], case: Case) -> None:
            await self.record(session, message, order=order, patient=patient)

        return part

    async def record(
        self,
        session: AsyncSession,
        message: Values,
        *,
        order: Values | None = None,
        patient: Values | None = None,
    ) -> None:
        """Store one message row, its order's keys and (if absent) its patient; in a case
        transaction that collects rows (suite/store/deferred.py), once for all its cases.

        Raises `DuplicateMessage` when the message was accepted before.
        """
        deferred = deferred_of(session)
        if deferred is None:
            await self._insert_messages(session, [message])
            conn = await session.connection()
            if order is not None:
                await conn.execute(self._order_upsert, order)
            if patient is not None:
                await conn.execute(self._patient_ensure, patient)
            return
        deferred.add(self._inbound, message, on_conflict=_duplicate)
        if order is not None:
            deferred.add(self._order_upsert, order, key=order["accession"])
        if patient is not None:
            deferred.add(self._patient_ensure, patient, key=patient["mrn"])

    # ---- without one ----------------------------------------------------------------------

    async def write_batch(
        self,
        session: AsyncSession,
        items: Sequence[BatchItem],
        *,
        registered: Collection[str],
        now: datetime,
    ) -> list[bool]:
        """Store `items` in order; returns, per item, whether its change applied (False: its
        `must_exist` patient is not registered and its `unknown` row was stored instead).

        `registered` are MRNs known to be registered (the rest are looked up). Raises
        `DuplicateMessage` when one of the messages was accepted before (nothing is stored).
        """
        must = {
            m
            for i in items
            if i.change and (m := i.change.must_exist) is not None and m not in registered
        }
        known: set[str] = {m for i in items if i.change and (m := i.change.must_exist)} - must
        if must:
            found = await session.exec(
                select(Hl7PatientRow.mrn).where(col(Hl7PatientRow.mrn).in_(must))
            )
            known |= set(found)
        applied: list[bool] = []
        rows: list[Values] = []
        runs: list[tuple[Any, list[Values]]] = []
        for item in items:
            change = item.change
            if change is not None and change.must_exist and change.must_exist not in known:
                applied.append(False)
                rows.append(item.unknown or item.message)
                continue
            applied.append(True)
            rows.append(item.message)
            if change is None:
                continue
            mrn = change.patient["mrn"]
            if change.kind == "merge" and change.prior:
                runs.append(
                    (self._patient_merge, [{"prior": change.prior, "into": mrn, "now": now}])
                )
            if change.kind == "ensure":
                stmt = self._patient_ensure
            elif change.patient["allergies"]:
                stmt = self._patient_upsert
            else:
                stmt = self._patient_upsert_keep_allergies
            # One statement must not upsert the same key twice (PostgreSQL refuses it).
            if runs and runs[-1][0] is stmt and all(p["mrn"] != mrn for p in runs[-1][1]):
                runs[-1][1].append(change.patient)
            else:
                runs.append((stmt, [change.patient]))
            known.add(mrn)
        conn = await session.connection()
        try:
            # The patient rows and the message rows in one trip on SQLite.
            await execute_all(conn, [*runs, (self._inbound, rows)])
        except StepFailed as failed:
            if failed.index == len(runs) and isinstance(failed.error, IntegrityError):
                raise _duplicate(failed.error) from failed.error
            raise failed.error from None
        return applied

    async def _insert_messages(self, session: AsyncSession, rows: Sequence[Values]) -> None:
        conn = await session.connection()
        try:
            await conn.execute(self._inbound, list(rows))
        except IntegrityError as exc:
            raise _duplicate(exc) from exc


def _duplicate(exc: IntegrityError) -> DuplicateMessage:
    return DuplicateMessage(
        "a message with this sending application, facility and control ID was accepted before"
    )


# ---- reads and small writes -------------------------------------------------------------------


async def add_repeat(session: AsyncSession, row_id: int) -> None:
    """Count one more repeat of inbound message `row_id`."""
    await session.exec(
        update(Hl7InboundRow)
        .where(col(Hl7InboundRow.id) == row_id)
        .values(repeats=Hl7InboundRow.repeats + 1)
    )


async def patient(session: AsyncSession, mrn: str) -> Hl7PatientRow | None:
    """The registered patient `mrn` (None: not registered)."""
    return await session.get(Hl7PatientRow, mrn)


async def inbound_row(session: AsyncSession, row_id: int) -> Hl7InboundRow | None:
    """Inbound message `row_id` (None: no such row)."""
    return await session.get(Hl7InboundRow, row_id)
