"""`procsuite status`: the running service's retained status (`procsuite/<site>/status`, the
same the IT view shows), read from the broker: whether it is online, its site alarms and
notices (a failed component, samples for a room nobody serves) and its ingest counters.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from typing import Any

import aiomqtt
import click

from adapters.mqtt.runner import broker_address
from adapters.mqtt.tls import client_tls_context
from adapters.mqtt.topics import Topics
from suite.cli_settings import settings_of as _settings
from suite.settings import Settings


async def read_status(settings: Settings, *, timeout_s: float) -> dict[str, Any] | None:
    """The retained service status, or None when none arrives within `timeout_s`."""
    host, port, tls = broker_address(settings.mqtt_url)
    client = aiomqtt.Client(
        host,
        port,
        identifier=f"procsuite-status-{os.getpid()}",
        username=settings.mqtt.username,
        password=settings.mqtt.password,
        tls_context=client_tls_context(settings.mqtt) if tls else None,
    )
    try:
        async with asyncio.timeout(timeout_s), client:
            await client.subscribe(Topics(settings.topic_root).status, qos=1)
            async for message in client.messages:
                body = json.loads(bytes(message.payload))
                return body if isinstance(body, dict) else None
    except (TimeoutError, aiomqtt.MqttError):
        return None
    return None


def status_lines(status: Mapping[str, Any]) -> list[str]:
    """The status for a person: state, site alarms and notices, then the ingest counters."""
    ingest = status.get("ingest") or {}
    lines = [
        f"{'online' if status.get('online') else 'OFFLINE'}  site={status.get('site')}"
        f"  instance={status.get('instance')}  rooms={','.join(status.get('rooms') or [])}"
        f"  as of {status.get('at')}",
    ]
    alarms = status.get("site_alarms") or []
    lines.append(f"site alarms and notices: {len(alarms)}")
    lines += [
        f"  {a.get('priority', '?'):<6} {a.get('kind')} [{a.get('about')}] since"
        f" {a.get('raised_at')}: {a.get('message')}"
        for a in alarms
    ]
    unknown = ingest.get("unknown_rooms") or {}
    if unknown:
        rooms = ", ".join(f"{room} ({n})" for room, n in sorted(unknown.items()))
        lines.append(f"samples for rooms not served here: {rooms}")
    faults = ingest.get("faults") or {}
    if faults:
        lines.append("input faults: " + ", ".join(f"{k}={v}" for k, v in sorted(faults.items())))
    return lines


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--wait", "wait_s", default=5.0, show_default=True, help="Seconds to wait for it.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool, wait_s: float) -> None:
    """Show the running service's status (as the IT view does), from the broker."""
    settings = _settings(ctx)
    status = asyncio.run(read_status(settings, timeout_s=wait_s))
    if status is None:
        raise click.ClickException(
            f"no service status on {settings.mqtt_url} within {wait_s:g} s"
            " (is `procsuite serve` running?)"
        )
    if as_json:
        click.echo(json.dumps(status, indent=2, sort_keys=True))
        return
    for line in status_lines(status):
        click.echo(line)
    if not status.get("online"):
        ctx.exit(1)
