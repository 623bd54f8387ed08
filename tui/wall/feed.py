"""The wall display's read-only view of the suite: an MQTT subscriber folding the service's
public state into the dashboard's `SuiteModel`. It subscribes and never publishes."""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import aiomqtt

from tui.inbox import Inbox
from tui.model import SuiteModel
from tui.mqtt_client import broker_address
from tui.views import Link

log = logging.getLogger(__name__)

# The topics the wall reads: no `reply/...`, no `cmd/...` (it has no user and sends nothing).
TOPICS = ("rooms/+/state", "alarms/+", "rooms/+/vitals/+", "rooms/+/devices/+/status", "status")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WallFeed:
    def __init__(
        self,
        url: str,
        *,
        site: str,
        username: str | None = None,
        password: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        stale_after_s: float = 30.0,
    ) -> None:
        self.host, self.port, self.tls = broker_address(url)
        self.where = url
        self.root = f"procsuite/{site}/"
        self.username, self.password = username, password
        self.clock = clock
        self.model = SuiteModel(stale_after_s=stale_after_s)
        # The wall's Inbox has no user: a `reply/<user>` topic is never subscribed.
        self.inbox = Inbox(user="", clock=clock)
        self.changed = asyncio.Event()

    def _fold(self) -> None:
        """Move everything the inbox decoded into the model (latest state per room)."""
        for state in self.inbox.states.drain():
            self.model.apply_state(state)
        for update in self.inbox.alarms.drain():
            self.model.apply_alarm(update)
        for reading in self.inbox.readings.drain():
            self.model.apply_reading(reading)
        for link in self.inbox.links.drain():
            self.model.apply_link(link)
        self.changed.set()

    async def run(self) -> None:
        """Stay subscribed until cancelled, reconnecting with a doubling wait."""
        delay = 0.5
        while True:
            self.inbox.link(Link.CONNECTING, f"connecting to {self.where}")
            self._fold()
            try:
                async with aiomqtt.Client(
                    self.host, self.port,
                    identifier=f"procsuite-wall-{uuid.uuid4().hex[:8]}",
                    username=self.username, password=self.password, clean_session=True,
                    keepalive=10, tls_context=ssl.create_default_context() if self.tls else None,
                ) as client:  # fmt: skip
                    await client.subscribe([(self.root + t, 1) for t in TOPICS])
                    self.inbox.link(Link.CONNECTED, f"connected to {self.where}")
                    self._fold()
                    delay = 0.5
                    async for message in client.messages:
                        topic = message.topic.value
                        if topic.startswith(self.root) and isinstance(message.payload, bytes):
                            self.inbox.handle(topic[len(self.root) :], message.payload)
                            self._fold()
            except aiomqtt.MqttError as exc:
                log.warning("web: broker %s: %s; retrying in %.1f s", self.where, exc, delay)
                self.inbox.link(Link.DISCONNECTED, str(exc) or "connection lost")
                self._fold()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
