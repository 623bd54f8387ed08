"""The demo: procsuite and a simulated suite day in one process, on one simulated clock.

`Demo.run` starts the simulated HIS's receiver, then the service (embedded MQTT broker,
SQLite, DICOM, HL7; `procsuite.bootstrap.Service` with the demo's `SimClock`), and once everything
listens the day of demo_day.py: the HIS sends the day's list over MLLP; each room's monitor
publishes vitals; each case runs through its case script (the team's terminals on the MQTT
command channel) with the room's fluoroscopy unit sending its images, dose report and
procedure step over DICOM and the patient's event starting at its step; the scripted nurse
acknowledges the alarms. Everything the demo reports it saw on the wire; only the summary's
case facts are read from the running service.

Ends when the day is over (headless: both cases discharged and their results at the HIS)
or when `stop` is set; with a dashboard, when the dashboard quits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from procsuite.bootstrap import Service
from procsuite.demo_monitors import SdcRoomMonitor
from procsuite.demo_summary import summarise
from simulators.case_plan import Role, plan_case, played_quickly
from simulators.case_script import CaseScript, CaseScriptError, LoggedStep
from simulators.clock import SimClock
from simulators.demo_day import (
    DEVICE,
    NURSE,
    RADIOLOGIST,
    ROOMS,
    TECHNOLOGIST,
    RoomDay,
    booked_cases,
    demo_day,
    monitor_rate_hz,
)
from simulators.demo_report import (
    AlarmTally,
    DemoSummary,
    Hl7Tally,
    Progress,
)
from simulators.dicom_objects import Equipment
from simulators.fluoro_dose import Technique
from simulators.fluoro_room import FluoroRoom
from simulators.his import HisError, HisSender
from simulators.his_receiver import HisReceiver
from simulators.modality import Modality, ModalityError, Peer
from simulators.monitor import Monitor
from simulators.mqtt_commands import CommandLink, LinkError
from simulators.nurse import ScriptedNurse
from simulators.patient_events import EventfulMonitorModel, PatientEvent
from simulators.pcd01_gateway import Pcd01Gateway
from simulators.waiting import NotListening, first_of, mqtt_ready, wait_listening
from suite.errors import ProcsuiteError
from suite.settings import Settings
from suite.tasks import stop_tasks

log = logging.getLogger(__name__)

Ui = Callable[[asyncio.Event], Awaitable[None]]


class DemoError(ProcsuiteError):
    """The demo cannot run (a port taken, a data directory it may not wipe...)."""


@dataclass
class RoomRun:
    day: RoomDay
    model: EventfulMonitorModel
    fluoro: FluoroRoom | None = None
    script: CaseScript | None = None
    event: PatientEvent | None = None
    problem: str | None = None


@dataclass
class Demo:
    settings: Settings
    clock: SimClock
    zone: tzinfo
    his_port: int
    write: Callable[[str], None]
    started: float = field(default_factory=time.perf_counter)
    headless: bool = True
    pcd01_rooms: tuple[str, ...] = ()
    sdc_rooms: tuple[str, ...] = ()
    """Rooms whose monitor reaches procsuite through a PCD-01 gateway instead of MQTT."""

    def __post_init__(self) -> None:
        self.progress = Progress(self.clock, self.write, zone=self.zone)
        self.days = demo_day(self.clock.now().astimezone(self.zone).date(), zone=self.zone)
        self.alarms = AlarmTally(self.progress)
        self.booked = booked_cases(self.clock.now().astimezone(self.zone).date(), zone=self.zone)
        self.hl7 = Hl7Tally(
            self.progress,
            [d.case.accession for d in self.days] + [c.accession for c in self.booked],
        )
        self.receiver = HisReceiver(
            clock=self.clock,
            port=self.his_port,
            journal=self.settings.data_dir / "his-received.jsonl",
        )
        self.service = Service(self.settings, clock=self.clock)
        rate = monitor_rate_hz(self.clock.speed, monitors=len(self.days))
        self.rooms = {
            d.room: RoomRun(
                d,
                EventfulMonitorModel(start_at=self.clock.now(), seed=d.monitor_seed, rate_hz=rate),
            )
            for d in self.days
        }
        self.day_over = asyncio.Event()
        # Set once every room has reached its opening step (demo_day.RoomDay.opening).
        self.opened = asyncio.Event()
        self._opening = {d.room for d in self.days if d.opening}
        self._his_seen = 0
        self.problems: list[str] = []
        self.summary: DemoSummary | None = None

    @property
    def mqtt_url(self) -> str:
        return self.settings.mqtt_url

    # ---- the whole run ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, ui: Ui | None = None) -> DemoSummary:
        started_at = self.clock.now()
        service_stop, receiver_stop = asyncio.Event(), asyncio.Event()
        monitors: list[asyncio.Task[Any]] = []
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.receiver.run(receiver_stop), name="his-receiver")
            service = tg.create_task(self.service.run(service_stop), name="procsuite")
            try:
                await self._until_ready(stop)
                if not stop.is_set():
                    monitors = [
                        asyncio.create_task(m.run(), name=f"monitor-{m.room}")
                        for m in self._monitors()
                    ]
                    ended = asyncio.Event()
                    day = tg.create_task(self._day(stop, ended), name="demo-day")
                    if ui is not None:
                        # The dashboard opens on the day under way, not on its first seconds.
                        await first_of(self.opened.wait(), stop.wait(), ended.wait(),
                                       timeout_s=60.0)  # fmt: skip
                        await ui(stop)  # returns when the dashboard quits
                    else:
                        await first_of(stop.wait(), ended.wait())
                    stop.set()  # Ctrl-C or quit: the day stops its scripts and terminals
                    await day
            finally:
                self.summary = self._summary(started_at, interrupted=not self.day_over.is_set())
                # The monitors stop with the service, not before it: a monitor gone quiet
                # while the service still runs would be a stale feed (an alarm) in the store.
                service_stop.set()
                await stop_tasks(monitors)
                await service
                receiver_stop.set()
        assert self.summary is not None
        return self.summary

    async def _until_ready(self, stop: asyncio.Event) -> None:
        s = self.settings
        await first_of(self.service.ready.wait(), stop.wait(), timeout_s=60.0)
        if stop.is_set():
            return
        if not self.service.ready.is_set():
            raise DemoError("the service did not start within 60 s")
        try:
            await mqtt_ready(s.mqtt_url, timeout_s=30.0)
            for port, what in (
                (s.dicom_port, "the DICOM listener"),
                (s.hl7_port, "the HL7 listener"),
                (self.his_port, "the simulated HIS receiver"),
                *([(s.devices.pcd01.port, "the PCD-01 listener")] if self.pcd01_rooms else []),
            ):
                await wait_listening("127.0.0.1", port, timeout_s=30.0, what=what)
        except NotListening as exc:
            raise DemoError(str(exc)) from None
        self.write(
            f"procsuite demo ready in {time.perf_counter() - self.started:.1f} s:"
            f" MQTT {s.mqtt_url}, DICOM {s.dicom_port} (AE {s.dicom.ae_title}), HL7 {s.hl7_port},"
            f" simulated HIS on {self.his_port};"
            + (
                f" PCD-01 {s.devices.pcd01.port} ({', '.join(self.pcd01_rooms)});"
                if self.pcd01_rooms
                else ""
            )
            + (f" SDC monitor in {', '.join(self.sdc_rooms)};" if self.sdc_rooms else "")
            + f" data in {s.data_dir};"
            f" speed {self.clock.speed:g}x from {self.clock.now().astimezone(self.zone):%H:%M}"
        )

    # ---- the day ---------------------------------------------------------------------------

    def _monitors(self) -> list[Monitor | Pcd01Gateway | SdcRoomMonitor]:
        pcd01 = self.settings.devices.pcd01
        return [
            SdcRoomMonitor(run.model, room=run.day.room, clock=self.clock)
            if run.day.room in self.sdc_rooms
            else Pcd01Gateway(
                run.model, host="127.0.0.1", port=pcd01.port, location=f"IR^{run.day.room}^1",
                device=DEVICE, clock=self.clock, room=run.day.room,
            )
            if run.day.room in self.pcd01_rooms
            else Monitor(
                run.model, room=run.day.room, device=DEVICE, clock=self.clock,
                site=self.settings.site, mqtt_url=self.mqtt_url,
            )
            for run in self.rooms.values()
        ]  # fmt: skip

    async def _day(self, stop: asyncio.Event, ended: asyncio.Event) -> None:
        """The day's people and the HIS until the day is over (headless) or `stop` is set. It
        ends its own tasks (`stop_tasks`), so it is stopped by `stop`, never by cancelling it;
        the monitors run beside it (`run`)."""
        url, site = self.mqtt_url, self.settings.site
        async with contextlib.AsyncExitStack() as stack:
            try:
                observer = await stack.enter_async_context(
                    CommandLink(url, site=site, user="demo-observer", watch_alarms=ROOMS)
                )
                tech = await stack.enter_async_context(
                    CommandLink(url, site=site, user=TECHNOLOGIST, watch_rooms=True)
                )
                nurse = await stack.enter_async_context(
                    CommandLink(url, site=site, user=NURSE, watch_alarms=ROOMS)
                )
                rad = await stack.enter_async_context(CommandLink(url, site=site, user=RADIOLOGIST))
            except LinkError as exc:
                self.problems.append(str(exc))
                ended.set()
                return
            links = {Role.TECHNOLOGIST: tech, Role.NURSE: nurse, Role.RADIOLOGIST: rad}
            background = [
                asyncio.create_task(self._alarm_feed(observer), name="demo-alarm-feed"),
                asyncio.create_task(self._his_feed(), name="demo-his-feed"),
                asyncio.create_task(ScriptedNurse(nurse, clock=self.clock).run(), name="nurse"),
            ]
            work = asyncio.create_task(self._cases(links, tech, observer, stop), name="cases")
            try:
                await first_of(asyncio.wait([work]), stop.wait())
                if work.done():
                    ended.set()
                    if not self.headless:
                        await stop.wait()  # the dashboard shows the finished day until it quits
            finally:
                await stop_tasks([work, *background])
                ended.set()

    async def _cases(
        self,
        links: dict[Role, CommandLink],
        tech: CommandLink,
        observer: CommandLink,
        stop: asyncio.Event,
    ) -> None:
        """The HIS sends the day's list; both rooms run their case; the results reach the HIS."""
        await self._send_day()
        await asyncio.gather(*(self._room(run, links, tech, stop) for run in self.rooms.values()))
        if stop.is_set():
            return
        await self._results_at_his()
        await self._outbox_settled()
        self._take_his_messages()
        for event in observer.drain_alarm_events():
            self.alarms.take(event)
        self.day_over.set()
        self.progress("the day is over" + ("" if self.headless else "; Ctrl-Q quits"))

    async def _send_day(self) -> None:
        cases = [d.case for d in self.days] + self.booked
        try:
            async with HisSender(clock=self.clock, port=self.settings.hl7_port) as sender:
                for sent in await sender.send_day(cases):
                    self.hl7.took_sent(sent)
        except HisError as exc:
            self.problems.append(f"the HIS could not send the day's list: {exc}")

    async def _room(
        self, run: RoomRun, links: dict[Role, CommandLink], tech: CommandLink, stop: asyncio.Event
    ) -> None:
        d, s = run.day, self.settings
        modality = Modality(
            clock=self.clock,
            peer=Peer(port=s.dicom_port, ae_title=s.dicom.ae_title),
            equipment=Equipment(ae_title=d.station, station_name=d.station),
            zone=self.zone,
            technique=Technique().scaled(d.dose_scale) if d.dose_scale != 1.0 else None,
        )
        run.fluoro = FluoroRoom(
            room=d.room,
            accession=d.case.accession,
            modality=modality,
            watch=tech,
            progress=self.progress,
        )
        hooks: list[Any] = [run.fluoro]
        if d.story is not None:
            run.event = PatientEvent(
                room=d.room,
                step=d.story.step,
                kind=d.story.kind,
                model=run.model,
                watch=tech,
                clock=self.clock,
                level=d.story.level,
                duration_s=d.story.duration_s,
                progress=self.progress,
            )
            hooks.append(run.event)
        plan = plan_case(d.case.procedure, d.case.levels, radiologist=RADIOLOGIST)
        if d.opening:
            plan = played_quickly(plan, d.opening)
        label = f"{d.room} {d.case.accession}"

        def on_step(step: LoggedStep) -> None:
            if step.phase != step.previous_phase:
                self.progress(f"{label} phase {step.phase} ({step.label} by {step.user})")
            if step.label == d.opening:
                self._opening.discard(d.room)
                if not self._opening:
                    self.progress("the day is open: every room has reached its opening step")
                    self.opened.set()

        run.script = CaseScript(
            plan,
            case_ref=d.case.accession,
            links=links,
            clock=self.clock,
            hooks=hooks,
            on_step=on_step,
            label=label,
        )
        if await self.clock.sleep_until(d.case.scheduled_at, stop=stop):
            return
        try:
            await run.script.run(stop)
        except (CaseScriptError, ModalityError) as exc:
            run.problem = str(exc)
            self.progress(f"{label} stopped: {exc}")

    async def _results_at_his(self) -> None:
        """Wait (bounded) for the results of every discharged case at the HIS."""
        wanted = {r.day.case.accession for r in self.rooms.values() if r.script and r.script.done}

        def arrived(messages: list[Any]) -> bool:
            got = {
                a for m in messages if m.kind.startswith("ORU") and m.ack == "AA"
                for a in wanted if a in m.text
            }  # fmt: skip
            return got >= wanted

        try:
            await self.receiver.wait_for(arrived, timeout_s=60.0)
        except TimeoutError:
            self.problems.append("the HIS did not receive every result within 60 s")

    async def _outbox_settled(self) -> None:
        """Wait (bounded) until procsuite has recorded every HL7 message as sent: the HIS
        may have ACKed the last one a moment before the sender committed it."""
        from suite.store import hl7 as hl7_store

        ctx = self.service.ctx
        if ctx is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10.0):
                while True:
                    async with ctx.db.session() as session:
                        pending = await hl7_store.recent_outbound(session, 1, status="pending")
                    if not pending:
                        return
                    await asyncio.sleep(0.05)
        self.problems.append("HL7 messages still pending 10 s after the results reached the HIS")

    async def _alarm_feed(self, link: CommandLink) -> None:
        async for event in link.alarm_events():
            self.alarms.take(event)

    async def _his_feed(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await self.receiver.wait_for(
                    lambda _m: self.receiver.stats.received > self._his_seen, timeout_s=1.0
                )
            self._take_his_messages()

    def _take_his_messages(self) -> None:
        fresh = self.receiver.stats.received - self._his_seen
        if fresh > 0:
            for message in list(self.receiver.messages)[-fresh:]:
                self.hl7.took_received(message)
            self._his_seen = self.receiver.stats.received

    def _summary(self, started_at: datetime, *, interrupted: bool) -> DemoSummary:
        return summarise(self, started_at, interrupted=interrupted)
