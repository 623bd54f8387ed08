"""The dashboard's MQTT client against a real mosquitto: commands and replies, no answer,
unreadable messages, and a broker restart (reconnect, then a resync is asked for)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest

from tests.peers import Mosquitto
from tests.tui.running_service import mosquitto
from tests.tui.suite_data import dumps, suite_states
from tui.client import OFFLINE, TIMEOUT
from tui.mqtt_client import MqttSuiteClient
from tui.views import ConnectionStatus, Link

pytestmark = pytest.mark.mosquitto


@contextlib.asynccontextmanager
async def connected(broker: Mosquitto, **kw: Any) -> AsyncIterator[MqttSuiteClient]:
    client = MqttSuiteClient(broker.url, site="t", user="nurse1", reconnect_min_s=0.1, **kw)
    task = asyncio.create_task(client.run())
    try:
        await next_link(client, Link.CONNECTED)
        yield client
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def next_link(
    client: MqttSuiteClient, link: Link, *, timeout_s: float = 10
) -> ConnectionStatus:
    async with asyncio.timeout(timeout_s):
        async for status in client.links():
            if isinstance(status, ConnectionStatus) and status.link is link:
                return status
    raise AssertionError("the links stream ended")


@contextlib.asynccontextmanager
async def service_stand_in(broker: Mosquitto) -> AsyncIterator[list[dict[str, Any]]]:
    """Answers every command on cmd/nurse1 as the service would, and keeps them."""
    seen: list[dict[str, Any]] = []
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="stand-in") as mqtt:
        await mqtt.subscribe("procsuite/t/cmd/+", qos=1)

        async def answer() -> None:
            async for message in mqtt.messages:
                assert isinstance(message.payload, bytes)
                command = json.loads(message.payload)
                seen.append(command)
                reply = {
                    "id": command["id"],
                    "ok": False,
                    "error": "it needs nurse",
                    "rule": "permission",
                }
                await mqtt.publish("procsuite/t/reply/nurse1", json.dumps(reply), qos=1)

        task = asyncio.create_task(answer())
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.asyncio
async def test_a_command_gets_the_reply_with_its_id() -> None:
    with mosquitto() as broker:
        async with service_stand_in(broker) as seen, connected(broker) as client:
            reply = await client.send("ack_alarm", alarm_id="a-1")
    assert (reply.ok, reply.error, reply.rule) == (False, "it needs nurse", "permission")
    assert seen == [{"id": reply.id, "action": "ack_alarm", "alarm_id": "a-1"}]


@pytest.mark.asyncio
async def test_without_an_answer_or_a_connection_the_reply_says_so() -> None:
    with mosquitto() as broker:
        client = MqttSuiteClient(broker.url, site="t", user="nurse1")
        offline = await client.send("resync")  # not connected yet
        assert (offline.ok, offline.rule) == (False, OFFLINE)
        async with connected(broker, reply_timeout_s=0.3) as client:
            silent = await client.send("resync")
    assert (silent.ok, silent.rule) == (False, TIMEOUT)
    assert "may or may not have been done" in silent.error


@pytest.mark.asyncio
async def test_an_unreadable_snapshot_is_counted_and_the_next_one_still_read() -> None:
    with mosquitto() as broker:
        async with connected(broker) as client:
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="svc") as service:
                await service.publish("procsuite/t/rooms/IR1/state", b"{not json", qos=1)
                await service.publish(
                    "procsuite/t/rooms/IR2/state", dumps(suite_states()["IR2"]), qos=1
                )
            async with asyncio.timeout(10):
                state = await anext(client.states())
    assert state.room == "IR2"
    assert client.counters()["unreadable_state"] == 1


@pytest.mark.asyncio
async def test_after_a_broker_restart_it_reconnects_asks_for_a_resync_and_gets_the_rooms() -> None:
    with mosquitto() as broker:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="svc") as service:
            await service.publish(
                "procsuite/t/rooms/IR1/state", dumps(suite_states()["IR1"]), qos=1, retain=True
            )
        async with connected(broker) as client:
            async with asyncio.timeout(10):
                assert (await anext(client.states())).room == "IR1"
            await asyncio.to_thread(broker.restart)
            lost = await next_link(client, Link.DISCONNECTED)
            back = await next_link(client, Link.CONNECTED)
            async with asyncio.timeout(10):
                again = await anext(client.states())  # the retained snapshot, once more
    assert lost.detail and not lost.resync
    assert back.resync is True
    assert again.room == "IR1"
