"""`procsuite devices`: what the device gateways received and sent (for IT).

procsuite devices log [--room R] [--control-id ID] [--errors] [--limit N]   PCD-01 journal
procsuite devices show ID                                                   one raw message
procsuite devices limits [--room R]     the monitors' own limits (OBX-7) beside procsuite's
procsuite devices alerts [--limit N]    PCD-04 messages to the alert manager, with their ACK
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from suite.cli_settings import settings_of as _settings
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.settings import Settings
from suite.store import devices as store
from suite.store.database import Database
from suite.store.running import running_database

T = TypeVar("T")


def _with_db(settings: Settings, fn: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        async with running_database(settings.database_url) as db:
            return await fn(db)

    return asyncio.run(go())


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"{value.astimezone():%Y-%m-%d %H:%M:%S}"


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def pcd01_line(row: store.Pcd01MessageRow) -> str:
    unknown = f" unknown codes {row.unknown_codes}" if row.unknown_codes else ""
    return (
        f"#{row.id:<6} {_when(row.received_at)}  {row.ack_code}  {row.control_id or '-':<18}"
        f" {row.location or '-':<16} -> {row.room or '?':<6} {row.devices or '-':<12}"
        f" samples {row.samples}{unknown}{'  ' + _short(row.error) if row.error else ''}"
    )


@click.group("devices")
def devices_group() -> None:
    """Device gateways: the PCD-01 journal, monitor limits, PCD-04 alarm messages."""


@devices_group.command("log")
@click.option("--room", default=None, help="Only messages mapped to this room.")
@click.option("--control-id", default=None, help="Only the message with this MSH-10.")
@click.option("--errors", is_flag=True, help="Only messages answered AE or AR.")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def log_command(
    ctx: click.Context, room: str | None, control_id: str | None, errors: bool, limit: int
) -> None:
    """PCD-01 messages received, newest first, with the answer and what they gave."""

    async def go(db: Database) -> list[store.Pcd01MessageRow]:
        async with db.session() as s:
            rows = await store.list_pcd01(s, limit=limit * (4 if errors else 1), room=room,
                                          control_id=control_id)  # fmt: skip
        return [r for r in rows if not errors or r.ack_code != "AA"][:limit]

    rows = _with_db(_settings(ctx), go)
    if not rows:
        click.echo("no PCD-01 messages")
    for row in rows:
        click.echo(pcd01_line(row))


@devices_group.command("show")
@click.argument("message_id", type=int)
@click.pass_context
def show_command(ctx: click.Context, message_id: int) -> None:
    """One PCD-01 message as received (segments on their own lines) and its answer."""

    async def go(db: Database) -> store.Pcd01MessageRow | None:
        async with db.session() as s:
            return await s.get(store.Pcd01MessageRow, message_id)

    row = _with_db(_settings(ctx), go)
    if row is None:
        raise click.ClickException(f"no PCD-01 message #{message_id}")
    click.echo(pcd01_line(row))
    click.echo(row.raw.replace("\r", "\n").rstrip())


@devices_group.command("limits")
@click.option("--room", default=None, help="Only this room.")
@click.pass_context
def limits_command(ctx: click.Context, room: str | None) -> None:
    """The alarm limits each monitor reported (OBX-7) beside procsuite's configured ones."""
    settings = _settings(ctx)
    config = settings.alarms.engine_config()

    async def go(db: Database) -> dict[tuple[str, str], dict[str, Any]]:
        async with db.session() as s:
            rows = await store.list_pcd01(s, limit=2000, room=room, ack_code="AA")
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:  # newest first: the first seen per device wins
            for device, limits in (row.limits or {}).items():
                latest.setdefault((row.room or "?", device), limits)
        return latest

    found = _with_db(settings, go)
    if not found:
        click.echo("no monitor limits received")
    for (room_name, device), limits in sorted(found.items()):
        for key, (low, high) in sorted(limits.items()):
            info = PARAMETERS[Param(key)]
            ours = config.limit_for(Param(key), None)
            click.echo(
                f"{room_name:<6} {device:<12} {info.label:<9} monitor {_range(low, high):<12}"
                f" procsuite {_range(ours.low, ours.high)} {info.unit}"
            )


def _range(low: float | None, high: float | None) -> str:
    return f"{'-' if low is None else f'{low:g}'}..{'-' if high is None else f'{high:g}'}"


@devices_group.command("alerts")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def alerts_command(ctx: click.Context, limit: int) -> None:
    """PCD-04 messages to the alert manager, newest first: phase, answer, attempts."""

    async def go(db: Database) -> tuple[list[store.Pcd04MessageRow], int]:
        async with db.session() as s:
            return await store.list_pcd04(s, limit=limit), await store.pcd04_backlog(s)

    rows, backlog = _with_db(_settings(ctx), go)
    click.echo(f"{backlog} waiting for the alert manager")
    for r in rows:
        state = f"sent {_when(r.sent_at)}" if r.sent_at else "waiting"
        error = f"  {_short(r.last_error, 50)}" if r.last_error else ""
        click.echo(
            f"#{r.id:<6} {r.control_id:<14} {r.room:<6} {r.alarm_id:<36} {r.phase:<9}"
            f" {r.ack_code or '--':<3} {state} (attempts {r.attempts}){error}"
        )
