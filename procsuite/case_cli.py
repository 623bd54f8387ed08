"""`procsuite case`: list, show, schedule and log steps of cases from a shell.

Writes go through the running service when there is one (over the command contract, as the
user given by `--actor`, with `--password` or PROCSUITE_CLI_PASSWORD when the broker asks
for one), so its role checks, lease fence, audit trail and outbox apply as for the
dashboard. With no service running they run the same use cases on the database directly,
as a local administrator, and say so. Reads come from the database.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from procsuite.local import local_actions
from procsuite.remote import through_service
from suite.app.actions import Actions
from suite.app.requests import Caller, LogStep, Request, ScheduleCase, StepLogged
from suite.app.steps import STEPS, step_fields
from suite.app.timeline import render
from suite.cli_settings import settings_of as _settings
from suite.clock import utc_now
from suite.domain.bounds import OutOfRange, bounded_time
from suite.domain.envelope import Source
from suite.errors import DomainError, StoreError
from suite.settings import Role, Settings
from suite.store import cases as case_store
from suite.store.database import Database

T = TypeVar("T")

LOCALLY = "no service running: applied to the database directly"


class Fail(click.ClickException):
    """A one-line error for the person at the terminal (exit code 1)."""


@click.group()
def case() -> None:
    """List, show, schedule and log steps of cases without the terminal UI."""


async def _reading(settings: Settings, fn: Callable[[Actions, Database], Awaitable[T]]) -> T:
    async with local_actions(settings) as (actions, database):
        return await fn(actions, database)


@case.command("list")
@click.option(
    "--all", "show_all", is_flag=True, help="Include discharged, cancelled and aborted cases."
)
@click.pass_context
def case_list(ctx: click.Context, show_all: bool) -> None:
    """One line per case: id, scheduled time, room, procedure, levels, phase."""

    async def go(actions: Actions, _db: Database) -> list[str]:
        cases = actions.cases
        chosen = cases.all() if show_all else cases.open_cases()
        return [
            f"{k.case_id}  {k.scheduled_at:%Y-%m-%d %H:%M}  {k.room:<6} {k.procedure.value:<15}"
            f" {','.join(map(str, k.order.levels)):<10} {k.phase.value}"
            for k in chosen
        ]

    lines = asyncio.run(_reading(_settings(ctx), go))
    click.echo("\n".join(lines) if lines else "no cases")


@case.command("show")
@click.argument("case_id")
@click.pass_context
def case_show(ctx: click.Context, case_id: str) -> None:
    """The case's timeline: every step with its time, who logged it and from where."""

    async def go(actions: Actions, database: Database) -> str:
        try:
            found = actions.find_case(case_id)
        except DomainError as exc:
            raise Fail(exc.message) from None
        async with database.session() as session:
            records = await case_store.load(session, found.case_id)
        return render(found, records, now=utc_now())

    click.echo(asyncio.run(_reading(_settings(ctx), go)))


# ---- writes: through the service when one runs ----------------------------------------------


def _wire_body(request: Request) -> tuple[str, dict[str, Any]]:
    """The command contract's action and body for a request (docs/mqtt.md "Commands")."""
    if isinstance(request, LogStep):
        fields = {}
        for word in request.words:
            key, _, value = word.partition("=")
            fields[key.strip()] = value
        body: dict[str, Any] = {"case_id": request.case_ref, "step": request.step}
        body["fields"] = fields
        if request.at is not None:
            body["at"] = request.at.isoformat()
        return "log_step", body
    assert isinstance(request, ScheduleCase)
    fields = dict(request.fields)
    if request.scheduled_at is not None:
        fields["at"] = request.scheduled_at.isoformat()
    return "schedule_case", {"fields": fields}


async def _perform(
    settings: Settings, request: Request, *, actor: str, password: str | None
) -> tuple[dict[str, Any], str]:
    """The result and how it was applied; `Fail` with the refusal in words."""
    action, body = _wire_body(request)
    answered = await through_service(
        settings, user=actor, password=password, action=action, body=body
    )
    if answered is not None:
        reply, instance = answered
        if not reply.ok:
            raise Fail(f"refused: {reply.error}")
        where = f"through the service (instance {instance})" if instance else "through the service"
        return reply.result, where
    async with local_actions(settings) as (actions, _db):
        # A local operator has the database itself: they act as an administrator, named.
        caller = Caller(user=actor, source=Source.CLI, role=Role.ADMIN)
        try:
            return await actions.perform(caller, request), LOCALLY
        except DomainError as exc:
            raise Fail(f"refused: {exc.message}") from None
        except StoreError as exc:
            raise Fail(f"not stored: {exc}; try again") from None


_PASSWORD = click.option(
    "--password",
    default=None,
    envvar="PROCSUITE_CLI_PASSWORD",
    help="The actor's broker password, when the service's broker asks for one.",
)


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
@_PASSWORD
@click.pass_context
def case_schedule(ctx: click.Context, /, **opts: Any) -> None:
    """Schedule a case (normally done by an HL7 order); prints its id."""
    fields = {
        "mrn": opts["mrn"],
        "name": opts["name"],
        "birth_date": opts["birth_date"],
        "sex": opts["sex"],
        "accession": opts["accession"],
        "procedure": opts["procedure"],
        "levels": opts["levels"].split(","),
        "indication": opts["indication"],
        "fracture_date": opts["fracture_date"],
        "room": opts["room"],
    }
    ordered = _parse_time(opts["ordered"], "--ordered-at") if opts["ordered"] else None
    scheduled = _parse_time(opts["scheduled"], "--at") if opts["scheduled"] else ordered
    request = ScheduleCase(fields=fields, ordered_at=ordered, scheduled_at=scheduled)
    result, where = asyncio.run(
        _perform(_settings(ctx), request, actor=opts["actor"], password=opts["password"])
    )
    click.echo(f"procsuite: {where}", err=True)
    click.echo(result["case_id"])


def _parse_time(text: str, option: str = "--at") -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Fail(f"{option} {text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise Fail(f"{option} {text!r} needs a time zone (e.g. +01:00 or Z)")
    try:
        return bounded_time(value, where=option)
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
@click.option("--actor", default=lambda: os.environ.get("USER") or "cli", help="Who logs it.")
@_PASSWORD
@click.pass_context
def case_log(
    ctx: click.Context,
    case_id: str,
    step: str,
    fields: tuple[str, ...],
    at_text: str | None,
    actor: str,
    password: str | None,
) -> None:
    """Log STEP of a case with key=value FIELDS, e.g. `trocar level=L1 approach=transpedicular`."""
    request = LogStep(
        case_ref=case_id,
        step=step,
        words=list(fields),
        at=_parse_time(at_text) if at_text else None,
    )
    result, where = asyncio.run(_perform(_settings(ctx), request, actor=actor, password=password))
    logged = StepLogged(**result)
    click.echo(
        f"logged {step} on case {logged.case_id} ({len(logged.events)} event(s));"
        f" phase {logged.phase} ({where})"
    )
