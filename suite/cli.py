"""The `procsuite` command line."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from adapters.dicom.cli import dicom_group
from adapters.hl7.cli import hl7_group
from adapters.hl7.component import register_outbox
from adapters.mqtt.broker_cli import broker_group
from adapters.mqtt.cli import alarm_group, vitals_group
from simulators.cli import simulate
from simulators.demo_cli import demo_command
from suite import logs
from suite.audit_cli import audit_command
from suite.bus import Bus
from suite.case_service import CaseService
from suite.cli_settings import preflighted
from suite.cli_settings import settings_of as _settings
from suite.domain.bounds import OutOfRange, bounded_time
from suite.domain.codec import from_data
from suite.domain.commands import ScheduleCase
from suite.domain.envelope import Source
from suite.domain.errors import DomainError
from suite.domain.values import Order, Patient, parse_levels
from suite.service import Service, utc_now
from suite.settings import Settings
from suite.steps import STEPS, parse_step, step_fields
from suite.store import cases as case_store
from suite.store import migrate
from suite.store.database import Database
from suite.store.running import running_database
from suite.timeline import render
from tui.cli import tui_command

T = TypeVar("T")


class Fail(click.ClickException):
    """A one-line error for the person at the terminal (exit code 1)."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    envvar="PROCSUITE_CONFIG",
    help="TOML configuration file (environment variables PROCSUITE_* override it).",
)
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """procsuite: procedure-room workflow and device integration for vertebroplasty and
    kyphoplasty suites. It supports clinicians; it does not make clinical decisions."""
    ctx.ensure_object(dict)["config"] = config


def _run_service(
    settings: Settings, *, on_ready: Callable[[Service], Awaitable[None]] | None = None
) -> None:
    logs.configure(settings.log_level, json=settings.log_json)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        service = Service(settings)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(service.run(stop))
            if on_ready is not None:
                await service.ready.wait()
                await on_ready(service)

    asyncio.run(main())


@cli.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the service until SIGINT or SIGTERM."""
    _run_service(preflighted(_settings(ctx)))


@cli.group()
def db() -> None:
    """Database schema."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Apply every schema migration to the configured database."""
    settings = _settings(ctx)
    migrate.upgrade_sync(settings.database_url)
    click.echo(f"database at {settings.database_url.split('@')[-1]} is up to date")


@cli.group()
def case() -> None:
    """List, show, schedule and log steps of cases without the terminal UI."""


async def _with_cases(settings: Settings, fn: Callable[[CaseService, Database], Awaitable[T]]) -> T:
    async with running_database(settings.database_url) as database:
        cases = CaseService(database, Bus(), clock=utc_now, policy=settings.workflow.policy())
        # Steps logged here queue their HL7 status / result messages like the service's do.
        register_outbox(cases, settings, clock=utc_now)
        await cases.load()
        return await fn(cases, database)


@case.command("list")
@click.option(
    "--all", "show_all", is_flag=True, help="Include discharged, cancelled and aborted cases."
)
@click.pass_context
def case_list(ctx: click.Context, show_all: bool) -> None:
    """One line per case: id, scheduled time, room, procedure, levels, phase."""

    async def go(cases: CaseService, _db: Database) -> list[str]:
        chosen = cases.all() if show_all else cases.open_cases()
        return [
            f"{k.case_id}  {k.scheduled_at:%Y-%m-%d %H:%M}  {k.room:<6} {k.procedure.value:<15}"
            f" {','.join(map(str, k.order.levels)):<10} {k.phase.value}"
            for k in chosen
        ]

    lines = asyncio.run(_with_cases(_settings(ctx), go))
    click.echo("\n".join(lines) if lines else "no cases")


@case.command("show")
@click.argument("case_id")
@click.pass_context
def case_show(ctx: click.Context, case_id: str) -> None:
    """The case's timeline: every step with its time, who logged it and from where."""

    async def go(cases: CaseService, database: Database) -> str:
        found = cases.get(case_id) or cases.by_accession(case_id)
        if found is None:
            raise Fail(f"no case {case_id}")
        async with database.session() as session:
            records = await case_store.load(session, found.case_id)
        return render(found, records, now=utc_now())

    click.echo(asyncio.run(_with_cases(_settings(ctx), go)))


@case.command("schedule")
@click.option("--mrn", required=True, help="Patient's medical record number.")
@click.option("--name", default="", help="Patient's name (Family^Given).")
@click.option("--birth-date", default=None, help="YYYY-MM-DD.")
@click.option("--sex", default="U", type=click.Choice(["F", "M", "O", "U"]))
@click.option("--accession", required=True, help="Order's accession number.")
@click.option("--procedure", required=True, type=click.Choice(["vertebroplasty", "kyphoplasty"]))
@click.option("--levels", required=True, help="Planned levels, comma-separated (T12,L1).")
@click.option("--indication", default="osteoporotic")
@click.option("--fracture-date", default=None, help="YYYY-MM-DD.")
@click.option("--room", required=True)
@click.option(
    "--at", "scheduled", default=None, help="Scheduled start (ISO 8601 with zone); default now."
)
@click.option(
    "--ordered-at",
    "ordered",
    default=None,
    help="When the order was placed (ISO 8601); default now.",
)
@click.option("--actor", default="cli", help="Who is scheduling.")
@click.pass_context
def case_schedule(ctx: click.Context, /, **opts: Any) -> None:
    """Schedule a case (normally done by an HL7 order); prints its id."""

    async def go(cases: CaseService, _db: Database) -> str:
        now = utc_now()
        try:
            patient = from_data(
                Patient,
                {
                    "mrn": opts["mrn"],
                    "name": opts["name"],
                    "birth_date": opts["birth_date"],
                    "sex": opts["sex"],
                },
            )
            order = from_data(
                Order,
                {
                    "accession": opts["accession"],
                    "procedure": opts["procedure"],
                    "levels": [lv.name for lv in parse_levels(opts["levels"].split(","))],
                    "indication": opts["indication"],
                    "fracture_date": opts["fracture_date"],
                },
            )
            ordered = _parse_time(opts["ordered"]) if opts["ordered"] else now
            scheduled = _parse_time(opts["scheduled"]) if opts["scheduled"] else ordered
            case_id = cases.new_case_id()
            await cases.execute(
                case_id,
                ScheduleCase(
                    at=ordered,
                    patient=patient,
                    order=order,
                    room=opts["room"],
                    scheduled_at=scheduled,
                ),
                actor=opts["actor"],
                source=Source.CLI,
            )
        except DomainError as exc:
            raise Fail(exc.message) from None
        return case_id

    click.echo(asyncio.run(_with_cases(_settings(ctx), go)))


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Fail(f"--at {text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise Fail(f"--at {text!r} needs a time zone (e.g. +01:00 or Z)")
    try:
        return bounded_time(value, where="--at")
    except OutOfRange as exc:
        raise Fail(exc.message) from None


_STEP_HELP = "\n".join(f"  {name:<15} {' '.join(step_fields(name)) or '-'}" for name in STEPS)


@case.command("log", epilog="\b\nSteps and their key=value fields:\n" + _STEP_HELP)
@click.argument("case_id")
@click.argument("step", type=click.Choice(list(STEPS)))
@click.argument("fields", nargs=-1)
@click.option(
    "--at",
    "at_text",
    default=None,
    help="When the step happened (ISO 8601 with zone); default now.",
)
@click.option("--actor", default="cli", help="Who logs the step.")
@click.pass_context
def case_log(
    ctx: click.Context,
    case_id: str,
    step: str,
    fields: tuple[str, ...],
    at_text: str | None,
    actor: str,
) -> None:
    """Log STEP of a case with key=value FIELDS, e.g. `trocar level=L1 approach=transpedicular`."""

    async def go(cases: CaseService, _db: Database) -> str:
        found = cases.get(case_id) or cases.by_accession(case_id)
        if found is None:
            raise Fail(f"no case {case_id}")
        at = _parse_time(at_text) if at_text else utc_now()
        try:
            command = parse_step(step, list(fields), at=at)
            records = await cases.execute(found.case_id, command, actor=actor, source=Source.CLI)
        except DomainError as exc:
            raise Fail(f"refused: {exc.message}") from None
        case_now = cases.get(found.case_id)
        assert case_now is not None
        return f"logged {step} on case {found.case_id} ({len(records)} event(s)); phase {case_now.phase.value}"

    click.echo(asyncio.run(_with_cases(_settings(ctx), go)))


# The commands of each adapter and tool live beside their code; here they join the root group.
for _command in (
    demo_command,
    tui_command,
    alarm_group,
    vitals_group,
    dicom_group,
    hl7_group,
    broker_group,
    audit_command,
    simulate,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (for tests: `main(["case", "list"])`)."""
    try:
        code = cli.main(args=argv, prog_name="procsuite", standalone_mode=False)
        if isinstance(code, int):  # a command that called ctx.exit(code)
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
