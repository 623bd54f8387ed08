"""The topic layout under `procsuite/<site>` (DESIGN.md "Wire contracts"; docs/mqtt.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    VITALS = "vitals"
    STATUS = "status"
    COMMAND = "cmd"


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names for one site; `parse` maps an incoming topic to what it carries."""

    root: str  # "procsuite/<site>"

    @property
    def subscriptions(self) -> list[str]:
        # Every room, also those another instance serves: vitals for a room nobody serves
        # are counted (a monitor set up for the wrong room), the others' are skipped.
        return [
            f"{self.root}/rooms/+/vitals/+",
            f"{self.root}/rooms/+/devices/+/status",
            f"{self.root}/cmd/+",
        ]

    def vitals(self, room: str, device: str) -> str:
        return f"{self.root}/rooms/{room}/vitals/{device}"

    def device_status(self, room: str, device: str) -> str:
        return f"{self.root}/rooms/{room}/devices/{device}/status"

    def state(self, room: str) -> str:
        return f"{self.root}/rooms/{room}/state"

    def it_state(self, room: str) -> str:
        """The room state without patient data (adapters/mqtt/redacted.py), for IT."""
        return f"{self.root}/rooms/{room}/state/it"

    def alarms(self, room: str) -> str:
        return f"{self.root}/alarms/{room}"

    def command(self, user: str) -> str:
        return f"{self.root}/cmd/{user}"

    def reply(self, user: str) -> str:
        return f"{self.root}/reply/{user}"

    @property
    def status(self) -> str:
        """The site's status: retained, with counters, published by the instance holding the
        site-wide duties."""
        return f"{self.root}/status"

    def instance_status(self, instance: str) -> str:
        """One instance's status: retained; its last will says offline."""
        return f"{self.root}/status/{instance}"

    def parse(self, topic: str) -> tuple[Kind, str, str] | None:
        """(kind, room or "", device or user) of a subscribed topic; None for anything else."""
        root = self.root
        if not topic.startswith(root) or topic[len(root) : len(root) + 1] != "/":
            return None
        parts = topic[len(root) + 1 :].split("/")
        n = len(parts)
        if n == 4 and parts[0] == "rooms" and parts[2] == "vitals":
            return Kind.VITALS, parts[1], parts[3]
        if n == 5 and parts[0] == "rooms" and parts[2] == "devices" and parts[4] == "status":
            return Kind.STATUS, parts[1], parts[3]
        if n == 2 and parts[0] == "cmd":
            return Kind.COMMAND, "", parts[1]
        return None
