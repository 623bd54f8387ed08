"""One user at a terminal, on the wire: the service's MQTT command channel, its room
snapshots and its alarm events (DESIGN.md "Wire contracts"; adapters/mqtt/commands.py).

`CommandLink` is what the case script and the scripted nurse use instead of a dashboard:

- commands: JSON on `procsuite/<site>/cmd/<user>`, the answer with the same id on
  `reply/<user>` (`send` waits for it, bounded). A command sent again after a reconnection
  keeps its id, and the service answers a repeated id with its first answer, so a retry never
  logs a step twice;
- room snapshots (`rooms/+/state`, retained) when `watch_rooms`: the latest per room, and
  `wait_state` to wait (bounded) until one satisfies a condition;
- alarm events (`alarms/<room>`, QoS 1) of the rooms in `watch_alarms`, in arrival order
  through a bounded queue (when full the oldest is dropped and counted: the room snapshot
  still lists every open alarm);
- the service's clock as it reports it (the `at` of its retained status and of snapshots).

It keeps one connection, reconnecting with a doubling wait (aiomqtt does not reconnect by
itself). Only the wire: nothing here imports the service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiomqtt

from simulators.monitor import MqttTarget
from suite.clock import utc_now
from suite.tasks import stop_tasks

log = logging.getLogger(__name__)

MAX_PENDING = 100
OFFLINE = "offline"
TIMEOUT = "timeout"


class LinkError(Exception):
    """The link cannot do what was asked (no broker within the time allowed, too many commands
    waiting); the message says which broker and what to check."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The service's answer to one command (or the link's own, with rule offline / timeout)."""

    id: str
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    rule: str = ""
    instance: str = ""  # which procsuite instance answered (when several share the broker)

    @classmethod
    def from_payload(cls, payload: bytes) -> Reply:
        """A reply as the service sends it; `ValueError` naming what is wrong otherwise."""
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise ValueError(f"reply is not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
            raise ValueError(f"reply {payload[:80]!r} has no ok: true/false")
        result = data.get("result")
        return cls(
            id=str(data.get("id", "")),
            ok=data["ok"],
            result=result if isinstance(result, dict) else {},
            error=str(data.get("error") or ""),
            rule=str(data.get("rule") or ""),
            instance=str(data.get("instance") or ""),
        )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


class CommandLink:
    """One user's MQTT connection to the service. Use as `async with CommandLink(...) as link:`."""

    def __init__(
        self,
        url: str,
        *,
        site: str,
        user: str,
        password: str | None = None,
        watch_rooms: bool = False,
        watch_alarms: Sequence[str] = (),
        reply_timeout_s: float = 10.0,
        connect_timeout_s: float = 20.0,
        alarm_queue: int = 1_000,
        reconnect_max_s: float = 5.0,
        real_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not user or any(ch in user for ch in "/#+ "):
            raise ValueError(f"user name {user!r} cannot be part of an MQTT topic")
        self.target = MqttTarget.parse(url)
        if password is not None:  # the user's own broker account (ACLs: cmd/<user> only)
            self.target = dataclasses.replace(self.target, username=user, password=password)
        self.url = url
        self.user = user
        self.root = f"procsuite/{site}"
        self.watch_rooms = watch_rooms
        self.watch_alarms = tuple(watch_alarms)
        self.reply_timeout_s = reply_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.reconnect_max_s = reconnect_max_s
        self._real_clock = real_clock
        self._prefix = f"{user}-{uuid.uuid4().hex[:8]}"
        self._ids = 0
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._states: dict[str, dict[str, Any]] = {}
        self._state_changed = asyncio.Condition()
        self._alarms: deque[dict[str, Any]] = deque(maxlen=alarm_queue)
        self._alarm_ready = asyncio.Event()
        self._offset_s: float | None = None  # service clock minus our real clock
        self.service_online = asyncio.Event()  # the service's retained status says online
        self._task: asyncio.Task[None] | None = None
        self.alarms_dropped = 0
        self.unreadable = 0
        self.connects = 0

    # ---- lifetime ----------------------------------------------------------------------------

    async def __aenter__(self) -> CommandLink:
        self._task = asyncio.create_task(self._run(), name=f"link-{self.user}")
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await self._connected.wait()
        except TimeoutError:
            await self.close()
            raise LinkError(
                f"no MQTT broker at {self.target.host}:{self.target.port} within"
                f" {self.connect_timeout_s:g} s (is `procsuite serve` running with this mqtt_url?)"
            ) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_tasks([task])
        self._fail_pending("the link was closed", OFFLINE)

    # ---- commands ----------------------------------------------------------------------------

    async def send(self, action: str, *, command_id: str | None = None, **fields: Any) -> Reply:
        """Send a command as this user and return the service's reply, or one with rule
        `offline` (not connected within the reply time) or `timeout` (no answer in time: it
        may or may not have been done; sending it again with the same `command_id` is safe)."""
        if len(self._pending) >= MAX_PENDING:
            raise LinkError(f"{MAX_PENDING} commands of {self.user} are already waiting")
        if command_id is None:
            self._ids += 1
            command_id = f"{self._prefix}-{self._ids}"
        body = {"id": command_id, "action": action, **fields}
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Reply] = loop.create_future()
        self._pending[command_id] = done
        try:
            async with asyncio.timeout(self.reply_timeout_s):
                while True:
                    await self._connected.wait()
                    client = self._client
                    if client is None:
                        continue
                    try:
                        await client.publish(
                            f"{self.root}/cmd/{self.user}", payload.encode(), qos=1
                        )
                        break
                    except aiomqtt.MqttError as exc:
                        log.warning(
                            "%s: command %s not sent (%s); retrying", self.user, action, exc
                        )
                        await asyncio.sleep(0.2)
                return await done
        except TimeoutError:
            if not self._connected.is_set():
                return Reply(command_id, False, error="not connected to the broker", rule=OFFLINE)
            return Reply(
                command_id,
                False,
                error=f"no answer within {self.reply_timeout_s:g} s",
                rule=TIMEOUT,
            )
        finally:
            self._pending.pop(command_id, None)

    # ---- what the service publishes ----------------------------------------------------------

    def state(self, room: str) -> dict[str, Any] | None:
        """The room's latest snapshot (None before the first)."""
        return self._states.get(room)

    def states(self) -> dict[str, dict[str, Any]]:
        return dict(self._states)

    def find_case(self, ref: str) -> tuple[str, dict[str, Any]] | None:
        """(room, case part of its snapshot) of the open case with id or accession `ref`."""
        for room, state in self._states.items():
            case = state.get("case")
            if isinstance(case, dict) and ref in (
                case.get("case_id"),
                (case.get("order") or {}).get("accession"),
            ):
                return room, case
        return None

    async def wait_state(
        self, check: Callable[[dict[str, dict[str, Any]]], Any], *, timeout_s: float
    ) -> Any:
        """Wait (at most `timeout_s` real seconds) until `check(snapshots by room)` is truthy;
        returns it. `TimeoutError` when it did not happen."""
        async with asyncio.timeout(timeout_s), self._state_changed:
            while True:
                found = check(dict(self._states))
                if found:
                    return found
                await self._state_changed.wait()

    async def alarm_events(self) -> AsyncIterator[dict[str, Any]]:
        """Alarm events of the watched rooms, oldest first, until the link closes."""
        while True:
            while self._alarms:
                yield self._alarms.popleft()
            self._alarm_ready.clear()
            await self._alarm_ready.wait()

    def drain_alarm_events(self) -> list[dict[str, Any]]:
        """The alarm events received and not yet read, oldest first (they are read now)."""
        events = list(self._alarms)
        self._alarms.clear()
        return events

    def service_now(self) -> datetime | None:
        """The service's clock now, from the `at` it last reported (None before any)."""
        if self._offset_s is None:
            return None
        return self._real_clock() + timedelta(seconds=self._offset_s)

    # ---- the connection ----------------------------------------------------------------------

    def _subscriptions(self) -> list[tuple[str, int]]:
        subs = [(f"{self.root}/reply/{self.user}", 1), (f"{self.root}/status", 1)]
        if self.watch_rooms:
            subs.append((f"{self.root}/rooms/+/state", 1))
        subs += [(f"{self.root}/alarms/{room}", 1) for room in self.watch_alarms]
        return subs

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(
                    self.target.host,
                    self.target.port,
                    identifier=f"procsuite-sim-{self._prefix}",
                    username=self.target.username,
                    password=self.target.password,
                    tls_context=self.target.tls_context(),
                    clean_session=True,
                    keepalive=10,
                ) as client:
                    await client.subscribe(self._subscriptions())
                    self._client = client
                    self.connects += 1
                    self._connected.set()
                    delay = 0.2
                    async for message in client.messages:
                        await self._handle(message.topic.value, message.payload)
            except aiomqtt.MqttError as exc:
                if self.connects:
                    log.warning("%s: MQTT connection lost (%s); reconnecting", self.user, exc)
            finally:
                self._client = None
                self._connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_s)

    async def _handle(self, topic: str, raw: Any) -> None:
        payload = bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw or "").encode()
        rest = topic[len(self.root) + 1 :] if topic.startswith(self.root + "/") else ""
        parts = rest.split("/")
        try:
            if parts == ["reply", self.user]:
                reply = Reply.from_payload(payload)
                waiting = self._pending.get(reply.id)
                if waiting is not None and not waiting.done():
                    waiting.set_result(reply)
            elif parts == ["status"]:
                status = json.loads(payload) if payload[:1] == b"{" else {}
                self._saw_time(status.get("at"))
                if status.get("online") is True:
                    self.service_online.set()
                else:
                    self.service_online.clear()
            elif len(parts) == 3 and parts[0] == "rooms" and parts[2] == "state":
                await self._state(parts[1], payload)
            elif len(parts) == 2 and parts[0] == "alarms":
                event = json.loads(payload)
                if not isinstance(event, dict):
                    raise ValueError("an alarm event is a JSON object")
                if len(self._alarms) == self._alarms.maxlen:
                    self.alarms_dropped += 1
                self._alarms.append(event)
                self._alarm_ready.set()
        except (ValueError, AttributeError) as exc:
            self.unreadable += 1
            log.warning("%s: unreadable message on %s: %s", self.user, topic, exc)

    async def _state(self, room: str, payload: bytes) -> None:
        if not payload:
            self._states.pop(room, None)
            return
        state = json.loads(payload)
        if not isinstance(state, dict):
            raise ValueError("a room snapshot is a JSON object")
        self._saw_time(state.get("at"))
        async with self._state_changed:
            self._states[room] = state
            self._state_changed.notify_all()

    def _saw_time(self, value: Any) -> None:
        at = _parse_time(value)
        if at is not None:
            self._offset_s = (at - self._real_clock()).total_seconds()

    def _fail_pending(self, why: str, rule: str) -> None:
        for command_id, waiting in self._pending.items():
            if not waiting.done():
                waiting.set_result(Reply(command_id, False, error=why, rule=rule))
