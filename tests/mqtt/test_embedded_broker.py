"""The embedded broker: loopback only, persistent sessions for local clients, and retained
messages only for the topics a client subscribed to (amqtt 0.12.1 sent them all)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from adapters.mqtt.broker import BrokerConfigError, EmbeddedBroker, loopback_address
from tests.peers import free_port


def test_it_binds_loopback_only() -> None:
    assert loopback_address("mqtt://127.0.0.1:1884") == ("127.0.0.1", 1884)
    assert loopback_address("mqtt://localhost") == ("127.0.0.1", 1883)
    with pytest.raises(BrokerConfigError, match="loopback"):
        loopback_address("mqtt://0.0.0.0:1883")
    with pytest.raises(BrokerConfigError, match="loopback"):
        loopback_address("mqtt://broker.example.org:1883")
    with pytest.raises(BrokerConfigError, match="mqtt://"):
        loopback_address("mqtts://127.0.0.1:8883")


@contextlib.asynccontextmanager
async def embedded() -> AsyncIterator[int]:
    port = free_port()
    broker = EmbeddedBroker(f"mqtt://127.0.0.1:{port}")
    await broker.start()
    try:
        yield port
    finally:
        await broker.stop()


async def first(client: aiomqtt.Client, within_s: float = 1.0) -> aiomqtt.Message | None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            async for message in client.messages:
                return message
    return None


@pytest.mark.asyncio
async def test_qos1_messages_wait_for_a_persistent_session_that_is_away() -> None:
    async with embedded() as port:
        async with aiomqtt.Client("127.0.0.1", port, identifier="svc", clean_session=False) as c:
            await c.subscribe("a/#", qos=1)
        async with aiomqtt.Client("127.0.0.1", port, identifier="pub") as p:
            await p.publish("a/b", b"while you were away", qos=1)
        async with aiomqtt.Client("127.0.0.1", port, identifier="svc", clean_session=False) as c:
            got = await first(c, within_s=3)
        assert got is not None and got.payload == b"while you were away"


@pytest.mark.asyncio
async def test_retained_messages_go_only_to_matching_subscriptions() -> None:
    async with (
        embedded() as port,
        aiomqtt.Client("127.0.0.1", port, identifier="svc", clean_session=False) as svc,
    ):
        await svc.subscribe("site/rooms/+/devices/+/status", qos=1)
        async with aiomqtt.Client("127.0.0.1", port, identifier="mon") as mon:
            await mon.publish("site/rooms/IR1/devices/m1/status", b"online", qos=1, retain=True)
        async with aiomqtt.Client("127.0.0.1", port, identifier="tui") as tui:
            await tui.subscribe("site/reply/nurse1", qos=1)
            assert await first(tui, within_s=0.5) is None
            await tui.subscribe("site/rooms/+/devices/+/status", qos=1)
            got = await first(tui)
            assert got is not None and got.topic.value == "site/rooms/IR1/devices/m1/status"
