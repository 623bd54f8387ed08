"""Keeps a case's dose totals and dose alarms in step with the dose reports received for it.

Runs on the event loop. After any dose report (RDSR, MPPS, image attributes) is stored with a
case, `update(case_id)` recomputes the totals with the pure rules of suite/domain/dose.py,
records them on the case (RecordDose) when they changed, and announces the reference air
kerma levels passed: one alarm on the bus per announced level (its id is stable per case and
level), a row per passed level so none is announced twice (also across restarts), and the skin
follow-up task on the case when the substantial radiation dose level is passed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from suite.app.case_service import CaseService, TransactionPart
from suite.bus import Bus
from suite.domain import commands as c
from suite.domain.alarms.model import AlarmRaised
from suite.domain.dose import (
    DoseLevelsReached,
    DoseQuantity,
    DoseThresholds,
    DoseTotals,
    case_totals,
    dose_alarm,
    follow_up_task_text,
    levels_reached,
)
from suite.domain.envelope import Source
from suite.store import dicom_dose
from suite.store.database import Database

log = logging.getLogger(__name__)

FOLLOW_UP_KIND = "follow_up_task"
_FOLLOW_UP_PREFIX = "Skin follow-up:"


class DoseKeeper:
    def __init__(
        self,
        *,
        db: Database,
        cases: CaseService,
        bus: Bus,
        clock: Callable[[], datetime],
        thresholds: DoseThresholds,
    ) -> None:
        self.db = db
        self.cases = cases
        self.bus = bus
        self.clock = clock
        self.thresholds = thresholds
        self._locks: dict[str, asyncio.Lock] = {}
        self.alarms_raised = 0

    async def totals(self, case_id: str) -> tuple[DoseTotals, set[float], int]:
        """The case's totals from its stored reports, the air kerma levels announced, and the
        report count."""
        stored = await dicom_dose.case_dose(self.db, case_id)
        return case_totals(stored.reports), stored.announced_mgy, len(stored.reports)

    async def _reached(
        self, case_id: str
    ) -> tuple[DoseTotals, dict[DoseQuantity, DoseLevelsReached], int]:
        stored = await dicom_dose.case_dose(self.db, case_id)
        totals = case_totals(stored.reports)
        reached = {
            quantity: levels_reached(
                getattr(totals, quantity.value),
                announced_mgy=stored.announced_of(quantity),
                thresholds=self.thresholds,
                quantity=quantity,
            )
            for quantity in DoseQuantity
        }
        return totals, reached, len(stored.reports)

    async def update(
        self, case_id: str, *, actor: str, also: Sequence[TransactionPart] = ()
    ) -> bool:
        """Bring the case's dose record and dose alarms up to date.

        `also` commits with the RecordDose when one is recorded and it is the last thing the
        update writes (no level passed); returns True when it did, False when the caller must
        write its rows itself (after this returns, so they never claim an update not done).
        """
        lock = self._locks.setdefault(case_id, asyncio.Lock())
        async with lock:
            case = self.cases.get(case_id)
            if case is None:
                return False
            totals, by_quantity, count = await self._reached(case_id)
            if count == 0:
                return False
            now = self.clock()
            passed_any = any(r.passed for r in by_quantity.values())
            carry = tuple(also) if not passed_any else ()
            carried = False
            recorded = case.dose
            if recorded is None or not totals.same_values(
                DoseTotals(recorded.fluoro_time_s, recorded.dap_gy_cm2, recorded.air_kerma_mgy)
            ):
                recorded_now = await self.cases.execute(
                    case_id,
                    c.RecordDose(
                        at=now,
                        fluoro_time_s=totals.fluoro_time_s,
                        dap_gy_cm2=totals.dap_gy_cm2,
                        air_kerma_mgy=totals.air_kerma_mgy,
                        source=totals.source,
                    ),
                    actor=actor,
                    source=Source.DICOM,
                    also=carry,
                )
                carried = bool(carry) and bool(recorded_now)  # `also` runs only with events
            if not passed_any:
                return carried
            for quantity, reached in by_quantity.items():
                if reached.passed:
                    await self._announce(case_id, case.room, quantity, reached, totals, now, actor)
            return False

    async def _announce(
        self,
        case_id: str,
        room: str,
        quantity: DoseQuantity,
        reached: DoseLevelsReached,
        totals: DoseTotals,
        now: datetime,
        actor: str,
    ) -> None:
        if quantity is DoseQuantity.AIR_KERMA and reached.substantial_reached:
            await self._follow_up_task(case_id, totals, actor=actor, at=now)
        alarms = [
            dose_alarm(level, totals=totals, case_id=case_id, room=room, at=now)
            for level in reached.announce
        ]
        await dicom_dose.announce_levels(
            self.db,
            case_id,
            thresholds_mgy=[level.threshold_mgy for level in reached.passed],
            air_kerma_mgy=totals.air_kerma_mgy,
            at=now,
            after_commit=lambda: self._publish(alarms),
            quantity=quantity,
        )
        log.warning(
            "dicom: case %s %s %g passed %s",
            case_id,
            quantity.value,
            getattr(totals, quantity.value),
            ", ".join(f"{lv.threshold_mgy:g}" for lv in reached.passed),
        )

    def _publish(self, alarms: list[AlarmRaised]) -> None:
        # A dose level is reached once: the alarm is a latching notification that no condition
        # ends; the alarm service clears it when a person acknowledges it.
        for alarm in alarms:
            self.bus.publish(alarm)
            self.alarms_raised += 1

    async def _follow_up_task(
        self, case_id: str, totals: DoseTotals, *, actor: str, at: datetime
    ) -> None:
        case = self.cases.get(case_id)
        if case is None or any(
            n.kind == FOLLOW_UP_KIND and n.text.startswith(_FOLLOW_UP_PREFIX) for n in case.notes
        ):
            return
        await self.cases.execute(
            case_id,
            c.AddNote(
                at=at, kind=FOLLOW_UP_KIND, text=follow_up_task_text(totals, self.thresholds)
            ),
            actor=actor,
            source=Source.DICOM,
        )
