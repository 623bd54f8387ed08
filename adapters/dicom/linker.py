"""Tells cases about the instances stored for them, from the index rows not yet linked.

For each row with a case and `linked` False: a patient image is linked to the case's open
step (LinkImage; the domain picks the trocar / balloon / cement step of the level worked on),
and every case touched gets its dose brought up to date. Rows are marked linked in one write
per batch. The rows are the queue: it survives restarts, and a wake-up that is missed only
delays the work to the next sweep. `assign` is how IT resolves an unmatched instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.dicom import sop
from adapters.dicom.dose import DoseKeeper
from adapters.dicom.matching import MatchRule
from suite.app.case_service import CaseService
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.domain.errors import DomainError
from suite.store import audit_log
from suite.store.database import Database, StoreError
from suite.store.dicom import DicomDoseReportRow, DicomInstanceRow

log = logging.getLogger(__name__)


class AssignError(DomainError):
    """An unmatched instance cannot be assigned; the message says why."""

    rule = "dicom-assign"


@dataclass(frozen=True, slots=True)
class Outcome:
    row_id: int
    note: str


class Linker:
    def __init__(
        self,
        *,
        db: Database,
        cases: CaseService,
        dose: DoseKeeper,
        clock: Callable[[], datetime],
        batch: int = 500,
        sweep_s: float = 5.0,
        quiet_s: float = 0.2,
        max_delay_s: float = 2.0,
    ) -> None:
        self.db = db
        self.cases = cases
        self.dose = dose
        self.clock = clock
        self.batch = batch
        self.sweep_s = sweep_s
        self.quiet_s = quiet_s
        self.max_delay_s = max_delay_s
        self._wake = asyncio.Event()
        self._last_wake = 0.0
        self.linked = 0
        self.failed = 0

    def wake(self) -> None:
        """Ask for a run soon (called on the loop, e.g. after an index commit)."""
        self._last_wake = asyncio.get_running_loop().time()
        self._wake.set()

    async def _settle(self) -> None:
        """Let a burst of C-STOREs finish first: receiving has priority over linking.

        Waits until nothing new came for `quiet_s`, but never longer than `max_delay_s` after
        the first wake-up, so an image is on its case within about `max_delay_s` at worst.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            now = loop.time()
            quiet_for = now - self._last_wake
            if quiet_for >= self.quiet_s or now - started >= self.max_delay_s:
                return
            await asyncio.sleep(min(self.quiet_s - quiet_for, self.max_delay_s - (now - started)))

    async def run(self) -> None:
        """Link pending rows now and whenever woken (or every `sweep_s`), until cancelled."""
        while True:
            self._wake.clear()
            try:
                await self.link_pending()
            except StoreError:
                log.exception("dicom: linking paused, the store failed; retrying")
            with contextlib.suppress(TimeoutError):  # a sweep now and then
                await asyncio.wait_for(self._wake.wait(), timeout=self.sweep_s)
            await self._settle()

    async def link_pending(self) -> int:
        """Link every pending row; returns how many rows were handled."""
        handled = 0
        while True:
            async with self.db.session() as session:
                rows = list(
                    await session.exec(
                        select(DicomInstanceRow)
                        .where(
                            col(DicomInstanceRow.linked).is_(False),
                            col(DicomInstanceRow.case_id).is_not(None),
                        )
                        .order_by(col(DicomInstanceRow.id))
                        .limit(self.batch)
                    )
                )
            if not rows:
                return handled
            await self._link(rows)
            handled += len(rows)

    async def _link(self, rows: list[DicomInstanceRow]) -> None:
        outcomes: list[Outcome] = []
        touched: dict[str, str] = {}
        for row in rows:
            assert row.id is not None and row.case_id is not None
            note = row.link_note
            if row.sop_class_uid in sop.PATIENT_IMAGE_CLASSES:
                try:
                    await self.cases.execute(
                        row.case_id,
                        c.LinkImage(
                            at=self.clock(),
                            sop_instance_uid=row.sop_instance_uid,
                            modality=row.modality or "OT",
                        ),
                        actor=row.calling_ae,
                        source=Source.DICOM,
                    )
                    self.linked += 1
                except DomainError as exc:
                    self.failed += 1
                    note = f"not linked: {exc.message}"
                    log.warning(
                        "dicom: instance %s not linked to case %s: %s",
                        row.sop_instance_uid,
                        row.case_id,
                        exc.message,
                    )
            touched.setdefault(row.case_id, row.calling_ae)
            outcomes.append(Outcome(row.id, note[:400]))
        for case_id, actor in touched.items():
            try:
                await self.dose.update(case_id, actor=actor)
            except DomainError as exc:
                log.warning("dicom: dose of case %s not recorded: %s", case_id, exc.message)

        async def job(session: AsyncSession) -> None:
            for outcome in outcomes:
                row = await session.get(DicomInstanceRow, outcome.row_id)
                if row is not None:
                    row.linked = True
                    row.link_note = outcome.note
                    session.add(row)

        await self.db.write(job)


async def list_unmatched(db: Database, *, limit: int = 1000) -> list[DicomInstanceRow]:
    """Stored instances that match no case, oldest first (for the CLI and the TUI)."""
    async with db.session() as session:
        rows = await session.exec(
            select(DicomInstanceRow)
            .where(col(DicomInstanceRow.case_id).is_(None))
            .order_by(col(DicomInstanceRow.received_at), col(DicomInstanceRow.id))
            .limit(limit)
        )
        return list(rows)


@dataclass(frozen=True, slots=True)
class Assigned:
    sop_instance_uid: str
    case_id: str
    previous_case_id: str | None


async def assign(
    *,
    db: Database,
    cases: CaseService,
    sop_instance_uid: str,
    case_id: str,
    force: bool = False,
    user: str,
    source: str,
    at: datetime,
) -> Assigned:
    """Give an unmatched instance its case; the linker then tells the case.

    An instance already matched to another case moves only with `force` (its image stays in
    that case's history, which is append-only; its dose moves). Raises `AssignError` naming
    what is wrong.
    """
    if cases.get(case_id) is None:
        raise AssignError(f"no case {case_id}")

    async def job(session: AsyncSession) -> Assigned:
        row = (
            await session.exec(
                select(DicomInstanceRow).where(
                    DicomInstanceRow.sop_instance_uid == sop_instance_uid
                )
            )
        ).first()
        if row is None:
            raise AssignError(f"no stored instance {sop_instance_uid}")
        previous = row.case_id
        if previous == case_id:
            return Assigned(sop_instance_uid, case_id, previous)
        if previous is not None and not force:
            raise AssignError(
                f"instance {sop_instance_uid} belongs to case {previous}"
                f" (matched by {row.match_rule}); use force to move it"
            )
        row.case_id = case_id
        row.match_rule = MatchRule.MANUAL.value
        row.linked = False
        session.add(row)
        reports = await session.exec(
            select(DicomDoseReportRow).where(DicomDoseReportRow.object_uid == sop_instance_uid)
        )
        for report in reports:
            report.case_id = case_id
            session.add(report)
        await session.flush()
        await audit_log.record(
            session, at=at, user=user, source=source, action="dicom_assign",
            subject=f"instance {sop_instance_uid}",
            detail={"case_id": case_id, "previous_case_id": previous, "force": force},
        )  # fmt: skip
        return Assigned(sop_instance_uid, case_id, previous)

    return await db.write(job)
