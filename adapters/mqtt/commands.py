"""The command channel: JSON commands on `procsuite/<site>/cmd/<user>`, replies on
`procsuite/<site>/reply/<user>` (docs/mqtt.md "Commands").

    {"id": "c-1", "action": "log_step", "case_id": "...", "step": "trocar",
     "fields": {"level": "L1"}, "at": "2026-11-24T09:30:00Z"}
    -> {"id": "c-1", "ok": true, "result": {...}}
    -> {"id": "c-1", "ok": false, "error": "<in words>", "rule": "<rule>"}

A codec and a dispatch only: the payload becomes a typed request (command_codec.py), the
application layer (`suite.app.actions.Actions`) checks the user's role and carries it out,
and the result or refusal becomes the reply. The user is the topic segment (the broker's
ACLs make sure only that user publishes there). Commands are handled one at a time in
arrival order, with source=mqtt. A command redelivered with the same id (QoS 1) gets the
first reply again instead of running twice. With several instances, `suite.app.routing`
says which one answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict

from adapters.mqtt import codec
from adapters.mqtt.codec import CommandError, CommandRequest
from adapters.mqtt.command_codec import to_request
from suite.app.actions import Actions
from suite.app.requests import Caller, Request
from suite.app.routing import CommandRouter, Routing
from suite.domain.envelope import Source
from suite.errors import DomainError, StoreError

log = logging.getLogger(__name__)


class CommandChannel:
    name = "mqtt-commands"

    def __init__(
        self,
        *,
        actions: Actions,
        router: CommandRouter | None = None,
        max_payload_bytes: int = 65_536,
        queue_size: int = 1_000,
    ) -> None:
        self.actions = actions
        self.router = router or CommandRouter(Routing(), cases=actions.cases)
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
        instance = self.router.routing.instance
        while True:
            user, payload = await self._inbox.get()
            if not await self._answers(payload):
                self.skipped += 1
                continue
            reply = await self.handle(user, payload)
            if instance:
                reply = codec.to_json({**json.loads(reply), "instance": instance})
            self._reply(user, reply)

    async def _answers(self, payload: bytes) -> bool:
        request: Request | None
        try:
            request = to_request(codec.decode_command(payload, max_bytes=self.max_payload_bytes))
            return await self.router.answers(request)
        except (CommandError, StoreError):
            return await self.router.answers(None)

    async def handle(self, user: str, payload: bytes) -> bytes:
        """Carry out one command; returns the reply payload (never raises for bad input)."""
        try:
            command = codec.decode_command(payload, max_bytes=self.max_payload_bytes)
        except CommandError as exc:
            self.refused += 1
            log.warning("mqtt: unreadable command from %s: %s", user, exc.message)
            return codec.encode_reply(exc.command_id, error=exc)
        key = (user, command.id)
        if command.id and key in self._done:
            return self._done[key]
        try:
            result = await self._dispatch(user, command)
            reply = codec.encode_reply(command.id, result=result)
            log.info("mqtt: %s %s by %s: ok", command.action, command.id, user)
        except (CommandError, DomainError) as exc:
            self.refused += 1
            error = CommandError(exc.message, rule=exc.rule, command_id=command.id)
            reply = codec.encode_reply(command.id, error=error)
            log.info(
                "mqtt: %s %s by %s refused (%s): %s",
                command.action,
                command.id,
                user,
                exc.rule,
                exc.message,
            )
        except StoreError as exc:
            error = CommandError(f"not stored: {exc}; try again", rule="store")
            log.error(
                "mqtt: %s %s by %s failed in the store: %s", command.action, command.id, user, exc
            )
            return codec.encode_reply(command.id, error=error)  # not remembered: may succeed
        self.handled += 1
        if command.id:
            self._done[key] = reply
            while len(self._done) > 1_000:
                self._done.popitem(last=False)
        return reply

    async def _dispatch(self, user: str, command: CommandRequest) -> dict[str, object]:
        caller = Caller(user=user, source=Source.MQTT)
        try:
            request = to_request(command)
        except CommandError as exc:
            if exc.rule != "unknown-action":
                # Who may do it is answered before what is wrong with it.
                step = command.body.get("step") if command.action == "log_step" else None
                self.actions.authorise(
                    caller, command.action, step=step if isinstance(step, str) else None
                )
            raise
        return await self.actions.perform(caller, request)
