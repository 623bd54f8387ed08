"""The PCD-04 outbox: alarm events from the alarm log -> queued ORU^R40 rows, in event order.

The alarm log (`alarm_events`) is already durable and ordered; the outbox follows it with a
cursor that is the highest event id it has queued, so a restart continues exactly where it
stopped and an event is queued once (its id is unique in `pcd04_messages`). Each queued row
holds the finished message, so a resend after a restart is byte-identical (same MSH-10).
The SQL is suite/store/devices.py's; this module decides what each event becomes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from adapters.devices.pcd04.codec import Addressing, build_r40, transition_of
from suite.domain.alarms.parameters import Param
from suite.store import devices as store

Limits = Callable[[str, Param], tuple[float | None, float | None] | None]


class Pcd04Outbox:
    def __init__(
        self,
        *,
        to: Addressing,
        clock: Callable[[], datetime],
        beds: dict[str, str],
        limits: Limits,
        initial_backlog_s: float,
    ) -> None:
        self.to = to
        self.clock = clock
        self.beds = beds
        self.limits = limits
        self.initial_backlog_s = initial_backlog_s
        self.queued = 0

    async def fill(self, session: Any) -> int:
        """Queue the alarm events after the cursor (one batch, in the store's writer);
        returns how many events were read."""
        now = self.clock()
        read, queued = await store.queue_alarm_events(
            session,
            build=lambda event, sent: self._build(event, sent, now),
            start_since=now - timedelta(seconds=self.initial_backlog_s),
            now=now,
        )
        self.queued += queued
        return read

    def _build(
        self, e: store.AlarmEventItem, sent: list[str], now: datetime
    ) -> store.Outgoing | None:
        transition = transition_of(e.event, e.payload, sent)
        if transition is None:
            return None
        control_id = f"PCD04-{e.event_id}"
        param_key = str((e.payload.get("source") or {}).get("parameter") or "")
        limits = (
            self.limits(e.room, Param(param_key)) if param_key in Param._value2member_map_ else None
        )
        message = build_r40(
            e.payload, transition, control_id=control_id, now=now, to=self.to,
            bed=self.beds.get(e.room, ""), limits=limits,
        )  # fmt: skip
        return store.Outgoing(transition.phase, control_id, message)
