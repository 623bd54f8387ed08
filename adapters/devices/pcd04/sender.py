"""The PCD-04 sender: delivers the outbox to the alert manager over MLLP, one message at a
time, in order, each until it is accepted (ACK AA / CA, or an ORA^R41).

An answer missing for `ack_timeout_s`, a refused or dropped connection, or an AE is an outage
of the alert manager: the connection is closed, the same message is sent again after a
back-off (1 s doubling to `retry_max_s`), and one site-wide technical alarm is raised for the
episode, cleared when a message is accepted again. An AR / CR refuses that message for good:
it is recorded with the answer and the next one goes. A message is marked sent in the store
only after it was accepted, so nothing is lost across a restart; a restart between the
answer and that write sends it once more with the same MSH-10, which a receiver recognises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapters.devices.ack import read_answer
from adapters.devices.hl7v2 import MessageError
from adapters.devices.pcd04.codec import Addressing
from adapters.devices.pcd04.outbox import Limits, Pcd04Outbox
from suite.app.alarm_journal import AlarmStored
from suite.app.site_alarm import SiteAlarm
from suite.bus import Bus
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.mllp import FrameError, FrameReader, Oversize, frame
from suite.store import devices as store
from suite.store.database import Database
from suite.tls import client_tls

if TYPE_CHECKING:
    from suite.app.context import ServiceContext

log = logging.getLogger(__name__)

ALARM_KIND = "alert_manager_unreachable"


class Pcd04Sender:
    name = "pcd04-sender"
    kind = "pcd04"

    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        outbox: Pcd04Outbox,
        host: str,
        port: int,
        clock: Callable[[], datetime],
        ack_timeout_s: float = 5.0,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 30.0,
        poll_s: float = 1.0,
        tls: ssl.SSLContext | None = None,
        instance: str = "procsuite",
    ) -> None:
        self.db, self.bus, self.outbox = db, bus, outbox
        self.host, self.port, self.tls = host, port, tls
        self.clock = clock
        self.ack_timeout_s = ack_timeout_s
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        self.poll_s = poll_s
        self.outage = SiteAlarm(bus, clock=clock, kind=ALARM_KIND, device=instance,
                                priority=Priority.HIGH)  # fmt: skip
        self.sent = 0
        self.rejected = 0
        self.failures = 0
        self.last_error = ""
        self._conn: tuple[FrameReader, asyncio.StreamWriter] | None = None

    def status(self) -> dict[str, Any]:
        return {
            "kind": "pcd04",
            "destination": f"{self.host}:{self.port}",
            "queued": self.outbox.queued,
            "sent": self.sent,
            "rejected": self.rejected,
            "failures": self.failures,
            "outage": self.outage.active,
            "last_error": self.last_error,
        }

    async def run(self) -> None:
        wake = self.bus.subscribe("pcd04", AlarmStored, maxsize=1, lossy=True)
        await self.outage.adopt(self.db)
        delay = self.retry_initial_s
        try:
            while True:
                try:
                    while await self.db.write(self.outbox.fill):
                        pass
                    while await self._send_next():
                        delay = self.retry_initial_s
                except _Outage as exc:
                    self._close()
                    self.failures += 1
                    self.last_error = str(exc)
                    log.warning("pcd04: alert manager %s:%d: %s (retry in %.1f s)",
                                self.host, self.port, exc, delay)  # fmt: skip
                    self.outage.raise_(
                        f"the alert manager at {self.host}:{self.port} does not accept alarm "
                        f"messages ({exc}): they wait in order and are sent when it is back"
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max_s)
                    continue
                except Exception as exc:  # the store is away: try again next round
                    log.warning("pcd04: outbox not read (%s)", exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s):
                        await wake.get()
        finally:
            wake.close()
            self._close()

    async def _send_next(self) -> bool:
        """Send the oldest unsent message; False when there is none."""
        async with self.db.session() as session:
            row = await store.next_unsent(session)
        if row is None or row.id is None or row.message is None:
            return False
        answer = await self._exchange(row.message.encode("utf-8"))
        now = self.clock()
        if answer.accepted:
            await self.db.write(lambda s: store.mark_pcd04(s, row.id or 0, sent_at=now,
                                                           ack_code=answer.code))  # fmt: skip
            self.sent += 1
            self.outage.clear("the alert manager accepts alarm messages again")
            return True
        if answer.code in ("AR", "CR"):
            self.rejected += 1
            log.error("pcd04: alert manager refused %s (%s): %s", row.control_id, answer.code,
                      answer.text)  # fmt: skip
            await self.db.write(lambda s: store.mark_pcd04(s, row.id or 0, sent_at=now,
                                ack_code=answer.code, error=answer.text))  # fmt: skip
            return True
        await self.db.write(lambda s: store.mark_pcd04(s, row.id or 0, sent_at=None,
                            ack_code=answer.code, error=answer.text))  # fmt: skip
        raise _Outage(f"answered {answer.code} {answer.text}".strip())

    async def _exchange(self, message: bytes) -> Any:
        try:
            async with asyncio.timeout(self.ack_timeout_s):
                if self._conn is None:
                    reader, writer = await asyncio.open_connection(
                        self.host, self.port, ssl=self.tls
                    )
                    self._conn = (
                        FrameReader(reader, max_frame_bytes=1_048_576,
                                    frame_timeout_s=self.ack_timeout_s),
                        writer,
                    )  # fmt: skip
                frames, writer = self._conn
                writer.write(frame(message))
                await writer.drain()
                reply = await frames.next()
        except TimeoutError:
            raise _Outage(f"no answer within {self.ack_timeout_s:g} s") from None
        except (OSError, FrameError, ssl.SSLError) as exc:
            raise _Outage(str(exc) or type(exc).__name__) from None
        if reply is None or isinstance(reply, Oversize):
            raise _Outage("the connection closed without an answer")
        try:
            return read_answer(reply)
        except MessageError as exc:
            raise _Outage(f"unreadable answer: {exc}") from None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None


class _Outage(Exception):
    """The alert manager did not accept a message (timeout, connection, AE)."""


def build_pcd04_sender(ctx: ServiceContext) -> Pcd04Sender:
    s = ctx.settings
    p = s.devices.pcd04
    assert p.host is not None
    config = s.alarms.engine_config()
    alarms = ctx.alarms

    def limits(room: str, param: Param) -> tuple[float | None, float | None] | None:
        if alarms is not None and room in ctx.served:
            limit = alarms.engine.limits(room)[param]
        else:
            limit = config.limit_for(param, None)
        return (limit.low, limit.high)

    outbox = Pcd04Outbox(
        to=Addressing(
            p.sending_application,
            p.sending_facility,
            p.receiving_application,
            p.receiving_facility,
            p.point_of_care,
            s.site,
        ),  # fmt: skip
        clock=ctx.clock,
        beds=dict(p.bed),
        limits=limits,
        initial_backlog_s=p.initial_backlog_s,
    )
    tls = client_tls(p.tls_ca_file, p.tls_cert_file, p.tls_key_file) if p.tls else None
    return Pcd04Sender(
        db=ctx.db, bus=ctx.bus, outbox=outbox, host=p.host, port=p.port, clock=ctx.clock,
        ack_timeout_s=p.ack_timeout_s, retry_initial_s=p.retry_initial_s,
        retry_max_s=p.retry_max_s, poll_s=p.poll_s, tls=tls, instance=s.lease.instance_id,
    )  # fmt: skip


__all__ = ["ALARM_KIND", "Limits", "Pcd04Sender", "build_pcd04_sender"]
