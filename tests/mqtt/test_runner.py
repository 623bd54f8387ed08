"""The runner's routing: a fault of ours while handling one message is counted and logged,
and the next message is handled as usual."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.mqtt.runner import MqttRunner, UrlError, broker_address
from adapters.mqtt.topics import Topics


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    def vitals(self, room: str, device: str, payload: bytes) -> None:
        if payload == b"boom":
            raise RuntimeError("a bug of ours")
        self.seen.append((room, device, payload))

    def status(self, room: str, device: str, payload: bytes) -> None:
        self.seen.append((room, device, payload))


class Commands:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    def offer(self, user: str, payload: bytes) -> None:
        self.seen.append((user, payload))


def runner(ingest: Any, commands: Any) -> MqttRunner:
    return MqttRunner(
        url="mqtt://127.0.0.1:1883", client_id="t", topics=Topics("procsuite/t"),
        ingest=ingest, commands=commands, outbox=None, states=None, status=dict,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_fault_while_handling_one_message_is_counted_and_the_next_goes_through(caplog) -> None:
    caplog.set_level(logging.ERROR, logger="adapters.mqtt.runner")
    ingest, commands = Recorder(), Commands()
    r = runner(ingest, commands)
    r.handle("procsuite/t/rooms/IR1/vitals/m1", b"boom")
    r.handle("procsuite/t/rooms/IR1/vitals/m1", b"boom")
    r.handle("procsuite/t/rooms/IR1/vitals/m1", b"{}")
    r.handle("procsuite/t/rooms/IR1/devices/m1/status", b"online")
    r.handle("procsuite/t/cmd/nurse1", bytearray(b'{"id": 1}'))
    r.handle("procsuite/t/rooms/IR1/state", b"ours")  # not a subscribed shape
    assert r.handler_errors == 2
    assert ingest.seen == [("IR1", "m1", b"{}"), ("IR1", "m1", b"online")]
    assert commands.seen == [("nurse1", b'{"id": 1}')]
    assert r.unexpected_topics == 1
    assert len([rec for rec in caplog.records if "failed" in rec.getMessage()]) == 2


def test_broker_urls() -> None:
    assert broker_address("mqtt://broker.example:1884") == ("broker.example", 1884, False)
    assert broker_address("mqtts://broker.example") == ("broker.example", 8883, True)
    with pytest.raises(UrlError, match="mqtt://host:1883"):
        broker_address("tcp://broker.example")
