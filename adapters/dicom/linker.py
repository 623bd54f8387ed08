"""Tells cases about the instances stored for them, from the index rows not yet linked.

For each case with rows to tell: its dose is brought up to date first (from every dose report
stored for it), then each patient image is linked to the case's open step (LinkImage; the
domain picks the trocar / balloon / cement step of the level worked on), all of a case's
images of one run in one transaction (`CaseService.execute_each`). A row is marked
linked in the same transaction as what told its case: the LinkImage of an image, the
RecordDose of a dose object (suite/app/case_service.py `execute(also=...)`); a row nothing
was recorded for is marked on its own afterwards. So a row is never marked before its case
knows, and a case is never told twice what a marked row says. The rows are the queue: it
survives restarts, and a wake-up that is missed only delays the work to the next sweep.
Assigning an unmatched instance by hand is suite/app/image_assignment.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from adapters.dicom import sop
from adapters.dicom.dose import DoseKeeper
from suite.app.case_service import CaseService, Outcome, TransactionPart
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.domain.errors import DomainError
from suite.store import dicom_instances
from suite.store.database import Database, StoreError
from suite.store.dicom_instances import LinkOutcome, PendingLink

log = logging.getLogger(__name__)


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
        self.store_failures = 0

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
        """Link pending rows now and whenever woken (or every `sweep_s`), until cancelled.

        A store that fails (unreachable, a driver error: `StoreError`) pauses linking until
        the next sweep; it never ends the loop.
        """
        while True:
            self._wake.clear()
            try:
                await self.link_pending()
            except StoreError:
                self.store_failures += 1
                log.exception("dicom: linking paused, the store failed; retrying")
            with contextlib.suppress(TimeoutError):  # a sweep now and then
                async with asyncio.timeout(self.sweep_s):  # not wait_for (3.11 loses a cancel)
                    await self._wake.wait()
            await self._settle()

    async def link_pending(self) -> int:
        """Link every pending row; returns how many rows were handled."""
        handled = 0
        while True:
            rows = await dicom_instances.pending_links(self.db, limit=self.batch)
            if not rows:
                return handled
            await self._link(rows)
            handled += len(rows)

    async def _link(self, rows: list[PendingLink]) -> None:
        by_case: dict[str, list[PendingLink]] = {}
        for row in rows:
            by_case.setdefault(row.case_id, []).append(row)
        alone: list[LinkOutcome] = []
        for case_id, case_rows in by_case.items():
            images = [r for r in case_rows if r.sop_class_uid in sop.PATIENT_IMAGE_CLASSES]
            others = [
                LinkOutcome(r.row_id, r.link_note)
                for r in case_rows
                if r.sop_class_uid not in sop.PATIENT_IMAGE_CLASSES
            ]
            # The dose first, so that no row of the case is marked before its dose counts.
            try:
                carried = await self.dose.update(
                    case_id,
                    actor=case_rows[0].calling_ae,
                    also=[dicom_instances.marking_linked(others)] if others else (),
                )
            except DomainError as exc:
                carried = False
                log.warning("dicom: dose of case %s not recorded: %s", case_id, exc.message)
            if not carried:
                alone.extend(others)
            alone.extend(await self._link_images(case_id, images))
        if alone:
            await dicom_instances.write_linked(self.db, alone)

    async def _link_images(self, case_id: str, images: list[PendingLink]) -> list[LinkOutcome]:
        """Link a case's images (LinkImage each, in one transaction per device that sent
        them, each recorded image's row marked in it); the outcomes of the rows to write on
        their own: those the case refused, or has already (an instance moved back to a case
        that had it)."""
        alone: list[LinkOutcome] = []
        for actor, rows in _runs_by_sender(images):
            commands = [
                c.LinkImage(
                    at=self.clock(),
                    sop_instance_uid=row.sop_instance_uid,
                    modality=row.modality or "OT",
                )
                for row in rows
            ]

            def marks(
                outcomes: Sequence[Outcome], rows: list[PendingLink] = rows
            ) -> list[TransactionPart]:
                recorded = [
                    LinkOutcome(row.row_id, row.link_note)
                    for row, outcome in zip(rows, outcomes, strict=True)
                    if isinstance(outcome, list) and outcome
                ]
                return [dicom_instances.marking_linked(recorded)] if recorded else []

            try:
                outcomes = await self.cases.execute_each(
                    case_id, commands, actor=actor, source=Source.DICOM, also=marks
                )
            except DomainError as exc:  # the case itself (gone): every image is refused
                outcomes = [exc] * len(rows)
            for row, outcome in zip(rows, outcomes, strict=True):
                if isinstance(outcome, DomainError):
                    self.failed += 1
                    log.warning(
                        "dicom: instance %s not linked to case %s: %s",
                        row.sop_instance_uid,
                        case_id,
                        outcome.message,
                    )
                    alone.append(LinkOutcome(row.row_id, f"not linked: {outcome.message}"))
                elif outcome:
                    self.linked += 1
                else:  # nothing recorded, so nothing marked it with the events
                    self.linked += 1
                    alone.append(LinkOutcome(row.row_id, row.link_note))
        return alone


def _runs_by_sender(rows: list[PendingLink]) -> list[tuple[str, list[PendingLink]]]:
    """`rows` cut into runs of the same calling AE (the actor of their LinkImage), in order."""
    runs: list[tuple[str, list[PendingLink]]] = []
    for row in rows:
        if runs and runs[-1][0] == row.calling_ae:
            runs[-1][1].append(row)
        else:
            runs.append((row.calling_ae, [row]))
    return runs
