"""What a procedure report holds, gathered from the store for one case.

`gather` reads through the store's query functions only (no SQL here): the case's events
(replayed into `Case`, with who logged each step), its vital-sign samples, its alarms with
their acknowledgements, its dose reports and the dose levels announced. The derived series
(phase bands, cumulative air kerma) are pure functions of those, tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from suite.domain.alarms.model import Alarm
from suite.domain.case import Case, replay
from suite.domain.dose import DoseReport, DoseSource, case_totals
from suite.domain.envelope import Recorded
from suite.domain.errors import ProcsuiteError
from suite.store import alarms as alarm_store
from suite.store import cases as case_store
from suite.store import report_queries
from suite.store import vitals as vitals_store
from suite.store.database import Database
from suite.store.report_queries import AnnouncedLevel, StoredDoseReport
from suite.store.vitals import StoredSample


class ReportError(ProcsuiteError):
    """The report cannot be made: the message says why (an unknown case, no Chromium...)."""

    rule = "report"


@dataclass(frozen=True, slots=True)
class PhaseBand:
    phase: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ReportData:
    case: Case
    records: list[Recorded]
    samples: list[StoredSample]
    alarms: list[Alarm]
    dose_reports: list[StoredDoseReport]
    dose_levels: list[AnnouncedLevel]
    made_at: datetime

    @property
    def bands(self) -> list[PhaseBand]:
        return phase_bands(self.case, end=self.made_at)

    @property
    def kerma(self) -> list[tuple[datetime, float]]:
        return cumulative_kerma(self.dose_reports)


def phase_bands(case: Case, *, end: datetime) -> list[PhaseBand]:
    """Each phase the case went through with its start and end (the next phase's start; the
    last one ends at `end`, or at its own start once the case is over)."""
    history = list(case.phase_history)
    bands = []
    for i, (phase, start) in enumerate(history):
        if i + 1 < len(history):
            stop = history[i + 1][1]
        else:
            stop = start if case.phase.is_final else max(end, start)
        bands.append(PhaseBand(phase.value, start, stop))
    return bands


def cumulative_kerma(reports: list[StoredDoseReport]) -> list[tuple[datetime, float]]:
    """The case's reference air kerma (mGy) after each dose report, as the service totals it
    (suite.domain.dose.case_totals: best source first, never counted twice)."""
    seen: list[DoseReport] = []
    points = []
    for r in reports:
        try:
            source = DoseSource(r.source)
        except ValueError:
            continue
        seen.append(
            DoseReport(source, r.report_key, r.fluoro_time_s, r.dap_gy_cm2, r.air_kerma_mgy)
        )
        points.append((r.reported_at, case_totals(seen).air_kerma_mgy))
    return points


async def gather(db: Database, ref: str, *, now: datetime) -> ReportData:
    """Everything the report shows of case `ref` (its id or accession number).
    ReportError when there is no such case."""
    async with db.session() as session:
        case_id = await report_queries.case_id_for(session, ref)
        if case_id is None:
            raise ReportError(f"no case {ref} (neither a case id nor an accession number)")
        records = await case_store.load(session, case_id)
        samples = await vitals_store.samples(session, case_id=case_id)
        alarms = await alarm_store.list_alarms(session, case_id=case_id, include_cleared=True)
        doses = await report_queries.dose_reports(session, case_id)
        levels = await report_queries.dose_levels(session, case_id)
    if not records:
        raise ReportError(f"case {ref} has no events")
    case = replay(case_id, [r.event for r in records])
    if case is None:
        raise ReportError(f"case {ref}: its events make no case")
    alarms.sort(key=lambda a: a.raised_at)
    return ReportData(case, records, samples, alarms, doses, levels, now)
