"""The inbound journal: stores each received message with its ACK in the same durable step as
its effect, and recognises repeats.

Two ways in, both one durable step per message:
- `stage(case_id, ...)` before a case command: the case service's transaction hook (`hook`)
  writes the message row (and the order's HL7 keys, and the patient) in the transaction that
  appends the case's events. Only HL7-sourced commands pick up a staged row, and the caller
  holds the case's lock, so the row lands with exactly its own command.
- `write(item)` for everything else (ADT registry changes, ignored orders, AE / AR answers):
  a bounded queue drained by `run()`, which stores everything queued so far in one
  `Database.write` job (executemany) — group commit on top of the store's group commit.
  When the queue is full, callers wait (back-pressure reaches the sending socket).

Repeats: the (sending application, facility, MSH-10) of every accepted (AA) message is unique
in the table and remembered in a bounded in-memory index (`duplicate_memory` keys, loaded at
start), so a repeat is answered with the stored ACK without a lookup of every new message.
AE / AR answers are not remembered: a sender that fixed the cause may send the same message
again and have it processed. A repeat older than the index still hits the unique constraint,
which rolls its effect back with the row.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.hl7.registry import PatientRecord, Registry, RegistryChange
from suite.domain.case import Case
from suite.domain.envelope import Recorded, Source
from suite.store import hl7 as store
from suite.store.database import Database, StoreError

log = logging.getLogger(__name__)

Key = tuple[str, str, str]


@dataclass(slots=True)
class Entry:
    """One inbound row: the message as received and the answer it got."""

    received_at: datetime
    peer: str
    raw: bytes
    key: Key | None = None
    message_type: str = ""
    version: str = ""
    ack_code: str | None = None
    ack_text: str = ""
    ack_raw: bytes | None = None
    result: str = ""
    case_id: str | None = None

    def params(self) -> dict[str, Any]:
        app, facility, control_id = self.key or ("", "", "")
        return {
            "received_at": self.received_at,
            "peer": self.peer[:64],
            "sending_application": app[:64],
            "sending_facility": facility[:64],
            "control_id": control_id[:64],
            # Only accepted messages are keys for repeats (see the module doc).
            "accepted_control_id": control_id[:64]
            if self.ack_code == "AA" and control_id
            else None,
            "message_type": self.message_type[:32],
            "version": self.version[:16],
            "raw": self.raw,
            "ack_code": self.ack_code,
            "ack_text": self.ack_text[:1024],
            "ack_raw": self.ack_raw,
            "result": self.result,
            "case_id": self.case_id,
            "repeats": 0,
        }


@dataclass(slots=True)
class Item:
    """One message for the batch writer, with its answer (and the answer when unknown)."""

    entry: Entry
    change: RegistryChange | None = None
    unknown: Entry | None = None
    future: asyncio.Future[Entry] | None = None


@dataclass(slots=True)
class Staged:
    """A row waiting for the case transaction of one HL7 command."""

    actor: str
    entry: Entry
    order: dict[str, Any] | None = None
    patient: PatientRecord | None = None
    written: bool = False


@dataclass
class JournalStats:
    stored: int = 0
    batches: int = 0
    repeats: int = 0
    fallbacks: int = 0


class Journal:
    """Owns the inbound rows: the batch writer, the staged rows and the repeat index."""

    def __init__(self, db: Database, *, memory: int = 100_000, queue_size: int = 10_000):
        self.db = db
        self.memory = memory
        self._queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=queue_size)
        self._index: OrderedDict[Key, asyncio.Future[bytes] | None] = OrderedDict()
        self._staged: dict[str, Staged] = {}
        self.stats = JournalStats()
        self.max_batch = 500
        self.sql = Statements(db.engine.dialect.name)
        self.registry = Registry(db)

    # ---- repeats -------------------------------------------------------------------------

    async def load(self) -> int:
        """Remember the keys of the most recent accepted messages; returns how many."""
        async with self.db.session() as session:
            keys = await store.recent_keys(session, self.memory)
        for app, facility, control_id, _ in reversed(keys):
            self._index[(app, facility, control_id)] = None
        return len(keys)

    async def claim(self, key: Key) -> bytes | None:
        """None when `key` is new (the caller processes it and must call `release`); else the
        ACK to answer the repeat with (waiting for the first copy when it is in flight)."""
        while key in self._index:
            pending = self._index[key]
            if pending is None:
                ack = await self._original_ack(key)
                if ack is not None:
                    return ack
                break
            first = await asyncio.shield(pending)
            if first:
                return first
            # The first copy got no stored answer: this copy is processed on its own.
        self._index[key] = asyncio.get_running_loop().create_future()
        self._index.move_to_end(key)
        while len(self._index) > self.memory:
            oldest, value = next(iter(self._index.items()))
            if value is not None:  # never forget a message in flight
                break
            del self._index[oldest]
        return None

    def release(self, key: Key, entry: Entry, *, stored: bool) -> None:
        """The first copy of `key` is answered: remember it if it was accepted and stored."""
        pending = self._index.get(key)
        if isinstance(pending, asyncio.Future) and not pending.done():
            # A copy that arrived meanwhile gets the same answer only if it is the stored one.
            answer = entry.ack_raw if stored and entry.ack_code == "AA" else None
            pending.set_result(answer or b"")
        if stored and entry.ack_code == "AA":
            self._index[key] = None
        else:
            self._index.pop(key, None)

    async def _original_ack(self, key: Key) -> bytes | None:
        async with self.db.session() as session:
            row = await store.inbound_by_key(session, *key)
        if row is None or row.ack_raw is None:
            return None
        self.stats.repeats += 1
        row_id = row.id

        async def bump(session: AsyncSession) -> None:
            await session.exec(
                update(store.Hl7InboundRow)
                .where(col(store.Hl7InboundRow.id) == row_id)
                .values(repeats=store.Hl7InboundRow.repeats + 1)
            )

        await self.db.write(bump)
        log.info("hl7: repeated control ID %s from %s/%s answered with its ACK", key[2], *key[:2])
        return row.ack_raw

    # ---- staged rows (written by the case transaction) -------------------------------------

    def stage(self, case_id: str, staged: Staged) -> None:
        self._staged[case_id] = staged

    def unstage(self, case_id: str) -> Staged | None:
        return self._staged.pop(case_id, None)

    async def hook(self, session: AsyncSession, records: Sequence[Recorded], case: Case) -> None:
        """CaseService transaction hook: write the staged row of this case's HL7 command."""
        if not records or records[0].source is not Source.HL7:
            return
        staged = self._staged.get(case.case_id)
        if staged is None or staged.actor != records[0].actor:
            return
        sql = self.sql
        await session.exec(sql.inbound, params=staged.entry.params())
        now = staged.entry.received_at
        if staged.order is not None:
            await session.exec(sql.order_upsert, params=staged.order)
        if staged.patient is not None and staged.patient.mrn not in self.registry.patients:
            await session.exec(sql.patient_ensure, params=staged.patient.params(now))
        staged.written = True

    # ---- batch writer ----------------------------------------------------------------------

    async def write(self, item: Item) -> Entry:
        """Store `item` in the next batch; returns the entry that was stored (its answer)."""
        item.future = asyncio.get_running_loop().create_future()
        await self._queue.put(item)
        return await item.future

    async def run(self) -> None:
        """Drain the queue, one `Database.write` per batch; runs until cancelled."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._store(batch)

    async def _store(self, batch: list[Item]) -> None:
        try:
            answers, known = await self.db.write(lambda s: self._write_batch(s, batch))
            self.stats.batches += 1
        except (IntegrityError, StoreError) as exc:
            if len(batch) == 1:
                self._fail(batch[0], exc)
                return
            # One item broke the batch (a repeat older than the index, most likely):
            # store each on its own so only that one fails.
            self.stats.fallbacks += 1
            for item in batch:
                await self._store([item])
            return
        except (
            Exception
        ) as exc:  # a database or coding error fails these messages (AR), not the listener
            log.exception("hl7: storing %d inbound messages failed", len(batch))
            for item in batch:
                self._fail(item, exc)
            return
        for record in known:
            self.registry.remember(record)
        for item, entry in zip(batch, answers, strict=True):
            self.stats.stored += 1
            if item.future is not None and not item.future.done():
                item.future.set_result(entry)

    async def _write_batch(
        self, session: AsyncSession, batch: list[Item]
    ) -> tuple[list[Entry], list[PatientRecord]]:
        """Store a batch in order; returns each item's answer and the patients now known."""
        sql = self.sql
        now = batch[-1].entry.received_at
        must = {
            i.change.must_exist
            for i in batch
            if i.change
            and i.change.must_exist
            and i.change.must_exist not in self.registry.patients
        }
        known: set[str] = {m for i in batch if i.change and (m := i.change.must_exist)} - must
        if must:
            found = await session.exec(
                select(store.Hl7PatientRow.mrn).where(col(store.Hl7PatientRow.mrn).in_(must))
            )
            known |= set(found)
        answers: list[Entry] = []
        records: list[PatientRecord] = []
        runs: list[tuple[Any, list[dict[str, Any]]]] = []
        for item in batch:
            change = item.change
            if change is not None and change.must_exist and change.must_exist not in known:
                answers.append(item.unknown or item.entry)
                continue
            answers.append(item.entry)
            if change is None:
                continue
            if change.kind == "merge" and change.prior:
                runs.append(
                    (
                        sql.patient_merge,
                        [{"prior": change.prior, "into": change.patient.mrn, "now": now}],
                    )
                )
            if change.kind == "ensure":
                stmt = sql.patient_ensure
            elif change.patient.allergies:
                stmt = sql.patient_upsert
            else:
                stmt = sql.patient_upsert_keep_allergies
            params = change.patient.params(now)
            # One statement must not upsert the same key twice (PostgreSQL refuses it).
            if runs and runs[-1][0] is stmt and all(p["mrn"] != params["mrn"] for p in runs[-1][1]):
                runs[-1][1].append(params)
            else:
                runs.append((stmt, [params]))
            known.add(change.patient.mrn)
            records.append(change.patient)
        for stmt, params_list in runs:
            await session.exec(stmt, params=params_list)
        await session.exec(sql.inbound, params=[a.params() for a in answers])
        return answers, records

    def _fail(self, item: Item, exc: Exception) -> None:
        if item.future is not None and not item.future.done():
            item.future.set_exception(exc)


class Statements:
    """The journal's statements, built once per dialect (building them per message costs more
    than running them)."""

    def __init__(self, dialect: str) -> None:
        insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
        patients = store.Hl7PatientRow.__table__  # type: ignore[attr-defined]
        orders = store.Hl7OrderRow.__table__  # type: ignore[attr-defined]
        self.inbound = insert(store.Hl7InboundRow.__table__)  # type: ignore[attr-defined]
        up = insert_fn(patients)
        every = [c.name for c in patients.columns if c.name != "mrn"]
        self.patient_upsert = up.on_conflict_do_update(
            index_elements=["mrn"], set_={c: up.excluded[c] for c in every}
        )
        # A message without AL1 segments says nothing about allergies: keep the stored ones.
        self.patient_upsert_keep_allergies = up.on_conflict_do_update(
            index_elements=["mrn"], set_={c: up.excluded[c] for c in every if c != "allergies"}
        )
        self.patient_ensure = insert_fn(patients).on_conflict_do_nothing(index_elements=["mrn"])
        self.patient_merge = (
            update(patients)
            .where(patients.c.mrn == bindparam("prior"))
            .values(merged_into=bindparam("into"), updated_at=bindparam("now"))
        )
        oup = insert_fn(orders)
        self.order_upsert = oup.on_conflict_do_update(
            index_elements=["accession"],
            set_={c.name: oup.excluded[c.name] for c in orders.columns if c.name != "accession"},
        )
