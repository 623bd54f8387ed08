"""The PCD-04 outbox: alarm events from the alarm log -> queued ORU^R40 rows, in event order.

The alarm log (`alarm_events`) is already durable and ordered; the outbox follows it with a
cursor that is the highest event id it has queued, so a restart continues exactly where it
stopped and an event is queued once (its id is unique in `pcd04_messages`). Each queued row
holds the finished message, so a resend after a restart is byte-identical (same MSH-10).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

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

    async def fill(self, session: AsyncSession) -> int:
        """Queue the alarm events after the cursor (one batch); returns how many were read."""
        now = self.clock()
        last = await store.last_queued_event(session)
        if last is None:  # a new outbox: from recent events, not the whole history
            last = await store.first_event_since(
                session, now - timedelta(seconds=self.initial_backlog_s)
            )
        events = await store.alarm_events_after(session, last)
        if not events:
            return 0
        sent = await store.phases_sent(session, sorted({e.alarm_id for e in events}))
        rows = []
        for e in events:
            phases = sent.setdefault(e.alarm_id, [])
            transition = transition_of(e.event, e.payload, phases)
            row = store.Pcd04MessageRow(
                event_id=e.event_id, alarm_id=e.alarm_id, room=e.room, queued_at=now
            )
            if transition is not None:
                phases.append(transition.phase)
                row.phase = transition.phase
                row.control_id = f"PCD04-{e.event_id}"
                param_key = str((e.payload.get("source") or {}).get("parameter") or "")
                limits = (
                    self.limits(e.room, Param(param_key))
                    if param_key in Param._value2member_map_
                    else None
                )
                row.message = build_r40(
                    e.payload, transition, control_id=row.control_id, now=now, to=self.to,
                    bed=self.beds.get(e.room, ""), limits=limits,
                )  # fmt: skip
            rows.append(row)
        await store.queue_pcd04(session, rows)
        self.queued += sum(1 for r in rows if r.message is not None)
        return len(events)
