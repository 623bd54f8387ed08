"""The inbound journal: stores each received message with its ACK in the same durable step as
its effect, and recognises repeats.

Two ways in, both one durable step per message:
- `with_case(entry, ...)` for a message that causes a case command: a transaction part the
  inbound processor passes to `CaseService.execute(..., also=[...])`, so the message row (and
  the order's HL7 keys, and the patient) commits with the case events it caused.
- `write(item)` for everything else (ADT registry changes, ignored orders, AE / AR answers):
  a bounded queue drained by `run()`, which stores everything queued so far in one
  `Database.write` job (executemany) — group commit on top of the store's group commit.
  When the queue is full, callers wait (back-pressure reaches the sending socket).

Repeats: the (sending application, facility, MSH-10) of every accepted (AA) message is unique
in the table and remembered in a bounded in-memory index (`duplicate_memory` keys, loaded at
start), so a repeat is answered with the stored ACK without a lookup of every new message.
AE / AR answers are not remembered: a sender that fixed the cause may send the same message
again and have it processed. A repeat older than the index still hits the unique constraint,
which rolls its effect back with the row (`DuplicateMessage`).

The statements are in suite/store/hl7_inbound.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.hl7.registry import PatientRecord, Registry, RegistryChange
from suite.store import hl7 as store
from suite.store import hl7_inbound
from suite.store.database import Database, StoreError
from suite.store.hl7_inbound import BatchItem, CasePart, InboundStore, PatientChange

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


@dataclass
class JournalStats:
    stored: int = 0
    batches: int = 0
    repeats: int = 0
    fallbacks: int = 0


class Journal:
    """Owns the inbound rows: the batch writer, the case transaction part and the repeat
    index."""

    def __init__(self, db: Database, *, memory: int = 100_000, queue_size: int = 10_000):
        self.db = db
        self.memory = memory
        self._queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=queue_size)
        self._index: OrderedDict[Key, asyncio.Future[bytes] | None] = OrderedDict()
        self.stats = JournalStats()
        self.max_batch = 500
        self.rows = InboundStore.for_database(db)
        self.registry = Registry(db)

    # ---- repeats -------------------------------------------------------------------------

    async def load(self) -> int:
        """Remember the keys of the most recent accepted messages; returns how many."""
        keys = await self.db.read(lambda s: store.recent_keys(s, self.memory))
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
        row = await self.db.read(lambda s: store.inbound_by_key(s, *key))
        if row is None or row.ack_raw is None or row.id is None:
            return None
        self.stats.repeats += 1
        row_id = row.id
        await self.db.write(lambda s: hl7_inbound.add_repeat(s, row_id))
        log.info("hl7: repeated control ID %s from %s/%s answered with its ACK", key[2], *key[:2])
        return row.ack_raw

    # ---- with a case command ---------------------------------------------------------------

    def with_case(
        self,
        entry: Entry,
        *,
        order: dict[str, Any] | None = None,
        patient: PatientRecord | None = None,
    ) -> CasePart:
        """The transaction part that stores `entry` (and the order's HL7 keys, and the patient
        unless the registry has it) with the case events of the command it causes."""
        if patient is not None and patient.mrn in self.registry.patients:
            patient = None
        return self.rows.with_case(
            entry.params(),
            order=order,
            patient=patient.params(entry.received_at) if patient is not None else None,
        )

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
            answers, known = await self._write_batch(batch)
            self.stats.batches += 1
        except StoreError as exc:
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

    async def _write_batch(self, batch: list[Item]) -> tuple[list[Entry], list[PatientRecord]]:
        """Store a batch in order; returns each item's answer and the patients now known."""
        now = batch[-1].entry.received_at
        items = [
            BatchItem(
                message=i.entry.params(),
                change=_change(i.change, now) if i.change is not None else None,
                unknown=i.unknown.params() if i.unknown is not None else None,
            )
            for i in batch
        ]
        registered = self.registry.patients
        applied = await self.db.write(
            lambda s: self.rows.write_batch(s, items, registered=registered, now=now)
        )
        answers: list[Entry] = []
        records: list[PatientRecord] = []
        for item, ok in zip(batch, applied, strict=True):
            if not ok:
                answers.append(item.unknown or item.entry)
                continue
            answers.append(item.entry)
            if item.change is not None:
                records.append(item.change.patient)
        return answers, records

    def _fail(self, item: Item, exc: Exception) -> None:
        if item.future is not None and not item.future.done():
            item.future.set_exception(exc)


def _change(change: RegistryChange, now: datetime) -> PatientChange:
    return PatientChange(
        change.kind,
        change.patient.params(now),
        prior=change.prior,
        must_exist=change.must_exist,
    )
