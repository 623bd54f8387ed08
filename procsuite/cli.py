"""The `procsuite` command line."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from adapters.devices.cli import devices_group
from adapters.dicom.cli import dicom_group
from adapters.hl7.cli import hl7_group
from adapters.mqtt.broker_cli import broker_group
from adapters.mqtt.cli import alarm_group, vitals_group
from adapters.mqtt.status_cli import status_command
from procsuite.audit_cli import audit_command
from procsuite.bootstrap import Service
from procsuite.case_cli import case
from procsuite.demo_cli import demo_command
from simulators.cli import simulate
from suite import logs
from suite.cli_settings import preflighted
from suite.cli_settings import settings_of as _settings
from suite.report.cli import report_command
from suite.settings import Settings
from suite.store import migrate
from tui.cli import tui_command
from tui.wall.cli import web_command

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


# The commands of each adapter and tool live beside their code; here they join the root group.
for _command in (
    case,
    demo_command,
    tui_command,
    alarm_group,
    vitals_group,
    dicom_group,
    hl7_group,
    devices_group,
    broker_group,
    audit_command,
    simulate,
    report_command,
    web_command,
    status_command,
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
