"""The port the dashboard sees: a `SuiteClient` (STYLE.md §7).

The dashboard never talks to the store or the adapters. It reads four streams and sends
commands; mqtt_client.py implements this over the public MQTT contract, fake_client.py
in-process for tests and benchmarks.

    states()   newest snapshot of each room (a newer one replaces an unread older one)
    alarms()   alarm lifecycle events in order (lossless; overflow is a fault -> resync)
    readings() vitals samples and device status (the oldest is dropped when behind)
    links()    the connection: connecting / connected / disconnected, and the service status
    send(action, **fields) -> Reply   a command and its answer (or a refusal in words)
    run()      the client's I/O loop; the dashboard runs it in a worker until it quits
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from tui.views import AlarmUpdate, ConnectionStatus, Reading, Reply, RoomState, ServiceStatus

# Replies the client makes up itself (the service never saw the command).
OFFLINE = "offline"
TIMEOUT = "timeout"
UNREADABLE = "unreadable"


class SuiteClient(Protocol):
    user: str
    site: str
    where: str  # what it is connected to, for people ("mqtt://broker:1883")

    def states(self) -> AsyncIterator[RoomState]: ...

    def alarms(self) -> AsyncIterator[AlarmUpdate]: ...

    def readings(self) -> AsyncIterator[Reading]: ...

    def links(self) -> AsyncIterator[ConnectionStatus | ServiceStatus]: ...

    async def send(self, action: str, **fields: Any) -> Reply: ...

    def counters(self) -> Mapping[str, int]:
        """Faults of the client itself (unreadable messages, dropped readings...)."""
        ...

    async def run(self) -> None: ...
