"""The procedure report of one case: a self-contained HTML page, optionally printed to PDF.

`build_report` gathers the case from the store (data.py), draws the plots (plots.py) and
renders the page (html.py); `pdf.print_pdf` prints a page with headless Chromium. The CLI
is `procsuite report CASE_ID [--out FILE] [--pdf]` (cli.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path

from suite.domain import events as e
from suite.domain.alarms.config import AlarmConfig
from suite.domain.dose import DoseThresholds
from suite.report.data import ReportData, ReportError, gather
from suite.store.database import Database

__all__ = ["ReportError", "build_report", "markers", "write_report"]


def alarm_limits(config: AlarmConfig) -> dict[str, tuple[float | None, float | None]]:
    """The configured default limits of each parameter (drawn on the report's vitals plot;
    a limit set for one patient is in the alarms and the timeline)."""
    return {param.value: (limit.low, limit.high) for param, limit in config.limits.items()}


def markers(data: ReportData) -> list[tuple[datetime, str]]:
    """The moments the vitals plot marks: the sedation and each level's cement injection."""
    found = []
    for r in data.records:
        if isinstance(r.event, e.SedationGiven):
            found.append((r.event.at, "sedation"))
        elif isinstance(r.event, e.CementInjected):
            found.append((r.event.at, f"cement {r.event.level}"))
    return found


async def build_report(
    db: Database,
    ref: str,
    *,
    now: datetime,
    tz: tzinfo | None,
    thresholds: DoseThresholds,
    site: str = "",
    limits: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> str:
    """The HTML report of case `ref` (id or accession). ReportError for an unknown case.
    `limits` (parameter -> low, high): the alarm limits drawn on the vitals plot."""
    from suite.report import html, plots  # matplotlib only when a report is made

    data = await gather(db, ref, now=now)
    bands = data.bands
    levels = [thresholds.first_notification_mgy, thresholds.substantial_mgy]
    return html.render(
        data,
        vitals_svg=plots.vitals_svg(
            data.samples, bands=bands, markers=markers(data), limits=dict(limits or {})
        ),
        kerma_svg=plots.kerma_svg(data.kerma, bands=bands, levels_mgy=levels),
        tz=tz,
        thresholds=thresholds,
        site=site,
    )


async def write_report(
    ref: str,
    *,
    db: Database,
    out_dir: Path,
    now: datetime,
    tz: tzinfo | None,
    thresholds: DoseThresholds,
    site: str = "",
    limits: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> Path:
    """Build the report of case `ref` and write it to `out_dir/report-<case>-<time>.html`
    (what the dashboard's report key asks the service for); returns the file written."""
    page = await build_report(
        db, ref, now=now, tz=tz, thresholds=thresholds, site=site, limits=limits
    )
    path = out_dir / f"report-{ref}-{now:%Y%m%dT%H%M%S}.html"

    def write() -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")

    await asyncio.to_thread(write)
    return path
