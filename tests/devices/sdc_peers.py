"""Shared by the SDC tests: a simulated SDC monitor (a real sdc11073 provider) on loopback,
and fakes of the sample path and alarm service the consumer feeds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from simulators.sdc_monitor import SdcMonitor
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.domain.samples import DecodedVitals
from tests.peers import free_port


@dataclass
class FakeSamples:
    """Records what reaches the sample path (the real one is tested in tests/mqtt)."""

    rooms: set[str]
    accepted: list[DecodedVitals] = field(default_factory=list)
    status: list[tuple[str, str, bool | None]] = field(default_factory=list)
    faults: list[tuple[str, str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def serves(self, room: str) -> bool:
        if room in self.rooms:
            return True
        self.unknown.append(room)
        return False

    def unknown_room(self, room: str) -> None:
        self.unknown.append(room)

    def accept(self, decoded: DecodedVitals, *, source: str = "mqtt") -> None:
        assert source == "sdc"
        self.accepted.append(decoded)

    def fault(
        self, room: str, device: str, kind: str, detail: str, param: Param | None = None
    ) -> None:
        self.faults.append((room, device, kind))

    def device_status(self, room: str, device: str, *, online: bool | None) -> None:
        self.status.append((room, device, online))

    def values(self, param: Param) -> list[float | None]:
        return [d.sample.values[param] for d in self.accepted if param in d.sample.values]


@dataclass
class FakeAlarms:
    raised: list[tuple[str, str, str, Priority]] = field(default_factory=list)
    cleared: list[tuple[str, str, str]] = field(default_factory=list)

    def device_alarm(
        self, room: str, device: str, *, kind: str, message: str, priority: Priority
    ) -> None:
        self.raised.append((room, device, kind, priority))

    def clear_technical(self, room: str, device: str, *, kind: str) -> None:
        self.cleared.append((room, device, kind))


NORMAL = {
    "hr": 72.0, "spo2": 97.0, "nibp_sys": 121.0, "nibp_dia": 79.0, "nibp_map": 93.0,
    "rr": 14.0, "etco2": 38.0, "temp": 36.8,
}  # fmt: skip


@contextlib.asynccontextmanager
async def sdc_monitor(**kw: Any) -> AsyncIterator[SdcMonitor]:
    """A started simulated SDC monitor on 127.0.0.1 (a fixed free port unless given)."""
    kw.setdefault("port", free_port())
    monitor = SdcMonitor(**kw)
    await asyncio.to_thread(monitor.start)
    try:
        yield monitor
    finally:
        await asyncio.to_thread(monitor.stop)


async def eventually(check: Any, *, within_s: float = 20.0, every_s: float = 0.05) -> None:
    """Wait until `check()` is true (state changed by other threads)."""
    async with asyncio.timeout(within_s):
        while not check():  # noqa: ASYNC110  (polling on purpose, bounded by the timeout)
            await asyncio.sleep(every_s)
