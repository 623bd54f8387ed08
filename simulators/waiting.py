"""Waiting for peers to listen and for the first of several events, each bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

import aiomqtt

from simulators.monitor import MqttTarget


class NotListening(Exception):
    """A peer did not accept connections in the time allowed (the message names it)."""


async def wait_listening(host: str, port: int, *, timeout_s: float, what: str) -> None:
    """Until something accepts TCP connections on host:port (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            if loop.time() > deadline:
                raise NotListening(f"{what} is not listening on {host}:{port}") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


async def mqtt_ready(url: str, *, timeout_s: float) -> None:
    """Until the broker at `url` accepts an MQTT connection (bounded)."""
    target = MqttTarget.parse(url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            async with aiomqtt.Client(target.host, target.port, identifier="procsuite-demo-probe"):
                return
        except aiomqtt.MqttError:
            if loop.time() > deadline:
                raise NotListening(f"no MQTT broker answers at {url}") from None
            await asyncio.sleep(0.05)


async def first_of(*waits: Awaitable[Any], timeout_s: float | None = None) -> None:
    """Return when the first of `waits` is done (the others are cancelled)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
