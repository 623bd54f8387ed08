"""The demo's summary: each case's phases, images and dose, the alarms and HL7 traffic."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from simulators.demo_report import CaseReport, DemoSummary, local_time
from suite.domain.values import phases_for

if TYPE_CHECKING:
    from procsuite.demo import Demo


def summarise(demo: Demo, started_at: datetime, *, interrupted: bool) -> DemoSummary:
    """What the day did, case by case, with every problem found (the headless summary)."""
    ctx = demo.service.ctx
    reports = []
    for run in demo.rooms.values():
        d = run.day
        case = ctx.cases.by_accession(d.case.accession) if ctx is not None else None
        dose = None
        if case is not None and case.dose is not None:
            dose = {
                "fluoro_time_s": case.dose.fluoro_time_s,
                "dap_gy_cm2": case.dose.dap_gy_cm2,
                "air_kerma_mgy": case.dose.air_kerma_mgy,
            }
        fluoro = run.fluoro
        reports.append(
            CaseReport(
                room=d.room,
                accession=d.case.accession,
                procedure=d.case.procedure,
                levels=list(d.case.levels),
                case_id=case.case_id if case else None,
                phase=case.phase.value if case else None,
                phases=[p.value for p, _ in case.phase_history] if case else [],
                expected_phases=[p.value for p in phases_for(case.procedure)] if case else [],
                images_sent=fluoro.images_sent if fluoro else 0,
                images_linked=len(case.images) if case else 0,
                rdsr_stored=bool(fluoro and fluoro.rdsr_sent),
                dose_on_case=dose,
                dose_measured=fluoro.dose if fluoro else None,
            )
        )
    problems = list(demo.problems)
    for run in demo.rooms.values():
        if run.problem:
            problems.append(run.problem)
        if run.fluoro:
            problems += [f"{run.day.room}: {p}" for p in run.fluoro.problems]
    return DemoSummary(
        speed=demo.clock.speed,
        started_at=local_time(started_at.astimezone(demo.zone)),
        finished_at=local_time(demo.clock.now().astimezone(demo.zone)),
        interrupted=interrupted,
        cases=reports,
        alarms=list(demo.alarms.alarms.values()),
        expected_alarms={r.day.room: list(r.day.alarm_kinds) for r in demo.rooms.values()},
        hl7_in=list(demo.hl7.sent),
        hl7_out=list(demo.hl7.received),
        extra_problems=problems,
    )
