"""A command of the command line, sent through the running service when there is one.

The service is running when its broker accepts a connection and its retained status says
online within `probe_s`. The command then goes over the public command contract
(`cmd/<user>` and `reply/<user>`, docs/mqtt.md) as that user, with their broker password
when the site uses them, so the service's own checks, fence and audit apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from simulators.monitor import MqttTarget
from simulators.mqtt_commands import CommandLink, LinkError, Reply
from suite.settings import Settings

PROBE_S = 2.0


def _broker_listens(url: str, *, timeout_s: float) -> bool:
    target = MqttTarget.parse(url)
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout_s):
            return True
    except OSError:
        return False


async def through_service(
    settings: Settings,
    *,
    user: str,
    password: str | None,
    action: str,
    body: dict[str, Any],
    probe_s: float = PROBE_S,
    reply_timeout_s: float = 15.0,
) -> tuple[Reply, str] | None:
    """The service's reply and the instance that answered; None when no service runs."""
    listening = await asyncio.to_thread(
        _broker_listens, settings.mqtt_url, timeout_s=min(probe_s, 1.0)
    )
    if not listening:
        return None
    link = CommandLink(
        settings.mqtt_url,
        site=settings.site,
        user=user,
        password=password,
        connect_timeout_s=probe_s,
        reply_timeout_s=reply_timeout_s,
        reconnect_max_s=0.5,
    )
    try:
        async with link:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(probe_s):
                    await link.service_online.wait()
            if not link.service_online.is_set():
                return None
            reply = await link.send(action, **body)
            return reply, reply.instance
    except LinkError:
        return None
