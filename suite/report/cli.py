"""`procsuite report CASE_ID [--out FILE] [--pdf]`: the procedure report of a case."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click

from suite.cli_settings import settings_of
from suite.report import ReportError, alarm_limits, build_report
from suite.report.pdf import find_chromium, print_pdf
from suite.store.running import running_database


@click.command("report")
@click.argument("case_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The HTML file to write (default: report-<CASE_ID>.html here).",
)
@click.option("--pdf", is_flag=True, help="Also print it to PDF (beside it) with Chromium.")
@click.option("--chromium", default=None, help="The Chromium program (default: from PATH).")
@click.pass_context
def report_command(
    ctx: click.Context, case_id: str, out: Path | None, pdf: bool, chromium: str | None
) -> None:
    """Write the procedure report of CASE_ID (a case id or accession number): patient, order,
    care team, checklist and time-out, sedation, each level's trocar / balloon / cement,
    images per step, dose and the levels crossed, alarms with their acknowledgements, and
    plots of the vitals and the cumulative air kerma; one self-contained HTML file."""
    settings = settings_of(ctx)
    path = out or Path(f"report-{case_id}.html")
    zone = datetime.now().astimezone().tzinfo

    async def make() -> str:
        async with running_database(settings.database_url) as database:
            return await build_report(
                database,
                case_id,
                now=datetime.now(UTC),
                tz=zone,
                thresholds=settings.dose.thresholds(),
                site=settings.site,
                limits=alarm_limits(settings.alarms.engine_config()),
            )

    try:
        page = asyncio.run(make())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        click.echo(f"report written to {path}")
        if pdf:
            pdf_path = path.with_suffix(".pdf")
            print_pdf(path, pdf_path, chromium=find_chromium(chromium))
            click.echo(f"PDF written to {pdf_path}")
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
