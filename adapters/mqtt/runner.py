"""The MQTT runner: one aiomqtt connection in a reconnect loop, and the loops that use it.

aiomqtt does not reconnect by itself; as its reconnection guide shows, the runner wraps
`async with Client(...)` in a retry loop with a doubling wait (`reconnect_min_s` to
`reconnect_max_s`). The service keeps one fixed client id and a persistent session
(clean_session false) with QoS 1 subscriptions, so while it reconnects the broker queues the
monitors' QoS 1 vitals and the TUIs' commands for it.

While connected: every message goes to ingest or the command channel as paho reads it
(synchronously: nothing there waits), and the publishers send alarm events (in order, from
the outbox), room states (rate-limited), command replies and the status. Each instance has
its own `procsuite/<site>/status/<instance>`, which its last will marks offline; the instance
with the site-wide duties also keeps the site's `procsuite/<site>/status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from adapters.mqtt import codec
from adapters.mqtt.commands import CommandChannel
from adapters.mqtt.ingest import Ingest
from adapters.mqtt.outbox import AlarmOutbox
from adapters.mqtt.state import RoomStates
from adapters.mqtt.topics import Kind, Topics
from suite.errors import ConfigError
from suite.tasks import run_together

log = logging.getLogger(__name__)


class UrlError(ConfigError, ValueError):
    """`mqtt_url` is not mqtt://host[:port] or mqtts://host[:port]."""


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of a broker URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise UrlError(f"mqtt_url {url!r} must look like mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


class _Dispatch(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's incoming "queue", which hands each message on as paho reads it.

    aiomqtt calls `put_nowait` from paho's on_message, in the event loop's thread; handling
    the message right there (ingest never waits) saves a task and a queue hop per message,
    and leaves no unbounded queue in the service: when it is slower than the feed, the
    backlog stays in TCP and in the broker's queue for our session.
    """

    handler: Callable[[aiomqtt.Message], None] = staticmethod(lambda m: None)

    def put_nowait(self, item: aiomqtt.Message) -> None:
        self.handler(item)


class MqttRunner:
    name = "mqtt"

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        topics: Topics,
        ingest: Ingest,
        commands: CommandChannel,
        outbox: AlarmOutbox,
        states: RoomStates,
        status: Callable[[], dict[str, Any]],
        username: str | None = None,
        password: str | None = None,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        status_interval_s: float = 5.0,
        broker_ready: asyncio.Event | None = None,
        tls_context: ssl.SSLContext | None = None,
        instance: str = "procsuite",
        site_status: bool = True,
    ) -> None:
        self.host, self.port, self.tls = broker_address(url)
        # Each instance's status (retained; the last will says offline) and, from the
        # instance with the site-wide duties, the site's status as well.
        self.status_topics = [topics.instance_status(instance)]
        if site_status:
            self.status_topics.append(topics.status)
        self.client_id = client_id
        self.topics = topics
        self.ingest = ingest
        self.commands = commands
        self.outbox = outbox
        self.states = states
        self.status = status
        self.username, self.password = username, password
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self.status_interval_s = status_interval_s
        self.broker_ready = broker_ready
        self.tls_context = tls_context
        self.connected = asyncio.Event()
        self._stopping = False  # set once a stop (cancellation) reached the session
        self.connections = 0
        self.handler_errors = 0
        self.unexpected_topics = 0
        self._held_reply: tuple[str, bytes] | None = None

    # ---- the connection loop ------------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        outer = self

        class Dispatch(_Dispatch):
            handler = staticmethod(outer._on_message)

        return aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            username=self.username,
            password=self.password,
            clean_session=False,
            keepalive=15,
            will=aiomqtt.Will(
                self.status_topics[0], codec.to_json({"online": False}), qos=1, retain=True
            ),
            queue_type=Dispatch,
            tls_context=(self.tls_context or ssl.create_default_context()) if self.tls else None,
        )

    async def run(self) -> None:
        await run_together(
            {
                "mqtt-housekeeping": self._housekeeping(),
                "mqtt-case-feed": self.states.follow_cases(),
                "mqtt-connection": self._connect_loop(),
            }
        )

    async def _connect_loop(self) -> None:
        if self.broker_ready is not None:
            await self.broker_ready.wait()
        delay = self.reconnect_min_s
        while True:
            try:
                async with self._client() as client:
                    delay = self.reconnect_min_s
                    await self._session(client)
            except* aiomqtt.MqttError as group:
                reason = "; ".join(str(e) for e in group.exceptions)
                log.warning(
                    "mqtt: broker %s:%d unavailable (%s); retrying in %.1f s",
                    self.host, self.port, reason, delay,
                )  # fmt: skip
            except* Exception:
                # Not a broker problem: a fault of ours. Keep the alarm path alive: log it
                # with its traceback and start a fresh connection.
                log.exception("mqtt: connection loop failed; reconnecting")
            finally:
                self.connected.clear()
            if self._stopping:
                # The stop reached the session, but aiomqtt's exit turned it into an
                # MqttError while disconnecting: stop now instead of reconnecting. (Not
                # Task.cancelling(): Python 3.11's TaskGroup leaves it raised after a
                # child's failure, which would stop us on every broker restart.)
                raise asyncio.CancelledError
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.reconnect_max_s)

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.subscribe([(t, 1) for t in self.topics.subscriptions])
        await self._status(client, self.status())
        self.connections += 1
        self.connected.set()
        log.info("mqtt: connected to %s:%d as %s", self.host, self.port, self.client_id)
        try:
            await run_together(
                {
                    "mqtt-receive": self._receive(client),
                    "mqtt-alarm-outbox": self.outbox.pump(client),
                    "mqtt-room-state": self.states.pump(client),
                    "mqtt-replies": self._replies(client),
                    "mqtt-status": self._publish_status(client),
                }
            )
        except asyncio.CancelledError:
            self._stopping = True
            # Stopping: a clean disconnect sends no last will, so say offline ourselves.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(1):
                    await self._status(client, {"online": False})
            raise

    # ---- receiving ----------------------------------------------------------------------------

    async def _receive(self, client: aiomqtt.Client) -> None:
        # Messages are handled as they arrive (`_Dispatch`); this only waits for the
        # connection to end, which aiomqtt reports by raising MqttError here.
        async for _message in client.messages:
            pass

    def _on_message(self, message: aiomqtt.Message) -> None:
        self.handle(message.topic.value, message.payload)

    def handle(self, topic: str, payload: Any) -> None:
        """Route one message; a fault of ours is logged and counted, never fatal."""
        parsed = self.topics.parse(topic)
        if parsed is None:
            self.unexpected_topics += 1
            return
        kind, room, who = parsed
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, bytearray | memoryview):
            data = bytes(payload)
        else:  # aiomqtt allows str, numbers, None
            data = b"" if payload is None else str(payload).encode()
        try:
            if kind is Kind.VITALS:
                self.ingest.vitals(room, who, data)
            elif kind is Kind.STATUS:
                self.ingest.status(room, who, data)
            else:
                self.commands.offer(who, data)
        except Exception:
            self.handler_errors += 1
            n = self.handler_errors
            if n & (n - 1) == 0:  # the 1st, 2nd, 4th, 8th...: visible, never a flood
                log.exception(
                    "mqtt: handling a message on %s failed (%d so far); it is dropped", topic, n
                )

    # ---- publishing ---------------------------------------------------------------------------

    async def _replies(self, client: aiomqtt.Client) -> None:
        while True:
            if self._held_reply is None:
                self._held_reply = await self.commands.replies.get()
            user, payload = self._held_reply
            await client.publish(self.topics.reply(user), payload, qos=1)
            self._held_reply = None

    async def _publish_status(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self.status_interval_s)
            await self._status(client, self.status())

    async def _status(self, client: aiomqtt.Client, status: dict[str, Any]) -> None:
        payload = codec.to_json(status)
        for topic in self.status_topics:
            await client.publish(topic, payload, qos=1, retain=True)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.ingest.sweep()
