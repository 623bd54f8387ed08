"""An in-process `SuiteClient` for tests, snapshots and benchmarks (a hand-written fake).

Tests play the service: `publish` a topic and a JSON payload exactly as the service would
(they go through the same decoding as over MQTT), answer commands with `answer`, and drop or
restore the connection with `disconnect` / `connect`. Every command sent is kept in `sent`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from suite.app.sedation_drugs import DEFAULT_LOCAL_ANESTHETICS, DEFAULT_SEDATION_DRUGS
from suite.app.steps import STEPS
from suite.clock import utc_now
from tui.client import OFFLINE
from tui.inbox import Inbox, InboxStreams
from tui.views import Link, Reply

Answer = Callable[[str, dict[str, Any]], Reply | Awaitable[Reply]]


class FakeSuiteClient(InboxStreams):
    def __init__(
        self,
        *,
        user: str = "tech1",
        site: str = "main",
        clock: Callable[[], datetime] = utc_now,
        connected: bool = True,
    ) -> None:
        self.user, self.site = user, site
        self.where = "in-process fake"
        self.inbox = Inbox(user=user, clock=clock)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.answer: Answer = lambda action, fields: Reply("", True, {"phase": "?"})
        # The answer to `whoami` (not kept in `sent`); every step and action by default.
        self.whoami: Reply = Reply(
            "",
            True,
            {
                "user": user,
                "role": "technologist",
                "actions": ["log_step", "ack_alarm", "silence_alarm", "adjust_limit", "schedule_case", "resync",
                            "hl7_replay", "dicom_assign", "whoami"],
                "steps": list(STEPS),
                "drugs": [{"drug": d, "unit": u} for d, u in DEFAULT_SEDATION_DRUGS],
                "local_anesthetics": list(DEFAULT_LOCAL_ANESTHETICS),
                "now": None,
            },
        )  # fmt: skip
        self.connected = connected
        self._ids = 0
        self._stop = asyncio.Event()
        if connected:
            self.inbox.link(Link.CONNECTED, "connected to the fake service")

    # ---- the service's side ---------------------------------------------------------------

    def publish(self, topic: str, payload: Mapping[str, Any] | list[Any] | str | bytes) -> None:
        """A message from the service (topic below `procsuite/<site>/`)."""
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        self.inbox.handle(topic, data)

    def disconnect(self, why: str = "connection lost") -> None:
        self.connected = False
        self.inbox.link(Link.DISCONNECTED, why, attempt=1)

    def connect(self) -> None:
        self.connected = True
        self.inbox.link(Link.CONNECTED, "connected to the fake service", resync=True)

    # ---- SuiteClient --------------------------------------------------------------------------

    async def send(self, action: str, **fields: Any) -> Reply:
        self._ids += 1
        command_id = f"{self.user}-fake-{self._ids}"
        if not self.connected:
            return Reply(command_id, False, error="not connected to the service", rule=OFFLINE)
        if action == "whoami":
            w = self.whoami
            return Reply(command_id, w.ok, w.result, w.error, w.rule)
        self.sent.append((action, dict(fields)))
        answered = self.answer(action, dict(fields))
        reply = await answered if isinstance(answered, Awaitable) else answered
        return Reply(command_id, reply.ok, reply.result, reply.error, reply.rule)

    async def run(self) -> None:
        await self._stop.wait()

    def close(self) -> None:
        self._stop.set()
