"""Builds the MQTT side of the service: the embedded broker (when configured), the alarm
service, the vitals recorder, ingest, the room states, the alarm outbox, the command channel
and the runner that connects them to the broker. suite/service.py calls `components`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from adapters.mqtt.broker import EmbeddedBroker
from adapters.mqtt.commands import CommandChannel
from adapters.mqtt.ingest import Ingest
from adapters.mqtt.integration_status import IntegrationStatus
from adapters.mqtt.outbox import AlarmOutbox
from adapters.mqtt.runner import MqttRunner
from adapters.mqtt.state import RoomStates
from adapters.mqtt.tls import client_tls_context
from adapters.mqtt.topics import Topics
from suite.app.alarm_service import AlarmService
from suite.app.context import Component, ServiceContext
from suite.app.routing import CommandRouter, Routing
from suite.app.sample_intake import SampleIntake
from suite.app.site_alarm import SITE_ROOM
from suite.clock import iso


@dataclass
class MqttParts:
    alarms: AlarmService
    samples: SampleIntake
    ingest: Ingest
    states: RoomStates
    outbox: AlarmOutbox
    commands: CommandChannel
    runner: MqttRunner
    broker: EmbeddedBroker | None = None
    components: list[Component] = field(default_factory=list)
    integration: IntegrationStatus | None = None  # the hl7 / dicom sections of the status


def build(ctx: ServiceContext) -> MqttParts:
    """The MQTT side of the service over the application services in `ctx`."""
    s = ctx.settings
    m = s.mqtt
    rooms = ctx.served
    me = s.lease.instance_id
    alarms, samples, actions = ctx.alarms, ctx.samples, ctx.actions
    assert alarms is not None and samples is not None and actions is not None
    topics = Topics(s.topic_root)
    broker = EmbeddedBroker(s.mqtt_url) if m.embedded else None
    ingest = Ingest(samples, max_payload_bytes=m.max_payload_bytes)
    states = RoomStates(
        topics=topics,
        rooms=rooms,
        cases=ctx.cases,
        alarms=alarms,
        samples=samples,
        db=ctx.db,
        bus=ctx.bus,
        clock=ctx.clock,
        policy=ctx.cases.policy,
        dose_thresholds=s.dose.thresholds(),
        interval_s=m.state_interval_s,
        refresh_s=m.state_refresh_s,
    )
    samples.listeners.append(states.mark)
    alarms.listeners.append(states.mark)
    actions.resync_listeners.append(states.mark_all)
    outbox = AlarmOutbox(
        topics=topics, rooms=rooms, wal=alarms.journal.wal, bus=ctx.bus,
        maxsize=m.alarm_outbox,
    )  # fmt: skip
    commands = CommandChannel(
        actions=actions,
        router=CommandRouter(
            Routing(
                rooms=frozenset(rooms),
                site_duties=ctx.site_duties,
                owner_of=ctx.current_owner or Routing.owner_of,
                everything=ctx.owner_of is None,
                instance=me if ctx.owner_of is not None else "",
            ),
            cases=ctx.cases,
            alarm=alarms.get,
        ),
        max_payload_bytes=m.max_payload_bytes,
    )
    parts = MqttParts(alarms, samples, ingest, states, outbox, commands, None, broker)  # type: ignore[arg-type]
    parts.runner = MqttRunner(
        url=s.mqtt_url,
        client_id=m.client_id or f"procsuite-{me}",
        topics=topics,
        ingest=ingest,
        commands=commands,
        outbox=outbox,
        states=states,
        status=lambda: service_status(parts, ctx),
        username=m.username,
        password=m.password,
        reconnect_min_s=m.reconnect_min_s,
        reconnect_max_s=m.reconnect_max_s,
        status_interval_s=m.status_interval_s,
        broker_ready=broker.started if broker is not None else None,
        tls_context=client_tls_context(m) if s.mqtt_url.startswith("mqtts:") else None,
        instance=me,
        site_status=ctx.site_duties,
    )
    parts.integration = IntegrationStatus(
        sections=ctx.status_sections,
        components=lambda: ctx.components,
        interval_s=m.status_interval_s,
    )
    parts.components = [c for c in (broker, commands, parts.runner) if c is not None]
    parts.components.append(parts.integration)
    return parts


def components(ctx: ServiceContext) -> list[Component]:
    return build(ctx).components


def service_status(parts: MqttParts, ctx: ServiceContext) -> dict[str, Any]:
    """The service's status and counters for `procsuite/<site>/status` (retained)."""
    ingest, samples, alarms = parts.ingest, parts.samples, parts.alarms
    recorder = samples.recorder
    return {
        "online": True,
        "at": iso(ctx.clock()),
        "site": ctx.settings.site,
        "instance": ctx.settings.lease.instance_id,
        "rooms": ctx.served,
        "site_duties": ctx.site_duties,
        "connections": parts.runner.connections,
        "ingest": {
            "received": ingest.received,
            "accepted": samples.accepted,
            "faults": dict(samples.totals),
            "unknown_rooms": dict(samples.unknown_rooms),
            "other_instances": dict(samples.other_instances),
            "handler_errors": parts.runner.handler_errors,
        },
        "store": {
            "queued": recorder.queued,
            "written": recorder.written,
            "dropped": sum(recorder.dropped.values()),
            "write_failures": recorder.write_failures,
            "database": database_health(ctx),
        },
        "alarms": {
            "open": len(alarms.active()),
            "stored": alarms.stored,
            "queued": alarms.queued,
            "overflows": alarms.overflows,
            "published": parts.outbox.published,
        },
        "commands": {
            "handled": parts.commands.handled,
            "refused": parts.commands.refused,
            "answered_elsewhere": parts.commands.skipped,
            "replies_dropped": parts.commands.replies_dropped,
        },
        "states_published": parts.states.published,
        "site_alarms": [
            {
                "kind": a.kind,
                "about": a.source.device,
                "priority": a.priority.value,
                "message": a.message,
                "raised_at": iso(a.raised_at),
            }
            for a in alarms.active(SITE_ROOM)
        ],
        **(parts.integration.sections if parts.integration is not None else {}),
    }


def database_health(ctx: ServiceContext) -> dict[str, Any]:
    """Whether the database takes writes now (from memory: it is published when it does not)."""
    db = ctx.db
    failing = db.failing_since
    return {
        "ok": failing is None,
        "failing_for_s": None
        if failing is None
        else round(asyncio.get_running_loop().time() - failing, 1),
        "commit_failures": db.commit_failures,
        "last_error": db.last_error,
    }
