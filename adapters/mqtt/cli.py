"""`procsuite alarm ...` and `procsuite vitals ...` at the terminal.

`alarm list` and `vitals show` read the store (they work with the service stopped);
`alarm ack` is a command to the running service over MQTT, as the terminal UI sends it, so
the service checks the user's role and the acknowledgement is recorded with the user.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiomqtt
import click

from adapters.mqtt.runner import broker_address
from adapters.mqtt.topics import Topics
from suite.cli_settings import settings_of as _settings
from suite.domain.alarms.parameters import PARAMETERS, Param
from suite.settings import Settings
from suite.store import alarms as alarm_store
from suite.store import vitals as vitals_store
from suite.store.database import Database
from suite.store.running import running_database

T = TypeVar("T")
REPLY_TIMEOUT_S = 10.0


async def _with_db(settings: Settings, fn: Callable[[Database], Awaitable[T]]) -> T:
    async with running_database(settings.database_url) as database:
        return await fn(database)


def _t(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@click.group("alarm")
def alarm_group() -> None:
    """List and acknowledge alarms."""


@alarm_group.command("list")
@click.option("--room", default=None, help="Only this room.")
@click.option("--case", "case_id", default=None, help="Only this case.")
@click.option("--all", "show_all", is_flag=True, help="Include cleared alarms.")
@click.pass_context
def alarm_list(ctx: click.Context, room: str | None, case_id: str | None, show_all: bool) -> None:
    """One line per alarm, newest first: id, raised, room, priority, state, kind, message."""

    async def go(db: Database) -> list[str]:
        async with db.session() as s:
            found = await alarm_store.list_alarms(
                s, room=room, case_id=case_id, include_cleared=show_all
            )
        lines = []
        for a in found:
            acked = (
                f"  ack {a.acknowledged_by} {_t(a.acknowledged_at)}" if a.acknowledged_by else ""
            )
            lines.append(
                f"{a.alarm_id}  {_t(a.raised_at)}  {a.room:<6} {a.priority.value.upper():<6} "
                f"{a.state.value:<12} {a.kind:<26} {a.message}{acked}"
            )
        return lines

    lines = asyncio.run(_with_db(_settings(ctx), go))
    click.echo("\n".join(lines) if lines else "no alarms")


async def send_command(
    settings: Settings, user: str, command: dict[str, Any], *, timeout_s: float = REPLY_TIMEOUT_S
) -> dict[str, Any]:
    """Send one command to the running service as `user` and return its reply."""
    host, port, _tls = broker_address(settings.mqtt_url)
    topics = Topics(settings.topic_root)
    command = {"id": f"cli-{uuid.uuid4().hex[:10]}", **command}
    client = aiomqtt.Client(
        host,
        port,
        identifier=f"procsuite-cli-{user}-{os.getpid()}",
        username=settings.mqtt.username,
        password=settings.mqtt.password,
    )
    try:
        async with asyncio.timeout(timeout_s), client:
            await client.subscribe(topics.reply(user), qos=1)
            await client.publish(topics.command(user), json.dumps(command), qos=1)
            async for message in client.messages:
                reply = json.loads(bytes(message.payload))
                if isinstance(reply, dict) and reply.get("id") == command["id"]:
                    return reply
    except aiomqtt.MqttError as exc:
        raise click.ClickException(
            f"cannot reach the service's broker at {host}:{port}: {exc}"
        ) from None
    except TimeoutError:
        raise click.ClickException(
            f"no reply from the service within {timeout_s:.0f} s (is `procsuite serve` running?)"
        ) from None
    raise click.ClickException("the broker closed the connection")


@alarm_group.command("ack")
@click.argument("alarm_id")
@click.option("--user", required=True, help="Who acknowledges (a configured user).")
@click.pass_context
def alarm_ack(ctx: click.Context, alarm_id: str, user: str) -> None:
    """Acknowledge ALARM_ID as USER through the running service."""
    reply = asyncio.run(
        send_command(_settings(ctx), user, {"action": "ack_alarm", "alarm_id": alarm_id})
    )
    if not reply.get("ok"):
        raise click.ClickException(f"refused: {reply.get('error')} ({reply.get('rule')})")
    result = reply.get("result", {})
    click.echo(
        f"acknowledged {alarm_id} ({result.get('kind')}, {result.get('priority')}) by {user};"
        f" state {result.get('state')}"
    )


@click.group("vitals")
def vitals_group() -> None:
    """Stored vital signs."""


@vitals_group.command("show")
@click.argument("case_id")
@click.pass_context
def vitals_show(ctx: click.Context, case_id: str) -> None:
    """Per-minute medians of a case's vitals (device time, UTC)."""

    async def go(db: Database) -> list[str]:
        async with db.session() as s:
            rows = await vitals_store.summary_for_case(s, case_id)
        if not rows:
            return []
        minutes: dict[datetime, dict[Param, float]] = {}
        for param, minute, value in rows:
            minutes.setdefault(minute, {})[param] = value
        head = "minute (UTC)      " + "".join(
            f"{PARAMETERS[p].label + ' ' + PARAMETERS[p].unit:>14}" for p in Param
        )
        lines = [head]
        for minute, values in minutes.items():
            cells = "".join(
                f"{values[p]:>14.{PARAMETERS[p].decimals}f}" if p in values else f"{'-':>14}"
                for p in Param
            )
            lines.append(f"{minute:%Y-%m-%d %H:%M}  {cells}")
        return lines

    lines = asyncio.run(_with_db(_settings(ctx), go))
    click.echo("\n".join(lines) if lines else f"no vitals stored for case {case_id}")
