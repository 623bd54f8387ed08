"""The retained room snapshot on `procsuite/<site>/rooms/<room>/state` (docs/mqtt.md).

One JSON object per room: its open case (phase, levels with their steps, checklist, time-out,
cement time left, warnings, dose, images, the timeline with who logged what), the latest
vitals with their times, the limits in force, the devices (online / offline, last sample),
the open alarms and the input-fault counters. The TUI draws a room from this alone.

`RoomStates` publishes a room when something in it changed, at most once per
`interval_s` (latest wins; ingest only marks a room dirty and never waits), and every room
at least every `refresh_s` for the countdowns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from adapters.mqtt import codec
from adapters.mqtt.redacted import redacted_snapshot
from adapters.mqtt.topics import Topics
from suite.app.alarm_records import alarm_view
from suite.app.alarm_service import AlarmService
from suite.app.case_service import CaseChanged, CaseService
from suite.app.sample_intake import SampleIntake
from suite.app.timeline import describe
from suite.bus import Bus
from suite.clock import iso
from suite.domain.case import Case
from suite.domain.codec import to_data
from suite.domain.dose import DoseQuantity, DoseThresholds, next_level_mgy
from suite.domain.envelope import Recorded
from suite.domain.events import OrderChanged
from suite.domain.policy import WorkflowPolicy
from suite.domain.timers import cement_time_left_s, procedure_elapsed_s, warnings
from suite.domain.values import Phase, phases_for
from suite.store import cases as case_store
from suite.store.database import Database
from suite.store.received_images import received_for_case

log = logging.getLogger(__name__)


TIMELINE_MAX = 200
SCHEDULED_MAX = 20  # scheduled cases listed per room, earliest first


class Publisher(Protocol):
    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
    ) -> None: ...


def timeline_entry(record: Recorded) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "at": iso(record.event.at),
        "event": type(record.event).__name__,
        "what": describe(record.event),
        "actor": record.actor,
        "source": record.source.value,
    }


def case_summary(
    case: Case,
    *,
    now: datetime,
    policy: WorkflowPolicy,
    timeline: list[dict[str, Any]],
    dose_thresholds: DoseThresholds | None = None,
) -> dict[str, Any]:
    """The case part of a room snapshot."""
    data: dict[str, Any] = to_data(case)
    by_level = dict(case.levels)
    levels = []
    for level in case.order.levels:
        state = by_level.get(level)
        entry: dict[str, Any] = {"level": level.name}
        if state is not None:
            entry.update(to_data(state))
            entry["cement_volume_ml"] = state.cement_volume_ml
        levels.append(entry)
    data["levels"] = levels
    data["phase_since"] = iso(case.phase_history[-1][1]) if case.phase_history else None
    data["phase_history"] = [{"phase": p.value, "at": iso(at)} for p, at in case.phase_history]
    data["checklist"] = [
        {"item": item.value, "status": status.value, "detail": detail}
        for item, status, detail in case.checklist
    ]
    data["checklist_missing"] = [i.value for i in case.missing_checklist_items()]
    left = cement_time_left_s(case, now, policy)
    data["cement_time_left_s"] = None if left is None else round(left, 1)
    data["cement_working_time_s"] = policy.cement_working_time_s
    elapsed = procedure_elapsed_s(case, now)
    data["procedure_elapsed_s"] = None if elapsed is None else round(elapsed, 1)
    # Added for the board (issue 16): the phase sequence of the procedure, the overrun time,
    # and the next dose level the reference air kerma is measured against.
    data["phases"] = [p.value for p in phases_for(case.order.procedure)]
    data["procedure_overrun_s"] = policy.procedure_overrun_s
    kerma = case.dose.air_kerma_mgy if case.dose is not None else 0.0
    thresholds = dose_thresholds or DoseThresholds()
    data["dose_next_level_mgy"] = next_level_mgy(kerma, thresholds)
    dap = case.dose.dap_gy_cm2 if case.dose is not None else 0.0
    fluoro = case.dose.fluoro_time_s if case.dose is not None else 0.0
    data["dose_next_level_dap_gy_cm2"] = thresholds.scheme(DoseQuantity.DAP).next_level(dap)
    data["dose_next_level_fluoro_s"] = thresholds.scheme(DoseQuantity.FLUORO_TIME).next_level(
        fluoro
    )
    data["warnings"] = [
        {"kind": w.kind.value, "message": w.message} for w in warnings(case, now, policy)
    ]
    data["timeline"] = timeline
    return data


def scheduled_entry(case: Case) -> dict[str, Any]:
    """A case booked for the room and not yet checked in (the room snapshot's `scheduled`)."""
    return {
        "case_id": case.case_id,
        "accession": case.order.accession,
        "mrn": case.patient.mrn,
        "name": case.patient.name,
        "procedure": case.order.procedure.value,
        "levels": [level.name for level in case.order.levels],
        "scheduled_at": iso(case.scheduled_at),
    }


def scheduled_in(cases: CaseService, room: str) -> list[dict[str, Any]]:
    """The room's scheduled cases, earliest first, at most SCHEDULED_MAX."""
    booked = [k for k in cases.open_cases() if k.room == room and k.phase is Phase.SCHEDULED]
    return [scheduled_entry(k) for k in booked[:SCHEDULED_MAX]]


class RoomStates:
    def __init__(
        self,
        *,
        topics: Topics,
        rooms: list[str],
        cases: CaseService,
        alarms: AlarmService,
        samples: SampleIntake,
        db: Database,
        bus: Bus,
        clock: Callable[[], datetime],
        policy: WorkflowPolicy,
        dose_thresholds: DoseThresholds | None = None,
        interval_s: float = 0.5,
        refresh_s: float = 10.0,
    ) -> None:
        self.topics = topics
        self.rooms = rooms
        self.cases = cases
        self.alarms = alarms
        self.samples = samples
        self.db = db
        self.clock = clock
        self.policy = policy
        self.dose_thresholds = dose_thresholds or DoseThresholds()
        self.interval_s = interval_s
        self.refresh_s = refresh_s
        self._dirty: set[str] = set(rooms)
        self._last_sent: dict[str, float] = {}
        self._timelines: dict[str, list[dict[str, Any]]] = {}
        self._received_cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._feed = bus.subscribe("mqtt-room-state", CaseChanged, maxsize=10_000, lossy=True)
        self._seen_drops = 0
        self.published = 0

    def mark(self, room: str) -> None:
        """Something in `room` changed; its snapshot goes out within `interval_s`."""
        self._dirty.add(room)

    def mark_all(self) -> None:
        self._dirty.update(self.rooms)
        self._last_sent.clear()

    # ---- the snapshot -----------------------------------------------------------------------

    RECEIVED_TTL_S = 2.0  # how long the images received for a case are reused between queries

    async def _received(self, case: Case) -> list[dict[str, Any]]:
        """The images received for the case (newest first), re-read at most every 2 s."""
        now = asyncio.get_running_loop().time()
        cached = self._received_cache.get(case.case_id)
        if cached is not None and now - cached[0] < self.RECEIVED_TTL_S:
            return cached[1]
        rows = await self.db.read(lambda s: received_for_case(s, case.case_id))
        found = [{**r, "received_at": iso(r["received_at"])} for r in rows]
        self._received_cache[case.case_id] = (now, found)
        if len(self._received_cache) > 100:
            self._received_cache.pop(next(iter(self._received_cache)))
        return found

    async def _timeline(self, case: Case) -> list[dict[str, Any]]:
        found = self._timelines.get(case.case_id)
        if found is None or not found or found[-1]["seq"] != case.version:
            records = await self.db.read(lambda s: case_store.load(s, case.case_id))
            found = [timeline_entry(r) for r in records][-TIMELINE_MAX:]
            self._timelines[case.case_id] = found
        return found

    def _on_case(self, change: CaseChanged) -> None:
        case = change.case
        if case.phase.is_final:
            self._timelines.pop(case.case_id, None)
        else:
            found = self._timelines.get(case.case_id)
            if found and change.records and change.records[0].seq == found[-1]["seq"] + 1:
                found.extend(timeline_entry(r) for r in change.records)
                del found[:-TIMELINE_MAX]
            # otherwise the cached timeline is behind; `_timeline` reloads it when needed
        self.mark(case.room)
        if any(isinstance(r.event, OrderChanged) for r in change.records):
            self._dirty.update(self.rooms)  # it may have left another room's schedule

    async def snapshot(self, room: str) -> dict[str, Any]:
        now = self.clock()
        case = self.cases.active_in_room(room)
        vitals = {
            param.value: {"value": value, "at": iso(at), "device": device}
            for param, (value, at, device) in self.samples.latest_in(room).items()
        }
        devices = {
            name: {
                "kind": dev.kind or None,
                "online": dev.online,
                "last_sample_at": iso(dev.last_at),
                "last_received_at": iso(dev.last_received),
                "last_seq": dev.last_seq,
                "samples": dev.samples,
            }
            for name, dev in self.samples.devices_in(room).items()
        }
        limits = {
            p.value: {
                "low": lim.low,
                "high": lim.high,
                "delay_s": lim.delay_s,
                # what a nurse may set for this patient (the form shows it before a mistake)
                "allowed": list(self.alarms.adjust_bounds(p)),
            }
            for p, lim in self.alarms.limits(room).items()
        }
        return {
            "room": room,
            "at": iso(now),
            "case": (
                {
                    **case_summary(
                        case,
                        now=now,
                        policy=self.policy,
                        timeline=await self._timeline(case),
                        dose_thresholds=self.dose_thresholds,
                    ),
                    "received_images": await self._received(case),
                }
                if case is not None
                else None
            ),
            "scheduled": scheduled_in(self.cases, room),
            "vitals": vitals,
            "limits": limits,
            "adjusted_limits": [
                {
                    "parameter": a.parameter,
                    "low": a.low,
                    "high": a.high,
                    "user": a.user,
                    "reason": a.reason,
                    "at": iso(a.at),
                }
                for a in self.alarms.adjusted_limits(room)
            ],  # fmt: skip
            "baseline": {p.value: v for p, v in self.alarms.baseline(room).items()},
            "capnography": self.alarms.capnography(room),
            "devices": devices,
            "alarms": [alarm_view(a) for a in self.alarms.active(room)],
            "vitals_stable_since": iso(self.alarms.vitals_stable_since(room)),
            "counters": {
                "faults": self.samples.room_counters(room),
                "samples_not_stored": self.samples.not_stored(room),
            },
        }

    # ---- publishing -------------------------------------------------------------------------

    async def follow_cases(self) -> None:
        """Keep the timelines current (runs whether or not the broker is connected)."""
        while True:
            change = await self._feed.get()
            if self._feed.dropped != self._seen_drops:
                self._seen_drops = self._feed.dropped
                self._timelines.clear()
            self._on_case(change)

    async def pump(self, client: Publisher) -> None:
        """Publish dirty rooms (rate-limited) while connected; returns only by error."""
        loop = asyncio.get_running_loop()
        self.mark_all()
        while True:
            now = loop.time()
            for room in self.rooms:
                last = self._last_sent.get(room)
                due = last is None or now - last >= self.refresh_s
                if (room in self._dirty and (last is None or now - last >= self.interval_s)) or due:
                    self._dirty.discard(room)
                    self._last_sent[room] = now
                    snapshot = await self.snapshot(room)
                    payload = codec.to_json(snapshot)
                    await client.publish(self.topics.state(room), payload, qos=1, retain=True)
                    it_view = codec.to_json(redacted_snapshot(snapshot))
                    await client.publish(self.topics.it_state(room), it_view, qos=1, retain=True)
                    self.published += 1
            await asyncio.sleep(self.interval_s / 2)

    def close(self) -> None:
        self._feed.close()
