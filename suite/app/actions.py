"""The use cases of people, one method each, shared by every entry point.

The MQTT command channel (the dashboard, scripts), the command line and the simulators all
call `Actions.perform(caller, request)`; none of them re-implements a rule. Here, once:

- the caller's role is checked against the permission table (suite/app/roles.py);
- a case is found by id or accession number;
- a discharge gets the patient's vitals stability from the alarms (`Stability`), never from
  the person asking: the field cannot be given;
- the command is applied by the case service (its events, outbox rows and audit in one
  transaction, fenced by the room's lease).

Refusals are `DomainError`s naming the rule; store failures are `StoreError`s ("not stored,
try again").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from suite.app import stale
from suite.app.alarm_records import alarm_view
from suite.app.case_service import CaseService, UnknownCase
from suite.app.hl7_replay import replay_outbound
from suite.app.image_assignment import assign
from suite.app.requests import (
    ACTION_OF,
    AcknowledgeAlarm,
    AdjustLimit,
    AssignImage,
    BadRequest,
    Caller,
    LogStep,
    ReplayMessage,
    Request,
    Resync,
    ScheduleCase,
    SilenceAlarm,
    StepLogged,
    WhoAmI,
    WriteReport,
)
from suite.app.roles import Permissions
from suite.app.sedation_drugs import DEFAULT_LOCAL_ANESTHETICS, DEFAULT_SEDATION_DRUGS
from suite.app.steps import STEPS, parse_step
from suite.clock import Clock, iso
from suite.domain import commands as c
from suite.domain.alarms.model import Alarm
from suite.domain.alarms.parameters import Param
from suite.domain.case import Case
from suite.domain.codec import from_data
from suite.domain.errors import DomainError, InvalidValue
from suite.domain.values import Order, Patient, parse_levels
from suite.errors import StoreError
from suite.settings import Role

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 10.0


class NotAvailable(DomainError):
    """The action needs a part of the service that is not running here."""

    rule = "not-available"


class Stability(Protocol):
    """When the patient's vitals in a room last became stable (None: never unstable)."""

    async def stable_since(self, room: str) -> datetime | None: ...


class AlarmActions(Protocol):
    """The running alarm service's actions (suite/app/alarm_service.py)."""

    rooms: list[str]

    async def acknowledge(self, alarm_id: str, *, user: str) -> Alarm: ...

    async def pause_audio(self, alarm_id: str, *, user: str) -> Alarm: ...

    async def adjust_limit(
        self,
        room: str,
        param: Param,
        *,
        low: float | None,
        high: float | None,
        user: str,
        reason: str,
    ) -> Any: ...


class Actions:
    """Every use case of a person, with the role check in one place."""

    def __init__(
        self,
        *,
        cases: CaseService,
        users: Mapping[str, Role],
        permissions: Permissions,
        clock: Clock,
        stability: Stability,
        alarms: AlarmActions | None = None,
        reports: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.cases = cases
        self.users = users
        self.permissions = permissions
        self.clock = clock
        self.stability = stability
        self.alarms = alarms
        self.reports = reports  # writes a case's procedure report (suite/report), if enabled
        self.resync_listeners: list[Callable[[], None]] = []  # the room states publish again

    # ---- the one entry ---------------------------------------------------------------------

    def authorise(self, caller: Caller, action: str, *, step: str | None = None) -> Role:
        """The caller's role when they may do `action` (on `step`); else `PermissionDenied`
        naming who, what and which roles may. The one place roles are checked."""
        if caller.role is not None:
            return caller.role
        return self.permissions.check(caller.user, self.users, action, step=step)

    async def perform(self, caller: Caller, request: Request) -> dict[str, Any]:
        """Carry out `request` for `caller`; returns the result as the wire shows it."""
        step = request.step if isinstance(request, LogStep) else None
        self.authorise(caller, ACTION_OF[type(request)], step=step)
        match request:
            case LogStep():
                return (await self.log_step(caller, request)).as_dict()
            case ScheduleCase():
                return {"case_id": await self.schedule_case(caller, request)}
            case AcknowledgeAlarm():
                return alarm_view(await self.acknowledge_alarm(caller, request))
            case SilenceAlarm():
                return alarm_view(await self.silence_alarm(caller, request))
            case AdjustLimit():
                return await self.adjust_limit(caller, request)
            case ReplayMessage():
                return await self.replay_message(caller, request)
            case AssignImage():
                return await self.assign_image(caller, request)
            case Resync():
                return self.resync()
            case WhoAmI():
                return self.whoami(caller)
            case WriteReport():
                return await self.write_report(caller, request)
        raise AssertionError(f"no use case for {type(request).__name__}")

    # ---- cases -----------------------------------------------------------------------------

    def find_case(self, ref: str) -> Case:
        case = self.cases.get(ref) or self.cases.by_accession(ref)
        if case is None:
            raise UnknownCase(f"no case {ref}")
        return case

    async def log_step(self, caller: Caller, request: LogStep) -> StepLogged:
        case = self.find_case(request.case_ref)
        for word in request.words:
            if word.partition("=")[0].strip().replace("-", "_") == "vitals_stable_since":
                raise InvalidValue(
                    "discharge: vitals_stable_since is taken from the room's alarms by procsuite;"
                    " it cannot be given"
                )
        at = request.at or self.clock()
        command = parse_step(request.step, list(request.words), at=at)
        if isinstance(command, c.Discharge):
            stable = await self.stability.stable_since(case.room)
            command = dataclasses.replace(command, vitals_stable_since=stable)
        await stale.check_seen(self.cases, case, command, request.seen_version)
        records = await self.cases.execute(
            case.case_id, command, actor=caller.user, source=caller.source
        )
        now_case = self.cases.get(case.case_id) or case
        return StepLogged(
            case_id=case.case_id,
            phase=now_case.phase.value,
            version=now_case.version,
            events=[type(r.event).__name__ for r in records],
        )

    def whoami(self, caller: Caller) -> dict[str, Any]:
        """The caller's role, the actions and steps it may do, the site's drug lists and the
        service's clock (the dashboard shows every time on it)."""
        role = self.authorise(caller, "whoami")
        may = self.permissions.roles_for

        def allowed(action: str, step: str | None = None) -> bool:
            return role is Role.ADMIN or role in (may(action, step) or ())

        return {
            "user": caller.user,
            "role": role.value,
            "now": iso(self.clock()),
            "actions": sorted(a for a in ACTION_OF.values() if allowed(a)),
            "steps": [s for s in STEPS if allowed("log_step", s)],
            "drugs": [{"drug": d, "unit": u} for d, u in DEFAULT_SEDATION_DRUGS],
            "local_anesthetics": list(DEFAULT_LOCAL_ANESTHETICS),
        }

    async def schedule_case(self, caller: Caller, request: ScheduleCase) -> str:
        fields = request.fields
        levels = fields.get("levels")
        if isinstance(levels, str):
            levels = levels.split(",")
        if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
            raise BadRequest('schedule_case: levels must be a list such as ["T12", "L1"]')
        patient = from_data(
            Patient,
            {k: fields[k] for k in ("mrn", "name", "birth_date", "sex") if k in fields},
            where="fields",
        )
        order = from_data(
            Order,
            {
                "accession": fields.get("accession"),
                "procedure": fields.get("procedure"),
                "levels": [lv.name for lv in parse_levels(levels)],
                "indication": fields.get("indication") or "osteoporotic",
                "fracture_date": fields.get("fracture_date"),
            },
            where="fields",
        )
        room = fields.get("room")
        if not isinstance(room, str) or not room:
            raise BadRequest("schedule_case needs fields.room")
        ordered = request.ordered_at or self.clock()
        case_id = self.cases.new_case_id()
        await self.cases.execute(
            case_id,
            c.ScheduleCase(
                at=ordered,
                patient=patient,
                order=order,
                room=room,
                scheduled_at=request.scheduled_at or ordered,
            ),
            actor=caller.user,
            source=caller.source,
        )
        return case_id

    # ---- alarms ----------------------------------------------------------------------------

    def _alarm_service(self, what: str) -> AlarmActions:
        if self.alarms is None:
            raise NotAvailable(f"{what} needs the running service (its alarm engine)")
        return self.alarms

    async def acknowledge_alarm(self, caller: Caller, request: AcknowledgeAlarm) -> Alarm:
        alarms = self._alarm_service("acknowledging an alarm")
        try:
            async with asyncio.timeout(ACK_TIMEOUT_S):
                return await alarms.acknowledge(request.alarm_id, user=caller.user)
        except TimeoutError:
            raise StoreError("the acknowledgement was not stored in time") from None

    async def silence_alarm(self, caller: Caller, request: SilenceAlarm) -> Alarm:
        """Pause the alarm's audio; stored as an `audio_paused` alarm event (the audit trail:
        who, when, until when) before the answer."""
        alarms = self._alarm_service("silencing an alarm")
        try:
            async with asyncio.timeout(ACK_TIMEOUT_S):
                return await alarms.pause_audio(request.alarm_id, user=caller.user)
        except TimeoutError:
            raise StoreError("the silence was not stored in time") from None

    async def adjust_limit(self, caller: Caller, request: AdjustLimit) -> dict[str, Any]:
        alarms = self._alarm_service("changing a limit")
        try:
            param = Param(request.parameter)
        except ValueError:
            known = ", ".join(p.value for p in Param)
            raise BadRequest(
                f"unknown parameter {request.parameter!r}; parameters: {known}"
            ) from None
        if request.room not in alarms.rooms:
            raise UnknownRoom(f"room {request.room!r} is not served here")
        try:
            async with asyncio.timeout(ACK_TIMEOUT_S):
                await alarms.adjust_limit(
                    request.room,
                    param,
                    low=request.low,
                    high=request.high,
                    user=caller.user,
                    reason=request.reason,
                )
        except TimeoutError:
            raise StoreError("the limit was not stored in time") from None
        return {
            "room": request.room,
            "parameter": param.value,
            "low": request.low,
            "high": request.high,
        }

    # ---- interfaces (IT) -------------------------------------------------------------------

    async def replay_message(self, caller: Caller, request: ReplayMessage) -> dict[str, Any]:
        done = await replay_outbound(
            self.cases.db,
            request.message_id,
            now=self.clock(),
            user=caller.user,
            source=caller.source.value,
        )
        log.info(
            "actions: %s queued outbound HL7 #%d again as %s",
            caller.user,
            request.message_id,
            done.control_id,
        )
        return {
            "message_id": request.message_id,
            "message_type": done.message_type,
            "control_id": done.control_id,
        }

    async def assign_image(self, caller: Caller, request: AssignImage) -> dict[str, Any]:
        case = self.find_case(request.case_ref)
        done = await assign(
            db=self.cases.db,
            cases=self.cases,
            sop_instance_uid=request.sop_instance_uid,
            case_id=case.case_id,
            force=request.force,
            user=caller.user,
            source=caller.source.value,
            at=self.clock(),
        )
        log.info(
            "actions: %s assigned image %s to case %s",
            caller.user,
            request.sop_instance_uid,
            case.case_id,
        )
        return {
            "sop_instance_uid": done.sop_instance_uid,
            "case_id": done.case_id,
            "previous_case_id": done.previous_case_id,
        }

    async def write_report(self, caller: Caller, request: WriteReport) -> dict[str, Any]:
        """The case's procedure report, written where the service keeps its files; returns
        the file's path (the dashboard's report key; `procsuite report` writes it locally)."""
        case = self.find_case(request.case_ref)
        if self.reports is None:
            raise NotAvailable("this service does not write procedure reports")
        path = await self.reports(case.case_id)
        log.info("report of case %s written for %s", case.case_id, caller.user)
        return {"case_id": case.case_id, "path": path}

    def resync(self) -> dict[str, Any]:
        for listener in self.resync_listeners:
            listener()
        return {"rooms": list(self.alarms.rooms) if self.alarms is not None else []}


class UnknownRoom(DomainError):
    rule = "unknown-room"
