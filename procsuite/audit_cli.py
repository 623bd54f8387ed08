"""`procsuite audit`: who did what, when and from where (read-only; works with the service
stopped)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import click

from suite.cli_settings import settings_of as _settings
from suite.domain.bounds import OutOfRange, bounded_time
from suite.settings import Settings
from suite.store import migrate
from suite.store.audit_trail import AuditEntry, audit_trail, entry_line
from suite.store.database import Database


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time", param_hint="--since"
        ) from None
    parsed = parsed if parsed.tzinfo is not None else parsed.astimezone(UTC)
    try:
        return bounded_time(parsed, where="--since")
    except OutOfRange as exc:
        raise click.BadParameter(exc.message, param_hint="--since") from None


async def _read(settings: Settings, **query: Any) -> list[AuditEntry]:
    await migrate.upgrade(settings.database_url)
    db = Database.from_url(settings.database_url)
    try:
        async with db.session() as session:
            return await audit_trail(session, **query)
    finally:
        await db.dispose()


@click.command("audit")
@click.option("--since", help="Only from this ISO time on (e.g. 2026-11-24T08:00, local zone).")
@click.option("--user", help="Only what this user did.")
@click.option("--limit", default=100, show_default=True, help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def audit_command(
    ctx: click.Context, since: str | None, user: str | None, limit: int, as_json: bool
) -> None:
    """Commands, alarm acknowledgements and limit changes, with user, time and source."""
    settings = _settings(ctx)
    entries = asyncio.run(_read(settings, since=_since(since), user=user, limit=limit))
    for e in entries:
        if as_json:
            click.echo(
                json.dumps(
                    {"at": e.at.isoformat(), "user": e.user, "source": e.source,
                     "action": e.action, "subject": e.subject, "detail": e.detail},
                    default=str,
                )
            )  # fmt: skip
        else:
            click.echo(entry_line(e))
    if not entries and not as_json:
        click.echo("no audit entries", err=True)
