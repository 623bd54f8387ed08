"""The inbound processor: one message's bytes in, its ACK's bytes out, after the effect is
durable.

Steps: decode and read MSH (AR when it cannot be read or is not supported) -> a repeat of an
accepted message? answer its stored ACK -> read the body (AE naming the field when content is
wrong) -> apply: ADT changes the patient registry and the patient on open cases; orders and
appointments schedule, change or cancel cases -> store the message and its ACK in the same
durable step as the effect (`Journal`) -> answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import TypeVar

from adapters.hl7.ack import Addressing, build_ack
from adapters.hl7.case_index import CaseIndex
from adapters.hl7.errors import (
    APPLICATION_INTERNAL_ERROR,
    APPLICATION_RECORD_LOCKED,
    UNKNOWN_KEY_IDENTIFIER,
    ContentError,
    Hl7Error,
    Location,
    Rejected,
)
from adapters.hl7.header import check_header, read_header
from adapters.hl7.journal import Entry, Item, Journal
from adapters.hl7.locks import KeyedLocks
from adapters.hl7.mapping import merge_patient, patient_of, procedure_of
from adapters.hl7.messages import AdtMessage, Header, OrderMessage
from adapters.hl7.orders import CANCEL_ACTIONS, OrderRules, Plan, plan_order
from adapters.hl7.parse import read_body
from adapters.hl7.registry import PatientRecord, RegistryChange
from suite.app.case_service import CaseService, Clock
from suite.domain import commands as c
from suite.domain.case import Case
from suite.domain.envelope import Source
from suite.domain.errors import CaseClosed, DomainError, GuardError, PhaseError
from suite.domain.values import Patient
from suite.store import hl7 as store
from suite.store.database import StoreError
from suite.store.hl7_inbound import DuplicateMessage

log = logging.getLogger(__name__)

T = TypeVar("T")
PARSE_THREADS = 2  # messages parsed at once off the loop; more wait (within their budget)

ADT_WORDS = {"A01": "admitted", "A04": "registered", "A08": "updated"}


@dataclass
class InboundStats:
    messages: int = 0
    accepted: int = 0
    errors: int = 0
    rejected: int = 0
    repeats: int = 0
    ignored: int = 0
    not_stored: int = 0
    slow: int = 0  # messages not read within the parse budget
    off_loop: int = 0  # parse steps run in the worker threads (large messages)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who we are in MSH-3 / MSH-4 of our ACKs."""

    application: str
    facility: str


class InboundProcessor:
    def __init__(
        self,
        *,
        cases: CaseService,
        journal: Journal,
        identity: Identity,
        rules: OrderRules,
        zone: tzinfo,
        default_charset: str,
        processing_ids: Sequence[str],
        clock: Clock,
        parse_thread_bytes: int = 65_536,
        parse_budget_s: float = 5.0,
    ) -> None:
        self.cases = cases
        self.journal = journal
        self.identity = identity
        self.rules = rules
        self.zone = zone
        self.default_charset = default_charset
        self.processing_ids = tuple(processing_ids)
        self.clock = clock
        self.stats = InboundStats()
        # Planning an order and running its commands is one step per accession, so two
        # copies of a new order do not both schedule a case. Each case's commands are
        # serialised by the case service itself.
        self._accession_locks = KeyedLocks()
        self.index = CaseIndex(cases)
        # Parsing is pure CPU (python-hl7 builds a tree of every component): a large message
        # is parsed in this small pool, so the event loop keeps serving everyone else.
        self.parse_thread_bytes = parse_thread_bytes
        self.parse_budget_s = parse_budget_s
        self._parsers = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="hl7-parse")

    async def _parse(self, size: int, read: Callable[..., T], *args: object, **kw: object) -> T:
        """`read(*args, **kw)`, off the loop and within the time budget for a large message;
        `Rejected` (AR) when the budget is spent (the thread finishes in the background)."""
        if size <= self.parse_thread_bytes:
            return read(*args, **kw)
        self.stats.off_loop += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._parsers, functools.partial(read, *args, **kw))
        try:
            async with asyncio.timeout(self.parse_budget_s):
                return await future
        except TimeoutError:
            self.stats.slow += 1
            raise Rejected(
                Location("MSH"),
                f"message of {size} bytes could not be read within {self.parse_budget_s:g} s",
                code=APPLICATION_INTERNAL_ERROR,
            ) from None

    # ---- the entry point -----------------------------------------------------------------

    async def handle(self, raw: bytes, *, peer: str) -> bytes:
        """The ACK (unframed bytes) to one message, sent only after its effect is durable."""
        self.stats.messages += 1
        received = self.clock()
        try:
            header, segs = await self._parse(
                len(raw), read_header, raw, default_charset=self.default_charset, zone=self.zone
            )
        except Rejected as exc:
            entry = Entry(received_at=received, peer=peer, raw=raw)
            return await self._answer_error(entry, Addressing.guess(raw), exc)
        entry = Entry(
            received_at=received,
            peer=peer,
            raw=raw,
            key=header.key,
            message_type=header.message_type,
            version=header.version,
        )
        to = Addressing.of(header)
        try:
            check_header(header, processing_ids=self.processing_ids)
        except Rejected as exc:
            return await self._answer_error(entry, to, exc)
        repeat = await self.journal.claim(header.key)
        if repeat is not None:
            self.stats.repeats += 1
            return repeat
        final = entry
        stored = False
        try:
            try:
                message = await self._parse(len(raw), read_body, header, segs, zone=self.zone)
                if isinstance(message, AdtMessage):
                    final = await self._adt(message, entry, to)
                else:
                    final = await self._orders(message, entry, to)
            except Hl7Error as exc:
                final = await self._store_error(entry, to, exc)
            stored = True
        except DuplicateMessage:
            # The unique key of accepted messages: a repeat older than the in-memory index.
            # Its effect was rolled back with its row; answer the first copy's ACK.
            original = await self._original(header)
            if original is not None:
                self.stats.repeats += 1
                return original
            final = self._finish(entry, to, "AR", _internal("the message could not be stored"))
        except (StoreError, OSError) as exc:
            log.error("hl7: message %s from %s not stored: %s", header.control_id, peer, exc)
            final = self._not_stored(entry, to)
        finally:
            self.journal.release(header.key, final, stored=stored)
        self._count(final)
        return final.ack_raw or b""

    def internal_error(self, raw: bytes, *, peer: str) -> bytes:
        """The AR for a message whose processing failed unexpectedly (a bug; not stored)."""
        self.stats.messages += 1
        self.stats.rejected += 1
        entry = Entry(received_at=self.clock(), peer=peer, raw=raw)
        error = _internal("internal error while processing the message; send it again")
        return self._finish(entry, Addressing.guess(raw), "AR", error).ack_raw or b""

    async def record_framing_error(self, sample: bytes, text: str, *, peer: str) -> None:
        """Keep a row for IT about bytes that were no MLLP message (no ACK is possible)."""
        entry = Entry(
            received_at=self.clock(), peer=peer, raw=sample, result="framing", ack_text=text
        )
        try:
            await self.journal.write(Item(entry))
        except (StoreError, OSError) as exc:
            log.error("hl7: framing error from %s not stored: %s", peer, exc)

    async def reject_oversize(self, head: bytes, size: int, limit: int, *, peer: str) -> bytes:
        """The AR to a frame larger than `limit` bytes (only its first bytes were kept)."""
        self.stats.messages += 1
        entry = Entry(received_at=self.clock(), peer=peer, raw=head)
        error = Rejected(
            Location("MSH"),
            f"message of {size} bytes exceeds the maximum of {limit} bytes (only the first"
            f" {len(head)} are kept)",
            code=APPLICATION_INTERNAL_ERROR,
        )
        return await self._answer_error(entry, Addressing.guess(head), error)

    # ---- ADT -----------------------------------------------------------------------------

    async def _adt(self, msg: AdtMessage, entry: Entry, to: Addressing) -> Entry:
        patient = patient_of(msg.patient)
        record = PatientRecord(
            mrn=patient.mrn,
            name=patient.name,
            birth_date=patient.birth_date,
            sex=patient.sex.value,
            allergies=patient.allergies,
            identifiers=msg.patient.identifiers,
        )
        actor = _actor(msg.header)
        if msg.event == "A40":
            assert msg.prior_mrn is not None
            prior = msg.prior_mrn.value
            cases = self.index.open_cases_of(prior)
            updated = await self._update_cases(cases, patient, actor, where=msg.prior_mrn.where)
            change = RegistryChange(
                "merge", record, prior=prior, must_exist=None if cases else prior
            )
            text = f"patient {prior} merged into {patient.mrn}"
            unknown_error = ContentError(
                msg.prior_mrn.where,
                f"patient {prior} is not registered",
                code=UNKNOWN_KEY_IDENTIFIER,
            )
        else:
            cases = self.index.open_cases_of(patient.mrn)
            updated = await self._update_cases(cases, patient, actor, where=msg.patient.mrn_where)
            must = patient.mrn if msg.event == "A08" and not cases else None
            change = RegistryChange("upsert", record, must_exist=must)
            text = f"patient {patient.mrn} {ADT_WORDS[msg.event]}"
            unknown_error = ContentError(
                msg.patient.mrn_where,
                f"patient {patient.mrn} is not registered",
                code=UNKNOWN_KEY_IDENTIFIER,
            )
        if updated:
            text += f"; {updated} open case(s) updated"
        final = self._finish(entry, to, "AA", text=text, result="applied")
        # The answer if the registry turns out not to know the patient (decided in the write).
        unknown = self._finish(entry, to, "AE", unknown_error) if change.must_exist else None
        return await self.journal.write(Item(final, change, unknown))

    async def _update_cases(
        self, cases: list[Case], patient: Patient, actor: str, *, where: Location
    ) -> int:
        def update(current: Case) -> c.Command | None:
            # Decided under the case's lock, on what the case holds then.
            merged = merge_patient(patient, current.patient)
            if merged == current.patient or current.phase.is_final:
                return None
            return c.UpdatePatient(at=max(self.clock(), current.last_at), patient=merged)

        updated = 0
        for case in cases:
            try:
                records = await self.cases.execute(
                    case.case_id, update, actor=actor, source=Source.HL7
                )
            except DomainError as exc:
                raise _domain_error(where, case.case_id, exc) from exc
            updated += 1 if records else 0
        return updated

    # ---- orders and appointments -------------------------------------------------------------

    async def _orders(self, msg: OrderMessage, entry: Entry, to: Addressing) -> Entry:
        patient = patient_of(msg.patient)
        ours = any(
            r.action not in CANCEL_ACTIONS and procedure_of(r.service, self.rules.codes)
            for r in msg.orders
        )
        if ours and (not patient.name or patient.birth_date is None or not patient.allergies):
            # What the order does not say (often the allergies) comes from the registry.
            patient = await self.journal.registry.complete(patient)
        actor = _actor(msg.header)
        texts: list[str] = []
        plans: list[Plan] = []
        for request in msg.orders:
            key = request.accession.value if request.accession else ""
            async with self._accession_locks(key):
                plan = plan_order(
                    request,
                    header=msg.header,
                    patient_data=msg.patient,
                    patient=patient,
                    rules=self.rules,
                    by_accession=self.index.for_accession,
                    new_case_id=self.cases.new_case_id,
                    now=self.clock(),
                )
                plans.append(plan)
                texts.append(plan.text)
                last = request is msg.orders[-1]
                text = "; ".join(texts)
                result = _result(plans)
                final = self._finish(
                    entry, to, "AA", text=text, result=result, case_id=plan.case_id
                )
                written = await self._run(plan, final, actor, with_message=last)
        if written:
            return final
        return await self.journal.write(Item(final))

    async def _run(self, plan: Plan, final: Entry, actor: str, *, with_message: bool) -> bool:
        """Execute the plan's commands; with `with_message`, the message row is written in the
        last one's transaction. Returns whether the row was written (not when that command
        recorded no events)."""
        written = False
        for index, (case_id, command) in enumerate(plan.commands):
            also = []
            if with_message and index == len(plan.commands) - 1:
                also.append(
                    self.journal.with_case(final, order=plan.order_row, patient=plan.patient)
                )
            try:
                records = await self.cases.execute(
                    case_id, command, actor=actor, source=Source.HL7, also=also
                )
            except DomainError as exc:
                raise _domain_error(plan.where, case_id, exc) from exc
            written = bool(also) and bool(records)
        return written

    # ---- answers -----------------------------------------------------------------------------

    def _finish(
        self,
        entry: Entry,
        to: Addressing,
        code: str,
        error: Hl7Error | None = None,
        *,
        text: str = "",
        result: str = "",
        case_id: str | None = None,
    ) -> Entry:
        ack = build_ack(
            to,
            code=code,
            text=text,
            error=error,
            control_id=uuid.uuid4().hex[:20],
            now=self.clock(),
            application=self.identity.application,
            facility=self.identity.facility,
        )
        if not result:
            result = {"AA": "applied", "AE": "error", "AR": "rejected"}[code]
        return replace(
            entry,
            ack_code=code,
            ack_text=text or (error.text if error else ""),
            ack_raw=ack,
            result=result,
            case_id=case_id,
        )

    async def _store_error(self, entry: Entry, to: Addressing, error: Hl7Error) -> Entry:
        final = self._finish(entry, to, error.ack_code, error)
        log.info("hl7: %s %s from %s: %s", final.ack_code, entry.message_type, entry.peer, error)
        return await self.journal.write(Item(final))

    async def _answer_error(self, entry: Entry, to: Addressing, error: Hl7Error) -> bytes:
        try:
            final = await self._store_error(entry, to, error)
        except (StoreError, OSError) as exc:
            log.error("hl7: rejected message from %s not stored: %s", entry.peer, exc)
            final = self._not_stored(entry, to)
        self._count(final)
        return final.ack_raw or b""

    def _not_stored(self, entry: Entry, to: Addressing) -> Entry:
        self.stats.not_stored += 1
        error = _internal("the message could not be stored (database unavailable); send it again")
        return self._finish(entry, to, "AR", error)

    async def _original(self, header: Header) -> bytes | None:
        row = await self.cases.db.read(lambda s: store.inbound_by_key(s, *header.key))
        return row.ack_raw if row is not None else None

    def _count(self, entry: Entry) -> None:
        if entry.ack_code == "AA":
            self.stats.accepted += 1
            if entry.result == "ignored":
                self.stats.ignored += 1
        elif entry.ack_code == "AE":
            self.stats.errors += 1
        else:
            self.stats.rejected += 1


def _actor(header: Header) -> str:
    return header.sending_application or "hl7"


def _result(plans: list[Plan]) -> str:
    kinds = {p.result for p in plans}
    return "applied" if "applied" in kinds else "unchanged" if "unchanged" in kinds else "ignored"


def _internal(text: str) -> Rejected:
    return Rejected(Location(""), text, code=APPLICATION_INTERNAL_ERROR)


def _domain_error(where: Location, case_id: str, exc: DomainError) -> ContentError:
    code = (
        APPLICATION_RECORD_LOCKED
        if isinstance(exc, PhaseError | CaseClosed | GuardError)
        else APPLICATION_INTERNAL_ERROR
    )
    return ContentError(where, f"case {case_id}: {exc.message}", code=code)


def local_zone() -> tzinfo:
    """This machine's local time zone."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone
