"""The application services of one running instance, built once per set of rooms and shared
by every adapter through the `ServiceContext`: the alarm service, the vitals recorder, the
sample path every device source feeds, and the people's actions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from suite.app.actions import Actions
from suite.app.alarm_journal import ALARM_JOURNAL_KIND
from suite.app.alarm_service import AlarmService
from suite.app.context import Component, ServiceContext
from suite.app.roles import Permissions
from suite.app.sample_intake import SampleIntake
from suite.app.site_alarm import SiteAlarm
from suite.app.vitals_service import VitalsRecorder
from suite.domain.alarms.model import Priority
from suite.domain.dose import DoseThresholds
from suite.report import alarm_limits
from suite.store.database import Database


def build_application(ctx: ServiceContext) -> list[Component]:
    """Fill `ctx` with the application services; returns those that run (alarms, store)."""
    s = ctx.settings
    m = s.mqtt
    me = s.lease.instance_id
    owner_of = ctx.owner_of or (lambda room: None)
    alarms = AlarmService(
        db=ctx.db,
        bus=ctx.bus,
        cases=ctx.cases,
        clock=ctx.clock,
        config=s.alarms.engine_config(),
        rooms=ctx.served,
        tick_s=s.alarms.tick_s,
        journal_path=s.alarm_journal_path,
    )
    journal_alarm = SiteAlarm(
        ctx.bus, clock=ctx.clock, kind=ALARM_JOURNAL_KIND, device=me, priority=Priority.HIGH
    )
    alarms.journal.health_listeners.append(
        lambda ok, why: (
            journal_alarm.clear("the journal is written again") if ok else journal_alarm.raise_(why)
        )
    )
    recorder = VitalsRecorder(ctx.db, queue_size=m.vitals_queue, batch=m.vitals_batch)
    ctx.alarms = alarms
    ctx.recorder = recorder
    ctx.samples = SampleIntake(
        rooms=ctx.served,
        elsewhere=lambda room: owner_of(room) not in (None, me),
        alarms=alarms,
        recorder=recorder,
        clock=ctx.clock,
        fault_clear_s=m.fault_clear_s,
        max_device_rate=m.max_device_rate,
        bus=ctx.bus,
        registered=m.devices,
    )
    ctx.actions = Actions(
        cases=ctx.cases,
        users=s.users,
        permissions=Permissions.with_overrides(m.permissions),
        clock=ctx.clock,
        stability=alarms,
        alarms=alarms,
        reports=functools.partial(
            _write_report,
            db=ctx.db,
            out_dir=s.data_dir / "reports",
            clock=ctx.clock,
            thresholds=s.dose.thresholds(),
            site=s.site,
            limits=alarm_limits(s.alarms.engine_config()),
        ),
    )
    return [alarms, recorder]


async def _write_report(
    case_id: str,
    *,
    db: Database,
    out_dir: Path,
    clock: Callable[[], datetime],
    thresholds: DoseThresholds,
    site: str,
    limits: dict[str, tuple[float | None, float | None]],
) -> str:
    """The `report` action's work: the case's procedure report under the data directory."""
    from suite.report import write_report  # matplotlib only when a report is asked for

    path = await write_report(
        case_id,
        db=db,
        out_dir=out_dir,
        now=clock(),
        tz=None,
        thresholds=thresholds,
        site=site,
        limits=limits,
    )
    return str(path)
