"""The amqtt pieces of the embedded broker; imported only when it starts (amqtt is the
optional extra `procsuite[embedded]`)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin


class LoopbackAuth(BaseAuthPlugin):  # type: ignore[misc]
    """Lets every client in as an identified (non-anonymous) session.

    amqtt keeps no queued QoS 1 messages for anonymous sessions; the broker listens on
    loopback only, so every client is local and may keep a persistent session.
    """

    @dataclass
    class Config:
        pass

    async def authenticate(self, *, session: Any) -> bool:
        return True


class LoopbackBroker(Broker):  # type: ignore[misc]
    """amqtt's broker with two faults of amqtt 0.12.1 mended (pinned: `amqtt>=0.12,<0.13`).

    - On every connection it sends the client the retained messages of every topic filter
      *any* client subscribed to (broker.py, "publish retained messages to a pre-existing
      session's subscriptions"): a new `mosquitto_sub -t .../reply/nurse1` received a
      device status. Retained messages now go only with the session's own subscriptions.
    - It can leave a client's stream open after handling it (seen when a client disconnects
      while a QoS 1 message to it is in flight): a socket kept until garbage collection and
      a ResourceWarning. Each stream is closed when its handler returns, and any still open
      at shutdown.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._streams: set[asyncio.StreamWriter] = set()

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        self._streams.add(writer)
        try:
            await super().stream_connected(reader, writer, listener_name)
        finally:
            self._streams.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        topic_filter = subscription[0]
        holders = self._subscriptions.get(topic_filter, [])
        if any(s.client_id == session.client_id for s, _qos in holders):
            await super()._publish_retained_messages_for_subscription(subscription, session)

    async def shutdown(self) -> None:
        await super().shutdown()
        for writer in list(self._streams):
            writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                async with asyncio.timeout(1):
                    await writer.wait_closed()
        self._streams.clear()
