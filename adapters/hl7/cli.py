"""`procsuite hl7`: what came in and went out, with its ACK; the quarantine; replay.

procsuite hl7 log [--limit N] [--in | --out]
procsuite hl7 show in|out ID
procsuite hl7 quarantine
procsuite hl7 replay ID
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import click

from suite.app.hl7_replay import ReplayRefused, replay_outbound
from suite.cli_settings import settings_of as _settings
from suite.settings import Settings
from suite.store import hl7 as store
from suite.store import hl7_inbound, hl7_outbox
from suite.store.database import Database
from suite.store.running import running_database

T = TypeVar("T")


class Hl7CliError(click.ClickException):
    """A one-line error for IT at the terminal."""


def _with_db(settings: Settings, fn: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        async with running_database(settings.database_url) as db:
            return await fn(db)

    return asyncio.run(go())


def _when(value: datetime | None) -> str:
    """A stored time in this machine's zone (SQLite gives back UTC without a zone)."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"{value.astimezone():%Y-%m-%d %H:%M:%S}"


def _one_line(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def inbound_line(row: store.Hl7InboundRow) -> str:
    control = row.control_id or "-"
    if row.result == "framing":
        return f"in  #{row.id:<6} {_when(row.received_at)}  {'(no message)':<10} {'-':<20} {row.peer:<21} --  {_one_line(row.ack_text)}"
    sender = f"{row.sending_application}/{row.sending_facility}"
    repeats = f" (repeated {row.repeats}x)" if row.repeats else ""
    return (
        f"in  #{row.id:<6} {_when(row.received_at)}  {row.message_type or '?':<10} {control:<20}"
        f" {sender:<21} {row.ack_code or '--'}  {_one_line(row.ack_text)}{repeats}"
    )


def outbound_line(row: store.Hl7OutboxRow) -> str:
    ack = row.ack_code or "--"
    detail = row.last_error if row.status != store.OUTBOX_SENT else f"case {row.case_id}"
    return (
        f"out #{row.id:<6} {_when(row.updated_at)}  {row.message_type:<10} {row.control_id:<20}"
        f" {row.destination:<21} {ack}  {row.status} (attempts {row.attempts})"
        f"{': ' + _one_line(detail, 60) if detail else ''}"
    )


@click.group("hl7")
def hl7_group() -> None:
    """HL7 interface: message log, quarantine and replay (for IT)."""


@hl7_group.command("log")
@click.option("--limit", default=30, show_default=True, help="How many messages of each way.")
@click.option("--in", "only_in", is_flag=True, help="Only received messages.")
@click.option("--out", "only_out", is_flag=True, help="Only sent (or queued) messages.")
@click.pass_context
def log_command(ctx: click.Context, limit: int, only_in: bool, only_out: bool) -> None:
    """Recent messages in and out, newest first, with their ACK."""

    async def go(db: Database) -> list[tuple[datetime, str]]:
        lines: list[tuple[datetime, str]] = []
        if not only_out:
            for r in await db.read(lambda s: store.recent_inbound(s, limit)):
                lines.append((r.received_at, inbound_line(r)))
        if not only_in:
            for o in await db.read(lambda s: store.recent_outbound(s, limit)):
                lines.append((o.updated_at, outbound_line(o)))
        return sorted(lines, key=lambda item: item[0].replace(tzinfo=None), reverse=True)

    lines = _with_db(_settings(ctx), go)
    click.echo("\n".join(line for _, line in lines) if lines else "no HL7 messages yet")


@hl7_group.command("show")
@click.argument("way", type=click.Choice(["in", "out"]))
@click.argument("row_id", type=int)
@click.pass_context
def show_command(ctx: click.Context, way: str, row_id: int) -> None:
    """One message as it went over the wire, one segment a line, and its ACK."""

    async def go(db: Database) -> str:
        row: store.Hl7InboundRow | store.Hl7OutboxRow | None
        if way == "in":
            row = await db.read(lambda s: hl7_inbound.inbound_row(s, row_id))
        else:
            row = await db.read(lambda s: hl7_outbox.outbox_row(s, row_id))
        if row is None:
            raise Hl7CliError(f"no {way}bound message #{row_id}")
        header = inbound_line(row) if isinstance(row, store.Hl7InboundRow) else outbound_line(row)
        body = _segments(row.raw) or "(not built yet)"
        ack = _segments(row.ack_raw) if row.ack_raw else "(no ACK)"
        return f"{header}\n\n{body}\n\nACK:\n{ack}"

    click.echo(_with_db(_settings(ctx), go))


def _segments(raw: bytes | None) -> str:
    if not raw:
        return ""
    text = raw.decode("utf-8", errors="replace")
    return "\n".join(s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s)


@hl7_group.command("quarantine")
@click.pass_context
def quarantine_command(ctx: click.Context) -> None:
    """Outbound messages the receiver refused (AE / AR) or that kept failing."""

    async def go(db: Database) -> list[str]:
        rows = await db.read(
            lambda s: store.recent_outbound(s, 1000, status=store.OUTBOX_QUARANTINED)
        )
        return [outbound_line(r) for r in rows]

    lines = _with_db(_settings(ctx), go)
    click.echo("\n".join(lines) if lines else "quarantine is empty")


@hl7_group.command("replay")
@click.argument("row_id", type=int)
@click.pass_context
def replay_command(ctx: click.Context, row_id: int) -> None:
    """Queue outbound message ROW_ID again (quarantined or sent), with a new control ID.

    It keeps its place in the destination's order, so it goes before newer pending messages.
    """

    async def go(db: Database) -> str:
        try:
            done = await replay_outbound(
                db, row_id, now=datetime.now().astimezone(), user=getpass.getuser(), source="cli"
            )
        except ReplayRefused as exc:
            raise Hl7CliError(str(exc)) from exc
        return (
            f"outbound #{row_id} ({done.message_type}) queued again as control ID {done.control_id}"
        )

    click.echo(_with_db(_settings(ctx), go))
