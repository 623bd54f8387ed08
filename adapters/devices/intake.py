"""The port the device adapters feed: the validated sample path every source shares
(`ctx.samples`, suite/app/sample_intake.py): the same order checks, flood guard, fault
counters and technical alarms, the same alarm engine and the same vitals store as MQTT.

Written as a Protocol of the few methods the gateways call, so they can be tested against the
real path or a fake of it.
"""

from __future__ import annotations

from typing import Protocol

from suite.domain.alarms.parameters import Param
from suite.domain.samples import DecodedVitals


class SampleIntake(Protocol):
    def serves(self, room: str) -> bool:
        """Whether samples for `room` are taken here (counted as unknown when not)."""

    def accept(self, decoded: DecodedVitals, *, source: str = "mqtt") -> None:
        """Check the sample's order and rate, alarm on it, store it (or count why not)."""

    def fault(
        self, room: str, device: str, kind: str, detail: str, param: Param | None = None
    ) -> None:
        """Count a fault of a device (and raise its technical alarm where one is due)."""

    def device_status(self, room: str, device: str, *, online: bool | None) -> None:
        """A device came online or went offline (None: removed on purpose)."""

    def unknown_room(self, room: str) -> None:
        """Data for a room this instance does not serve (counted, logged once)."""
