"""The embedded MQTT broker of the demo and the tests: amqtt, in process, on loopback.

Production runs mosquitto (DESIGN.md). amqtt is an optional extra (`procsuite[embedded]`)
because it pins `websockets` exactly; it is imported only when the broker starts.

Configured explicitly (amqtt's defaults bind 0.0.0.0 and add packet loggers and `$SYS`):
one TCP listener on the host and port of `mqtt_url`, which must be a loopback address, and
one plugin, `LoopbackAuth`. amqtt's own anonymous plugin marks every session anonymous, and
amqtt keeps no queued messages for anonymous sessions, so the service's persistent session
(clean_session false) would lose the vitals sent while it reconnects. On loopback every
client is local; `LoopbackAuth` lets each in as an identified client.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from suite.errors import ConfigError

log = logging.getLogger(__name__)


class BrokerConfigError(ConfigError):
    """The embedded broker cannot run with this configuration (the message says why)."""


def loopback_address(url: str) -> tuple[str, int]:
    """(host, port) of an mqtt:// URL whose host is a loopback address."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise BrokerConfigError(f"the embedded broker speaks mqtt://, not {parts.scheme}://")
    host = parts.hostname or "127.0.0.1"
    try:
        is_loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise BrokerConfigError(
            f"the embedded broker binds loopback only; mqtt_url host {host!r} is not loopback"
        )
    return ("127.0.0.1" if host == "localhost" else host), parts.port or 1883


class EmbeddedBroker:
    """A Component: runs amqtt until cancelled; `started` is set once it listens."""

    name = "mqtt-broker"

    def __init__(self, url: str) -> None:
        self.host, self.port = loopback_address(url)
        self.started = asyncio.Event()
        self._broker: Any = None

    async def start(self) -> None:
        try:
            from adapters.mqtt.amqtt_broker import LoopbackBroker
        except ImportError as exc:  # the optional extra is not installed
            raise BrokerConfigError(
                "the embedded broker needs amqtt: pip install 'procsuite[embedded]'"
            ) from exc
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"adapters.mqtt.amqtt_broker.LoopbackAuth": {}},
        }
        self._broker = LoopbackBroker(config)
        await self._broker.start()
        self.started.set()
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            self.started.clear()
            await broker.shutdown()
            log.info("embedded MQTT broker stopped")

    async def run(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
