"""The simulated bedside monitor on MQTT: publishes what `MonitorModel` says, when it says.

Wire contract (the one a real monitor gateway uses; DESIGN.md "Wire contracts"):
- vitals: `procsuite/<site>/rooms/<room>/vitals/<device>`, JSON, QoS 1, not retained;
- status: `procsuite/<site>/rooms/<room>/devices/<device>/status`, `online` retained on
  connect, `offline` retained as the MQTT last will (the broker sends it when the connection
  drops) and, on a clean stop, published by the monitor itself before it disconnects.

The runner keeps one connection, reconnecting after `reconnect_s`, doubling up to 10 s while
the broker stays away (aiomqtt does not reconnect by itself). Samples taken while
disconnected are dropped and counted, as a live monitor feed does: nothing is queued, so
nothing old arrives late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import aiomqtt

from simulators.clock import SimClock
from simulators.monitor_model import MonitorModel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MqttTarget:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> MqttTarget:
        """`mqtt://[user[:password]@]host[:port]` (port 1883 by default), or `mqtts://` for
        TLS (port 8883), trusting the system's CAs or the bundle in SSL_CERT_FILE."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl") or not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} must look like mqtt://host:1883 or mqtts://host")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def tls_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context() if self.tls else None


@dataclass
class MonitorStats:
    """What the monitor did, for the CLI summary and for tests."""

    ticks: int = 0
    published: int = 0
    hidden: int = 0  # ticks with no message (drop-out or offline scenario)
    dropped: int = 0  # messages lost because the connection was down
    connects: int = 0
    wills: int = 0  # connections dropped on purpose (offline scenario)


def vitals_topic(site: str, room: str, device: str) -> str:
    return f"procsuite/{site}/rooms/{room}/vitals/{device}"


def status_topic(site: str, room: str, device: str) -> str:
    return f"procsuite/{site}/rooms/{room}/devices/{device}/status"


class Monitor:
    """One monitor in one room publishing one patient's vitals."""

    def __init__(
        self,
        model: MonitorModel,
        *,
        room: str,
        device: str,
        clock: SimClock,
        site: str = "main",
        mqtt_url: str = "mqtt://127.0.0.1:1883",
        client_id: str | None = None,
        reconnect_s: float = 1.0,
        publish_timeout_s: float = 3.0,
    ) -> None:
        self.model = model
        self.room = room
        self.device = device
        self.clock = clock
        self.target = MqttTarget.parse(mqtt_url)
        self.client_id = client_id or f"procsuite-sim-{site}-{room}-{device}"
        self.vitals_topic = vitals_topic(site, room, device)
        self.status_topic = status_topic(site, room, device)
        self.reconnect_s = reconnect_s
        self.publish_timeout_s = publish_timeout_s
        self.stats = MonitorStats()
        self._client: aiomqtt.Client | None = None
        self._want_online = True
        self._wake = asyncio.Event()
        self._first_connect = asyncio.Event()

    async def run(
        self, *, duration_s: float | None = None, stop: asyncio.Event | None = None
    ) -> MonitorStats:
        """Publish until `duration_s` simulated seconds have passed or `stop` is set; then
        say `offline` and disconnect cleanly."""
        stop = stop if stop is not None else asyncio.Event()
        done = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._connection(done), name=f"monitor-{self.device}-mqtt")
            try:
                # Wait (bounded) for the first connection so the first samples are not lost.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10.0):
                        await self._first_connect.wait()
                await self._ticks(duration_s, stop)
            finally:
                done.set()
                self._wake.set()
        log.info(
            "monitor %s/%s stopped: %d published, %d hidden, %d dropped",
            self.room,
            self.device,
            self.stats.published,
            self.stats.hidden,
            self.stats.dropped,
        )
        return self.stats

    async def _ticks(self, duration_s: float | None, stop: asyncio.Event) -> None:
        model = self.model
        n = 0
        while True:
            t_s = model.t_of(n)
            if duration_s is not None and t_s >= duration_s:
                return
            if await self.clock.sleep_until(model.start_at + timedelta(seconds=t_s), stop=stop):
                return
            tick = model.tick(n)
            self.stats.ticks += 1
            n += 1
            if tick.online != self._want_online:
                self._want_online = tick.online
                self._wake.set()
            if tick.message is None:
                self.stats.hidden += 1
                continue
            client = self._client
            if client is None:
                self.stats.dropped += 1
                continue
            try:
                await client.publish(
                    self.vitals_topic,
                    tick.message.payload(),
                    qos=1,
                    timeout=self.publish_timeout_s,
                )
                self.stats.published += 1
            except aiomqtt.MqttError as exc:
                self.stats.dropped += 1
                if self._client is client:
                    log.warning("monitor %s: publish failed (%s)", self.device, exc)
                    self._client = None
                    self._wake.set()

    async def _connection(self, done: asyncio.Event) -> None:
        """Keep the connection while wanted: connect, say online, wait, drop or stop."""
        will = aiomqtt.Will(self.status_topic, b"offline", qos=1, retain=True)
        failures = 0
        while not done.is_set():
            if not self._want_online:
                await self._wait_wake()
                continue
            try:
                async with aiomqtt.Client(
                    self.target.host,
                    self.target.port,
                    identifier=self.client_id,
                    username=self.target.username,
                    password=self.target.password,
                    tls_context=self.target.tls_context(),
                    will=will,
                    keepalive=10,
                    timeout=self.publish_timeout_s,
                ) as client:
                    await client.publish(self.status_topic, b"online", qos=1, retain=True)
                    self.stats.connects += 1
                    failures = 0
                    self._client = client
                    self._first_connect.set()
                    log.info("monitor %s/%s online at %s", self.room, self.device, self.target.host)
                    while not done.is_set() and self._want_online and self._client is client:
                        await self._wait_wake()
                    if self._client is not client:
                        raise aiomqtt.MqttError("connection lost")
                    self._client = None
                    if not self._want_online and not done.is_set():
                        await self._drop(client)
                        continue
                    await client.publish(self.status_topic, b"offline", qos=1, retain=True)
            except aiomqtt.MqttError as exc:
                self._client = None
                if done.is_set():
                    return
                # Back off (doubling, at most 10 s) so a broker that stays away is not hammered.
                delay = min(self.reconnect_s * 2**failures, max(self.reconnect_s, 10.0))
                failures += 1
                log.warning(
                    "monitor %s: MQTT connection to %s:%d failed (%s); retrying in %.1fs",
                    self.device,
                    self.target.host,
                    self.target.port,
                    exc,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await done.wait()

    async def _wait_wake(self) -> None:
        await self._wake.wait()
        self._wake.clear()

    async def _drop(self, client: aiomqtt.Client) -> None:
        """Cut the TCP connection without an MQTT DISCONNECT, as a monitor that loses power
        or its cable does, so that the broker publishes the last will (`offline`).

        aiomqtt has no call for this (leaving its context always sends DISCONNECT, which
        suppresses the will), so the socket of its paho client is shut down underneath it.
        Then we wait until a publish fails: paho has seen the connection close (and aiomqtt's
        pending disconnection error is consumed), so leaving the context sends nothing.
        """
        paho = getattr(client, "_client", None)
        sock = paho.socket() if paho is not None else None
        if sock is None:
            raise RuntimeError("cannot reach the MQTT socket to drop the connection")
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        self.stats.wills += 1
        log.info("monitor %s/%s dropped off the network (offline scenario)", self.room, self.device)
        for _ in range(200):
            await asyncio.sleep(0.01)
            try:
                # Cannot reach the broker any more: the socket is shut.
                await client.publish(self.status_topic, b"offline", qos=0, retain=True)
            except aiomqtt.MqttError:
                return
        log.warning("monitor %s: the dropped connection was not noticed within 2 s", self.device)
