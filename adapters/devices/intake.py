"""The port the device adapters feed: the validated sample path every source shares.

The application layer provides it (`ctx.samples`, today the MQTT ingest's path after it has
decoded a message): the same order checks, flood guard, fault counters and technical
alarms, the same alarm engine and the same vitals store as MQTT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from suite.domain.alarms.engine import VitalSample
from suite.domain.alarms.parameters import Param


class SampleProblem(Protocol):
    """A value of a sample that was dropped or is implausible (kind as the MQTT codec's)."""

    @property
    def kind(self) -> str: ...
    @property
    def param(self) -> Param | None: ...
    @property
    def detail(self) -> str: ...


class SampleIntake(Protocol):
    def accept(
        self,
        room: str,
        device: str,
        sample: VitalSample,
        *,
        problems: Sequence[SampleProblem] = (),
        source: str = "mqtt",
    ) -> None:
        """Check the sample's order and rate, alarm on it, store it (or count why not)."""

    def fault(
        self, room: str, device: str, kind: str, detail: str, param: Param | None = None
    ) -> None:
        """Count a fault of a device (and raise its technical alarm where one is due)."""

    def device_status(self, room: str, device: str, online: bool) -> None:
        """A device came online or went offline."""

    def unknown_room(self, room: str) -> None:
        """Data for a room this instance does not serve (counted, logged once)."""
