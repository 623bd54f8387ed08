"""`SuiteClient` over the service's public MQTT contract (docs/mqtt.md), with aiomqtt.

aiomqtt does not reconnect by itself: `run` wraps `async with Client(...)` in a retry loop
with a doubling wait, as aiomqtt's reconnection guide shows. A terminal keeps no broker
session (clean session): after a reconnect the retained room snapshots arrive again, and
the link status says `resync` so the dashboard asks the service to republish everything.

Subscriptions under `procsuite/<site>`: `rooms/+/state` (retained snapshots), `alarms/+`
(QoS 1 lifecycle events), `rooms/+/vitals/+` (monitor samples, for the trends),
`rooms/+/devices/+/status`, `status` (the service's own, retained) and `reply/<user>`.
Commands go to `cmd/<user>` with a fresh id; `send` waits for the reply with that id.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from suite.clock import utc_now
from tui import wire
from tui.client import OFFLINE, TIMEOUT
from tui.inbox import Inbox, InboxStreams
from tui.views import Link, Reply

log = logging.getLogger(__name__)


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of mqtt://host[:port] or mqtts://host[:port]."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"broker URL {url!r} must look like mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


class MqttSuiteClient(InboxStreams):
    """The dashboard's connection to one site's service through its MQTT broker."""

    def __init__(
        self,
        url: str,
        *,
        site: str,
        user: str,
        username: str | None = None,
        password: str | None = None,
        reply_timeout_s: float = 10.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not user or any(ch in user for ch in "/#+ "):
            raise ValueError(f"user name {user!r} cannot be part of an MQTT topic")
        self.host, self.port, self.tls = broker_address(url)
        self.where = url
        self.site, self.user = site, user
        self.root = f"procsuite/{site}"
        self.username, self.password = username, password
        self.reply_timeout_s = reply_timeout_s
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self.inbox = Inbox(user=user, clock=clock)
        self._client: aiomqtt.Client | None = None
        self._ids = 0
        self._prefix = uuid.uuid4().hex[:8]

    # ---- the streams ----------------------------------------------------------------------

    # ---- commands -------------------------------------------------------------------------

    async def send(self, action: str, **fields: Any) -> Reply:
        """Send a command as this user and wait for its reply (or say why there is none)."""
        self._ids += 1
        command_id = f"{self.user}-{self._prefix}-{self._ids}"
        client = self._client
        if client is None:
            return Reply(command_id, False, error="not connected to the service", rule=OFFLINE)
        payload = wire.encode_command(command_id, action, fields)
        done = self.inbox.expect(command_id)
        try:
            await client.publish(f"{self.root}/cmd/{self.user}", payload, qos=1)
            async with asyncio.timeout(self.reply_timeout_s):
                return await done
        except aiomqtt.MqttError as exc:
            return Reply(command_id, False, error=f"not sent: {exc}", rule=OFFLINE)
        except TimeoutError:
            return Reply(
                command_id,
                False,
                error=f"no answer from the service within {self.reply_timeout_s:g} s; it may"
                " or may not have been done: check the case before repeating",
                rule=TIMEOUT,
            )
        finally:
            self.inbox.pending.pop(command_id, None)

    # ---- the connection loop --------------------------------------------------------------

    def _make_client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            identifier=f"procsuite-tui-{self.user}-{self._prefix}",
            username=self.username,
            password=self.password,
            clean_session=True,
            keepalive=10,
            tls_context=ssl.create_default_context() if self.tls else None,
        )

    async def run(self) -> None:
        """Stay connected until cancelled, reconnecting with a doubling wait."""
        delay = self.reconnect_min_s
        attempt = 0
        connected_before = False
        root = self.root + "/"
        while True:
            attempt += 1
            self.inbox.link(Link.CONNECTING, f"connecting to {self.where}", attempt=attempt)
            try:
                async with self._make_client() as client:
                    await client.subscribe(
                        [
                            (f"{root}rooms/+/state", 1),
                            (f"{root}rooms/+/state/it", 1),
                            (f"{root}alarms/+", 1),
                            (f"{root}rooms/+/vitals/+", 0),
                            (f"{root}rooms/+/devices/+/status", 1),
                            (f"{root}status", 1),
                            (f"{root}reply/{self.user}", 1),
                        ]
                    )
                    self._client = client
                    self.inbox.link(
                        Link.CONNECTED, f"connected to {self.where}", resync=connected_before
                    )
                    connected_before = True
                    attempt, delay = 0, self.reconnect_min_s
                    async for message in client.messages:
                        topic = message.topic.value
                        if topic.startswith(root):
                            self.inbox.handle(topic[len(root) :], _bytes(message.payload))
            except aiomqtt.MqttError as exc:
                log.warning("tui: broker %s: %s; retrying in %.1f s", self.where, exc, delay)
                self.inbox.link(Link.DISCONNECTED, str(exc) or "connection lost", attempt=attempt)
            finally:
                self._client = None
                self.inbox.fail_pending("the connection dropped before the answer came", OFFLINE)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_s)
