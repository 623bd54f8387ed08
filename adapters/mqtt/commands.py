"""The command channel: JSON commands on `procsuite/<site>/cmd/<user>`, replies on
`procsuite/<site>/reply/<user>` (docs/mqtt.md "Commands").

    {"id": "c-1", "action": "log_step", "case_id": "...", "step": "trocar",
     "fields": {"level": "L1"}, "at": "2026-11-24T09:30:00Z"}
    -> {"id": "c-1", "ok": true, "result": {...}}
    -> {"id": "c-1", "ok": false, "error": "<in words>", "rule": "<rule>"}

The user is the topic segment (the broker's ACLs make sure only that user publishes there);
the service checks it against `users` and the permission table (suite/roles.py). Commands are
handled one at a time in arrival order; every command is applied with actor=user and
source=mqtt. A command redelivered with the same id (QoS 1) gets the first reply again
instead of running twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.mqtt import codec
from adapters.mqtt.codec import CommandError, CommandRequest
from suite.alarm_records import alarm_view
from suite.alarm_service import AlarmService
from suite.case_service import CaseService
from suite.domain import commands as c
from suite.domain.alarms.parameters import Param
from suite.domain.bounds import OutOfRange, number
from suite.domain.codec import from_data
from suite.domain.envelope import Source
from suite.domain.errors import DomainError
from suite.domain.values import Order, Patient, parse_levels
from suite.roles import PermissionDenied, Permissions
from suite.settings import Role
from suite.steps import parse_step
from suite.store import alarms as alarm_store
from suite.store import cases as case_store
from suite.store.database import StoreError

log = logging.getLogger(__name__)

Handler = Callable[[str, CommandRequest], Any]
ACK_TIMEOUT_S = 10.0


def field_word(key: str, value: Any) -> str:
    """A JSON field as the `key=value` word `suite.steps.parse_step` reads."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                parts.append(":".join(str(v) for v in item.values()))
            else:
                parts.append(item if isinstance(item, str) else json.dumps(item))
        text = ",".join(parts)
    else:
        text = json.dumps(value)
    return f"{key}={text}"


def _text(body: Mapping[str, Any], key: str, *, action: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"{action} needs {key} (text)", rule="bad-command")
    return value.strip()


def _number(body: Mapping[str, Any], key: str, *, action: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    try:  # finite and of sane size: a 400-digit integer must not reach float()
        return number(value, where=f"{action}: {key}")
    except OutOfRange as exc:
        raise CommandError(f"{exc.message} (a number or null)", rule="bad-command") from None


async def _nobody(room: str) -> str | None:
    return None


@dataclass(frozen=True)
class Routing:
    """Which commands this instance answers when several share the broker (suite/leases.py).
    The default answers every command (one instance)."""

    rooms: frozenset[str] = frozenset()
    site_duties: bool = True
    owner_of: Callable[[str], Awaitable[str | None]] = _nobody
    everything: bool = True
    instance: str = ""
    """Named in every reply (which instance answered), when set."""


class CommandChannel:
    name = "mqtt-commands"

    def __init__(
        self,
        *,
        users: Mapping[str, Role],
        permissions: Permissions,
        cases: CaseService,
        alarms: AlarmService,
        clock: Callable[[], datetime],
        resync: Callable[[], None],
        max_payload_bytes: int = 65_536,
        queue_size: int = 1_000,
        routing: Routing | None = None,
    ) -> None:
        self.routing = routing or Routing()
        self.users = users
        self.permissions = permissions
        self.cases = cases
        self.alarms = alarms
        self.clock = clock
        self.resync = resync
        self.max_payload_bytes = max_payload_bytes
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=queue_size)
        # Replies wait here for the broker; when full the oldest goes (a terminal that has
        # been away that long resynchronises from the retained state anyway).
        self.replies: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=queue_size)
        self.replies_dropped = 0
        self._done: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self.handled = 0
        self.refused = 0
        self.skipped = 0  # commands another instance answers
        self._actions: dict[str, Handler] = {
            "log_step": self._log_step,
            "ack_alarm": self._ack_alarm,
            "adjust_limit": self._adjust_limit,
            "schedule_case": self._schedule_case,
            "resync": self._resync,
            "hl7_replay": self._hl7_replay,
            "dicom_assign": self._dicom_assign,
        }

    def offer(self, user: str, payload: bytes) -> None:
        """A command arrived (from the runner; never blocks)."""
        try:
            self._inbox.put_nowait((user, payload))
        except asyncio.QueueFull:
            command_id = ""  # an unreadable command's busy reply carries no id
            with contextlib.suppress(CommandError):
                command_id = codec.decode_command(payload, max_bytes=self.max_payload_bytes).id
            busy = CommandError("the service is busy; send the command again", rule="busy")
            self._reply(user, codec.encode_reply(command_id, error=busy))

    def _reply(self, user: str, payload: bytes) -> None:
        if self.replies.full():
            self.replies.get_nowait()
            self.replies_dropped += 1
            log.warning("mqtt: reply queue full; dropped the oldest reply")
        self.replies.put_nowait((user, payload))

    async def run(self) -> None:
        while True:
            user, payload = await self._inbox.get()
            if not await self._answers(payload):
                self.skipped += 1
                continue
            reply = await self.handle(user, payload)
            if self.routing.instance:
                reply = codec.to_json({**json.loads(reply), "instance": self.routing.instance})
            self._reply(user, reply)

    async def _answers(self, payload: bytes) -> bool:
        """Whether this instance answers the command: the one serving its room does; the one
        with the site-wide duties answers the rest (no room, unknown, unreadable)."""
        routing = self.routing
        if routing.everything:
            return True
        try:
            request = codec.decode_command(payload, max_bytes=self.max_payload_bytes)
            room = await self._room_of(request)
        except (CommandError, StoreError):
            room = None
        if room is None:
            return routing.site_duties
        if room in routing.rooms:
            return True
        # A room nobody served a moment ago: the site's instance answers (with a refusal
        # naming who serves it), unless the room has an owner now.
        return routing.site_duties and await routing.owner_of(room) is None

    async def _room_of(self, request: CommandRequest) -> str | None:
        body = request.body
        if request.action == "log_step":
            ref = body.get("case_id")
            if not isinstance(ref, str):
                return None
            case = self.cases.get(ref) or self.cases.by_accession(ref)
            if case is not None:
                return case.room
            async with self.cases.db.session() as session:
                return await case_store.room_of(session, ref)
        if request.action == "ack_alarm":
            alarm_id = body.get("alarm_id")
            if not isinstance(alarm_id, str):
                return None
            found = self.alarms.journal.get(alarm_id)
            if found is not None:
                return found.room
            async with self.cases.db.session() as session:
                return await alarm_store.room_of(session, alarm_id)
        if request.action == "adjust_limit":
            room = body.get("room")
            return room if isinstance(room, str) else None
        if request.action == "schedule_case":
            fields = body.get("fields")
            room = fields.get("room") if isinstance(fields, dict) else None
            return room if isinstance(room, str) else None
        return None

    async def handle(self, user: str, payload: bytes) -> bytes:
        """Carry out one command; returns the reply payload (never raises for bad input)."""
        try:
            request = codec.decode_command(payload, max_bytes=self.max_payload_bytes)
        except CommandError as exc:
            self.refused += 1
            log.warning("mqtt: unreadable command from %s: %s", user, exc.message)
            return codec.encode_reply(exc.command_id, error=exc)
        key = (user, request.id)
        if request.id and key in self._done:
            return self._done[key]
        try:
            result = await self._dispatch(user, request)
            reply = codec.encode_reply(request.id, result=result)
            log.info("mqtt: %s %s by %s: ok", request.action, request.id, user)
        except (CommandError, PermissionDenied, DomainError) as exc:
            self.refused += 1
            rule = getattr(exc, "rule", "refused")
            error = CommandError(exc.message, rule=rule, command_id=request.id)
            reply = codec.encode_reply(request.id, error=error)
            log.info(
                "mqtt: %s %s by %s refused (%s): %s",
                request.action,
                request.id,
                user,
                rule,
                exc.message,
            )
        except StoreError as exc:
            error = CommandError(f"not stored: {exc}; try again", rule="store")
            reply = codec.encode_reply(request.id, error=error)
            log.error(
                "mqtt: %s %s by %s failed in the store: %s", request.action, request.id, user, exc
            )
            return reply  # not remembered: the retry may succeed
        self.handled += 1
        if request.id:
            self._done[key] = reply
            while len(self._done) > 1_000:
                self._done.popitem(last=False)
        return reply

    async def _dispatch(self, user: str, request: CommandRequest) -> Any:
        handler = self._actions.get(request.action)
        if handler is None:
            known = ", ".join(self._actions)
            raise CommandError(
                f"unknown action {request.action!r}; actions: {known}", rule="unknown-action"
            )
        step = request.body.get("step") if request.action == "log_step" else None
        self.permissions.check(
            user, self.users, request.action, step=step if isinstance(step, str) else None
        )
        return await handler(user, request)

    # ---- actions ------------------------------------------------------------------------------

    def _at(self, body: Mapping[str, Any]) -> datetime:
        if body.get("at") is None:
            return self.clock()
        try:
            return codec.parse_time(body["at"], where="at")
        except codec.PayloadError as exc:
            raise CommandError(exc.message, rule="bad-command") from None

    async def _log_step(self, user: str, request: CommandRequest) -> dict[str, Any]:
        body = request.body
        case_ref = _text(body, "case_id", action="log_step")
        step = _text(body, "step", action="log_step")
        case = self.cases.get(case_ref) or self.cases.by_accession(case_ref)
        if case is None:
            raise CommandError(f"no case {case_ref}", rule="unknown-case")
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            raise CommandError("log_step: fields must be an object", rule="bad-command")
        words = [field_word(k, v) for k, v in fields.items() if v is not None]
        command = parse_step(step, words, at=self._at(body))
        if isinstance(command, c.Discharge) and command.vitals_stable_since is None:
            stable = self.alarms.vitals_stable_since(case.room)
            command = dataclasses.replace(command, vitals_stable_since=stable)
        records = await self.cases.execute(case.case_id, command, actor=user, source=Source.MQTT)
        now_case = self.cases.get(case.case_id) or case
        return {
            "case_id": case.case_id,
            "phase": now_case.phase.value,
            "version": now_case.version,
            "events": [type(r.event).__name__ for r in records],
        }

    async def _ack_alarm(self, user: str, request: CommandRequest) -> dict[str, Any]:
        alarm_id = _text(request.body, "alarm_id", action="ack_alarm")
        try:
            async with asyncio.timeout(ACK_TIMEOUT_S):
                alarm = await self.alarms.acknowledge(alarm_id, user=user)
        except TimeoutError:
            raise StoreError("the acknowledgement was not stored in time") from None
        return alarm_view(alarm)

    async def _adjust_limit(self, user: str, request: CommandRequest) -> dict[str, Any]:
        body = request.body
        room = _text(body, "room", action="adjust_limit")
        name = _text(body, "parameter", action="adjust_limit")
        try:
            param = Param(name)
        except ValueError:
            known = ", ".join(p.value for p in Param)
            raise CommandError(
                f"unknown parameter {name!r}; parameters: {known}", rule="bad-command"
            ) from None
        if room not in self.alarms.rooms:
            raise CommandError(f"room {room!r} is not served here", rule="unknown-room")
        reason = body.get("reason") if isinstance(body.get("reason"), str) else ""
        low = _number(body, "low", action="adjust_limit")
        high = _number(body, "high", action="adjust_limit")
        async with asyncio.timeout(ACK_TIMEOUT_S):
            await self.alarms.adjust_limit(
                room, param, low=low, high=high, user=user, reason=reason or ""
            )
        return {"room": room, "parameter": param.value, "low": low, "high": high}

    async def _schedule_case(self, user: str, request: CommandRequest) -> dict[str, Any]:
        fields = request.body.get("fields")
        if not isinstance(fields, dict):
            raise CommandError("schedule_case needs fields (an object)", rule="bad-command")
        levels = fields.get("levels")
        if isinstance(levels, str):
            levels = levels.split(",")
        if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
            raise CommandError(
                'schedule_case: levels must be a list such as ["T12", "L1"]', rule="bad-command"
            )
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
                "indication": fields.get("indication", "osteoporotic"),
                "fracture_date": fields.get("fracture_date"),
            },
            where="fields",
        )
        room = fields.get("room")
        if not isinstance(room, str) or not room:
            raise CommandError("schedule_case needs fields.room", rule="bad-command")
        now = self.clock()
        scheduled = self._at({"at": fields.get("at")}) if fields.get("at") else now
        case_id = self.cases.new_case_id()
        await self.cases.execute(
            case_id,
            c.ScheduleCase(at=now, patient=patient, order=order, room=room, scheduled_at=scheduled),
            actor=user,
            source=Source.MQTT,
        )
        return {"case_id": case_id}

    async def _resync(self, user: str, request: CommandRequest) -> dict[str, Any]:
        self.resync()
        return {"rooms": list(self.alarms.rooms)}

    # ---- IT: the integration view's actions -----------------------------------------------------

    async def _dicom_assign(self, user: str, request: CommandRequest) -> dict[str, Any]:
        from adapters.dicom.linker import AssignError, assign

        uid = _text(request.body, "sop_instance_uid", action="dicom_assign")
        ref = _text(request.body, "case_id", action="dicom_assign")
        case = self.cases.get(ref) or self.cases.by_accession(ref)
        if case is None:
            raise CommandError(f"no case {ref}", rule="unknown-case")
        try:
            done = await assign(
                db=self.cases.db,
                cases=self.cases,
                sop_instance_uid=uid,
                case_id=case.case_id,
                force=request.body.get("force") is True,
                user=user,
                source=Source.MQTT.value,
                at=self.clock(),
            )
        except AssignError as exc:
            raise CommandError(str(exc), rule="dicom-assign") from None
        log.info("mqtt: %s assigned image %s to case %s", user, uid, case.case_id)
        return {
            "sop_instance_uid": done.sop_instance_uid,
            "case_id": done.case_id,
            "previous_case_id": done.previous_case_id,
        }

    async def _hl7_replay(self, user: str, request: CommandRequest) -> dict[str, Any]:
        # The same function as `procsuite hl7 replay` (adapters/hl7/replay.py).
        from adapters.hl7.replay import ReplayRefused, replay_outbound

        row_id = request.body.get("message_id")
        if isinstance(row_id, str) and row_id.strip().lstrip("#").isdigit():
            row_id = int(row_id.strip().lstrip("#"))
        if isinstance(row_id, bool) or not isinstance(row_id, int):
            raise CommandError("hl7_replay needs message_id (a number)", rule="bad-command")
        try:
            done = await replay_outbound(
                self.cases.db, row_id, now=self.clock(), user=user, source=Source.MQTT.value
            )
        except ReplayRefused as exc:
            raise CommandError(str(exc), rule="hl7-replay") from exc
        log.info("mqtt: %s queued outbound HL7 #%d again as %s", user, row_id, done.control_id)
        return {
            "message_id": row_id,
            "message_type": done.message_type,
            "control_id": done.control_id,
        }
