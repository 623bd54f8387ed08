"""The scripted nurse: watches the alarm events of her rooms on the wire and acknowledges
each alarm a little while after it was raised, with the `ack_alarm` command, as her user.

Her reaction time is in simulated seconds from the alarm's `at`. An alarm already
acknowledged (by another terminal) or already cleared is refused by the service; that is
counted, not an error. She never clears anything herself: a latched alarm is cleared by the
service once it is acknowledged and its condition has ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulators.clock import SimClock
from simulators.mqtt_commands import CommandLink

log = logging.getLogger(__name__)


def _time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if found.tzinfo is not None:
                return found
        except ValueError:
            pass
    return fallback


@dataclass
class ScriptedNurse:
    """Acknowledges every alarm raised in the rooms her `link` watches (`watch_alarms`)."""

    link: CommandLink
    clock: SimClock
    reaction_s: float = 20.0
    progress: Callable[[str], None] = field(default=lambda _text: None)
    acknowledged: dict[str, str] = field(default_factory=dict)  # alarm id -> kind
    refused: int = 0

    async def run(self) -> None:
        """Until cancelled."""
        async for event in self.link.alarm_events():
            if event.get("event") not in ("raised", "escalated"):
                continue
            alarm_id = str(event.get("alarm_id") or "")
            if not alarm_id or alarm_id in self.acknowledged or event.get("state") != "active":
                continue
            raised = _time(event.get("at"), self.clock.now())
            await self.clock.sleep_until(raised + timedelta(seconds=self.reaction_s))
            reply = await self.link.send("ack_alarm", alarm_id=alarm_id)
            kind = str(event.get("kind") or "alarm")
            if reply.ok:
                self.acknowledged[alarm_id] = kind
                self.progress(f"{event.get('room')} nurse {self.link.user} acknowledges {kind}")
            else:
                self.refused += 1
                log.info("nurse: ack of %s %s refused: %s", kind, alarm_id, reply.error)
