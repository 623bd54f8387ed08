"""MQTT vitals and device status into the sample path (suite/app/sample_intake.py).

What is MQTT's own stays here: messages are counted as they arrive, a monitor sending more
than `BURST_FACTOR` x `max_device_rate` messages in a real second has the excess dropped
before it is decoded (a flood costs little), and the JSON is decoded (codec.py). Everything
after decoding (order, duplicates, faults and their technical alarms, the alarm engine, the
store, the latest values) is the sample path's, shared with every other device source.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.mqtt import codec
from suite.app.sample_intake import FLOODING, SampleIntake

BURST_FACTOR = 10  # messages a real second beyond which they are dropped unread, x the rate


class Ingest:
    def __init__(
        self,
        samples: SampleIntake,
        *,
        max_payload_bytes: int = 65_536,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.samples = samples
        self.alarms = samples.alarms
        self.recorder = samples.recorder
        self.max_payload_bytes = max_payload_bytes
        self.monotonic = monotonic
        self.received = 0
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}  # second, messages in it

    def vitals(self, room: str, device: str, payload: bytes) -> None:
        self.received += 1
        samples = self.samples
        if not samples.serves(room):
            return
        samples.device(room, device)  # known from its first message, readable or not
        samples.check_registered(room, device)
        if self._bursting(room, device):
            limit = samples.max_device_rate * BURST_FACTOR
            samples.fault(room, device, FLOODING, f"over {limit} messages a second")
            return
        try:
            decoded = codec.decode_vitals(room, device, payload, max_bytes=self.max_payload_bytes)
        except codec.PayloadError as exc:
            samples.fault(room, device, exc.kind, exc.message)
            return
        samples.accept(decoded, source="mqtt")

    def _bursting(self, room: str, device: str) -> bool:
        """More than `BURST_FACTOR` x `max_device_rate` messages this second (this process's
        monotonic clock). A monitor replaying its backlog after a broker outage stays well
        below it."""
        second = int(self.monotonic())
        window, count = self._windows.get((room, device), (-1, 0))
        count = count + 1 if window == second else 1
        self._windows[(room, device)] = (second, count)
        return count > self.samples.max_device_rate * BURST_FACTOR

    def status(self, room: str, device: str, payload: bytes) -> None:
        samples = self.samples
        if not samples.serves(room):
            return
        try:
            online = codec.decode_status(payload)
        except codec.PayloadError as exc:
            samples.fault(room, device, exc.kind, exc.message)
            return
        samples.device_status(room, device, online=online)

    def sweep(self) -> None:
        self.samples.sweep()
