"""The case service: runs commands on cases, stores their events, and tells the bus.

It keeps every open case in memory (rebuilt from the event log at start), serialises commands
per case, and appends with optimistic concurrency: when another process appended first, it
reloads the case's new events and decides once more.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from suite.bus import Bus
from suite.domain import commands as c
from suite.domain.case import Case, replay
from suite.domain.envelope import Recorded, Source
from suite.domain.errors import DomainError
from suite.domain.policy import DEFAULT_POLICY, WorkflowPolicy
from suite.domain.workflow import decide
from suite.store import cases as case_store
from suite.store.database import ConcurrencyError, Database, is_outage
from suite.store.deferred import begin_deferred, end_deferred

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Runs inside the transaction that appends a case's events, after them: given the session,
# the new records and the case as they leave it. As a hook (`add_hook`) it runs for every
# command (e.g. to queue an HL7 outbox row); passed as `also` to `execute`, for that one
# command only (e.g. to store the HL7 message that caused it).
TransactionPart = Callable[[AsyncSession, Sequence[Recorded], Case], Awaitable[None]]
TransactionHook = TransactionPart
# Runs first in that transaction and may refuse the write (a room lease: suite/leases.py).
Fence = Callable[[AsyncSession, Case, Source], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CaseChanged:
    """Published on the bus after a case's new events are committed."""

    case: Case
    records: tuple[Recorded, ...]


# What `execute_each` returns per command: its recorded events (none: nothing to do), or the
# domain's refusal.
Outcome = list[Recorded] | DomainError


@dataclass(slots=True)
class _Pending:
    """One command's new events, waiting to be appended."""

    records: list[Recorded]
    expected: int
    state: Case
    source: Source
    parts: list[TransactionPart]
    now: datetime


@dataclass(slots=True)
class _Group:
    """Commands of different cases appended in one job of the store's writer."""

    items: list[_Pending] = field(default_factory=list)
    task: asyncio.Future[None] | None = None
    failed: BaseException | None = None  # what the job raised (not a failed commit)


class UnknownCase(DomainError):
    rule = "unknown-case"


class CaseService:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        *,
        clock: Clock,
        policy: WorkflowPolicy = DEFAULT_POLICY,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.policy = policy
        self._cases: dict[str, Case] = {}
        self._by_accession: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._hooks: list[TransactionHook] = []
        self.fence: Fence | None = None
        # The group that the next command joins (None: its job has started), and the tasks
        # that write groups: each group's outcome is shared by its callers, so one caller's
        # cancellation does not cancel the others' write.
        self._group: _Group | None = None
        self._writes: set[asyncio.Future[None]] = set()

    def add_hook(self, hook: TransactionHook) -> None:
        self._hooks.append(hook)

    def clear_hooks(self) -> None:
        """Forget every hook (the adapters that added them are being rebuilt)."""
        self._hooks.clear()

    async def load(self) -> int:
        """Rebuild every case from the event log; returns how many."""
        async with self.db.session() as session:
            grouped = await case_store.load_all(session)
        for case_id, records in grouped.items():
            case = replay(case_id, (r.event for r in records))
            if case is not None:
                self._remember(case)
        log.info("cases: rebuilt %d cases from the event log", len(self._cases))
        return len(self._cases)

    # ---- queries ------------------------------------------------------------------------

    def get(self, case_id: str) -> Case | None:
        return self._cases.get(case_id)

    def all(self) -> list[Case]:
        return sorted(self._cases.values(), key=lambda k: (k.scheduled_at, k.case_id))

    def open_cases(self) -> list[Case]:
        return [k for k in self.all() if not k.phase.is_final]

    def by_accession(self, accession: str) -> Case | None:
        """The case of an order's accession number (the latest, if one was re-ordered)."""
        case_id = self._by_accession.get(accession)
        return self._cases.get(case_id) if case_id is not None else None

    def by_mrn(self, mrn: str) -> list[Case]:
        """Every case of a patient, oldest first."""
        return [k for k in self.all() if k.patient.mrn == mrn]

    def _remember(self, case: Case) -> None:
        old = self._cases.get(case.case_id)
        if old is not None and old.order.accession != case.order.accession:
            self._by_accession.pop(old.order.accession, None)
        self._cases[case.case_id] = case
        self._by_accession[case.order.accession] = case.case_id

    def active_in_room(self, room: str) -> Case | None:
        """The room's case that has started (checked in) and not ended; else None."""
        from suite.domain.values import Phase

        started = [
            k
            for k in self._cases.values()
            if k.room == room and not k.phase.is_final and k.phase is not Phase.SCHEDULED
        ]
        return max(started, key=lambda k: k.last_at, default=None)

    # ---- commands -----------------------------------------------------------------------

    def new_case_id(self) -> str:
        return uuid.uuid4().hex[:12]

    async def execute(
        self,
        case_id: str,
        command: c.Command | Callable[[Case], c.Command | None],
        *,
        actor: str,
        source: Source,
        also: Sequence[TransactionPart] = (),
    ) -> list[Recorded]:
        """Apply `command` to the case; returns the recorded events once they are durable.

        `command` may be a function of the case's current state (a patient update merged
        into what the case holds): it is called under the case's lock, again after a
        concurrent writer's change, and may return None for nothing to do.

        Each of `also` runs in the same transaction, after the events are appended: what it
        writes commits with them or not at all. It runs only when the command records
        events (an empty result means nothing was written), and again if the append is
        retried after another writer's.

        Raises a `DomainError` naming the rule when the command is refused; nothing is stored.
        Errors raised by a part of `also` come out unchanged; nothing is stored.
        """
        lock = self._locks.setdefault(case_id, asyncio.Lock())
        async with lock:
            for attempt in (1, 2):
                case = self._cases.get(case_id)
                if case is None and not isinstance(command, c.ScheduleCase):
                    await self._refresh(case_id)
                    case = self._cases.get(case_id)
                    if case is None:
                        raise UnknownCase(f"no case {case_id}")
                if isinstance(command, c.Command):
                    decided: c.Command | None = command
                else:
                    assert case is not None
                    decided = command(case)
                if decided is None:
                    return []
                try:
                    return await self._apply(
                        case_id, case, decided, actor=actor, source=source, also=also
                    )
                except ConcurrencyError:
                    if attempt == 2:
                        raise
                    log.info("cases: case %s changed elsewhere, reloading", case_id)
                    await self._refresh(case_id)
        raise AssertionError("unreachable")

    async def _apply(
        self,
        case_id: str,
        case: Case | None,
        command: c.Command,
        *,
        actor: str,
        source: Source,
        also: Sequence[TransactionPart],
    ) -> list[Recorded]:
        now = self.clock()
        events = decide(case, command, now=now, policy=self.policy)
        if not events:
            return []
        state = case
        records = []
        for event in events:
            state = replay(case_id, [event]) if state is None else state.apply(event)
            assert state is not None
            records.append(Recorded(case_id, state.version, event, actor, source))
        assert state is not None
        pending = _Pending(
            records=records,
            expected=case.version if case is not None else 0,
            state=state,
            source=source,
            parts=[*also, *self._hooks],
            now=now,
        )
        group = self._group
        if group is None:
            # Commands of other cases that arrive before the writer starts this group's job
            # join it: one transaction part per group, one statement per table.
            group = self._group = _Group()
            task = asyncio.ensure_future(self._write(group))
            self._writes.add(task)
            task.add_done_callback(self._written)
            group.task = task
        group.items.append(pending)
        assert group.task is not None
        try:
            await asyncio.shield(group.task)
        except Exception:
            failed = group.failed
            if len(group.items) == 1 or failed is None or is_outage(failed):
                raise
            # One command broke the group (a concurrent writer, a repeated message): each is
            # written on its own, so only that one fails and its caller hears why.
            alone = _Group()
            alone.items.append(pending)
            await self._write(alone)
        return records

    def _written(self, task: asyncio.Future[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled():
            task.exception()  # its callers hear of it; retrieved here in case all went away

    async def _write(self, group: _Group) -> None:
        """Append the group's events (and run its transaction parts) in one job; returns once
        committed."""
        fence = self.fence

        async def job(session: AsyncSession) -> None:
            if self._group is group:
                self._group = None  # later commands start a new group
            items = group.items
            deferred = begin_deferred(session)
            try:
                if fence is not None:
                    for p in items:
                        await fence(session, p.state, p.source)
                await case_store.append_many(
                    session,
                    [case_store.Append(p.records, p.expected, p.state, p.now) for p in items],
                )
                for p in items:
                    for part in p.parts:
                        await part(session, p.records, p.state)
                await deferred.flush(session)
            except Exception as exc:
                group.failed = exc
                raise
            finally:
                end_deferred(session)

        def committed() -> None:
            for p in group.items:
                try:
                    self._remember(p.state)
                    self.bus.publish(CaseChanged(p.state, tuple(p.records)))
                except Exception:  # committed already: the other cases are still told
                    log.exception("cases: after-commit of case %s failed", p.state.case_id)

        await self.db.write(job, after_commit=committed)

    async def execute_each(
        self,
        case_id: str,
        commands: Sequence[c.Command],
        *,
        actor: str,
        source: Source,
        also: Callable[[Sequence[Outcome]], Sequence[TransactionPart]] | None = None,
    ) -> list[Outcome]:
        """Apply `commands` to one case in order and store all their events in one
        transaction; returns each command's outcome, in order, once durable.

        As `execute` once per command, without a commit each: a command is decided on the
        case as the ones before it left it; one the domain refuses has its `DomainError` as
        its outcome and changes nothing, and the others still count. The hooks run for each
        command that recorded events, as with `execute`. `also` is given the outcomes and
        returns the parts that run in the same transaction after every command's events
        (e.g. marking the index rows of the images that were linked); it is asked again if
        the append is retried after another writer's.
        """
        lock = self._locks.setdefault(case_id, asyncio.Lock())
        async with lock:
            for attempt in (1, 2):
                case = self._cases.get(case_id)
                if case is None:
                    await self._refresh(case_id)
                    case = self._cases.get(case_id)
                    if case is None:
                        raise UnknownCase(f"no case {case_id}")
                try:
                    return await self._apply_each(
                        case_id, case, commands, actor=actor, source=source, also=also
                    )
                except ConcurrencyError:
                    if attempt == 2:
                        raise
                    log.info("cases: case %s changed elsewhere, reloading", case_id)
                    await self._refresh(case_id)
        raise AssertionError("unreachable")

    async def _apply_each(
        self,
        case_id: str,
        case: Case,
        commands: Sequence[c.Command],
        *,
        actor: str,
        source: Source,
        also: Callable[[Sequence[Outcome]], Sequence[TransactionPart]] | None,
    ) -> list[Outcome]:
        now = self.clock()
        state = case
        outcomes: list[Outcome] = []
        steps: list[tuple[list[Recorded], Case]] = []  # each command's records and its case
        for command in commands:
            try:
                events = decide(state, command, now=now, policy=self.policy)
            except DomainError as refused:
                outcomes.append(refused)
                continue
            records = []
            for event in events:
                state = state.apply(event)
                records.append(Recorded(case_id, state.version, event, actor, source))
            outcomes.append(records)
            if records:
                steps.append((records, state))
        if not steps:
            return outcomes
        final = state
        every = [r for records, _ in steps for r in records]
        parts = list(also(outcomes)) if also is not None else []
        hooks = list(self._hooks)
        fence = self.fence

        async def job(session: AsyncSession) -> None:
            if fence is not None:
                await fence(session, final, source)
            await case_store.append(
                session, records=every, expected_version=case.version, state=final, recorded_at=now
            )
            for records, after in steps:
                for hook in hooks:
                    await hook(session, records, after)
            for part in parts:
                await part(session, every, final)

        def committed() -> None:
            self._remember(final)
            self.bus.publish(CaseChanged(final, tuple(every)))

        await self.db.write(job, after_commit=committed)
        return outcomes

    async def follow(self, rooms: Sequence[str]) -> list[Case]:
        """Pick up what other processes (another instance, `procsuite case log`) wrote to the
        open cases of `rooms` since they were read; returns the cases that changed, each also
        published on the bus as a `CaseChanged`."""
        if not rooms:
            return []
        async with self.db.session() as session:
            known_open = [k.case_id for k in self.open_cases() if k.room in rooms]
            versions = await case_store.open_versions(session, rooms, also=known_open)
        changed = []
        for case_id, version in versions.items():
            known = self._cases.get(case_id)
            if known is not None and known.version >= version:
                continue
            lock = self._locks.setdefault(case_id, asyncio.Lock())
            async with lock:  # after a command of ours on the case that is in flight
                known = self._cases.get(case_id)
                if known is not None and known.version >= version:
                    continue  # it was ours
                await self._refresh(case_id)
                case = self._cases.get(case_id)
            if case is not None and (known is None or case.version > known.version):
                changed.append(case)
                self.bus.publish(CaseChanged(case, ()))
        return changed

    async def _refresh(self, case_id: str) -> None:
        async with self.db.session() as session:
            records = await case_store.load(session, case_id)
        case = replay(case_id, (r.event for r in records))
        if case is not None:
            self._remember(case)
