"""The demo's monitors that do not speak MQTT: an IEEE 11073 SDC provider per room."""

from __future__ import annotations

import asyncio
from typing import Any

from simulators.clock import SimClock
from simulators.sdc_monitor import SdcMonitor

SDC_REPORTS_PER_S = 4.0  # a real monitor's pace, whatever the demo's speed


class SdcRoomMonitor:
    """A room's monitor as an IEEE 11073 SDC provider (found by discovery on its location)."""

    def __init__(self, model: Any, *, room: str, clock: SimClock) -> None:
        self.room = room
        self.model = model
        self.clock = clock
        self.provider = SdcMonitor(location=sdc_location(room), name=f"{room} SDC monitor")

    async def run(self) -> int:
        """Publish the patient's values until cancelled (with the service)."""
        return await self.provider.run(
            self.model, clock=self.clock, duration_s=None, stop=asyncio.Event(),
            max_reports_per_s=SDC_REPORTS_PER_S,
        )  # fmt: skip


def sdc_location(room: str) -> dict[str, str]:
    """Where the demo's SDC monitor of `room` says it is (the consumer filters on it)."""
    return {"fac": "DEMO", "poc": "IR", "rm": room}
