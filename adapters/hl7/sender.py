"""The sender: delivers the outbox to one MLLP destination, in order, until each is answered.

The head of the destination's queue (lowest seq still pending) is rendered once, sent, and
its ACK awaited. AA (or CA) marks it sent and the next one goes; AE / AR (or CE / CR) puts
it in quarantine, for IT to look at and replay (`procsuite hl7 quarantine`, `hl7 replay`),
and the queue goes on. A receiver that cannot be reached is an outage: the message waits,
retried with backoff, for as long as it takes. A message that was sent but got no usable
ACK counts an attempt; after `max_attempts` it is quarantined too. The first outage raises
one `hl7_outbound_down` technical alarm (room "*"), cleared by the next delivery.

Every state change is written before the next step, so a restart of procsuite or of the
receiver loses nothing. A message is sent again only when its ACK never arrived; it goes
with the same MSH-10, so a receiver that keeps control IDs answers it without applying it
twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import hl7

from adapters.hl7.outbound import Party
from adapters.hl7.outbox import Outbox, VitalsSource, render, stored_vitals
from suite.app.case_service import CaseChanged
from suite.bus import Bus, BusOverflow
from suite.domain.alarms.model import AlarmCleared, AlarmRaised, AlarmSource, Category, Priority
from suite.mllp import FrameError, FrameReader, frame
from suite.store import hl7 as store
from suite.store import hl7_outbox
from suite.store.database import Database, StoreError
from suite.tls import client_tls

if TYPE_CHECKING:
    from suite.app.context import ServiceContext

log = logging.getLogger(__name__)

ALARM_KIND = "hl7_outbound_down"
ALARM_ROOM = "*"  # a site-level alarm: no procedure room owns the HIS interface


@dataclass
class SenderStats:
    sent: int = 0
    quarantined: int = 0
    failures: int = 0
    connects: int = 0
    alarms: int = 0


@dataclass(frozen=True, slots=True)
class Retry:
    ack_timeout_s: float = 30.0
    initial_s: float = 1.0
    max_s: float = 60.0
    max_attempts: int = 10
    alarm_after_s: float = 60.0
    poll_s: float = 2.0


class _Failure(Exception):
    """One attempt failed; `counts` says whether the message itself was (maybe) received."""

    def __init__(self, message: str, *, counts: bool) -> None:
        super().__init__(message)
        self.counts = counts


class Hl7Sender:
    """The `hl7-sender` component."""

    name = "hl7-sender"

    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        host: str,
        port: int,
        party: Party,
        clock: Callable[[], datetime],
        retry: Retry = Retry(),
        tls: ssl.SSLContext | None = None,
        vitals: VitalsSource = stored_vitals,
    ) -> None:
        self.db = db
        self.bus = bus
        self.host = host
        self.port = port
        self.destination = f"{host}:{port}"
        self.party = party
        self.clock = clock
        self.retry = retry
        self.tls = tls
        self.vitals = vitals
        self.stats = SenderStats()
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameReader] | None = None
        self._delay = retry.initial_s
        self._down_since: float | None = None
        self._alarm_id: str | None = None
        self._last_error = ""
        self.outbox: Outbox | None = None

    async def run(self) -> None:
        wake = self.bus.subscribe(self.name, CaseChanged, maxsize=1, lossy=True)
        await self._adopt_open_alarm()
        log.info("hl7: sending to %s", self.destination)
        try:
            while True:
                try:
                    row = await self.db.read(lambda s: store.next_pending(s, self.destination))
                    if row is not None:
                        await self._deliver(row)
                        continue
                except (StoreError, OSError) as exc:
                    # The outbox is safe in the database; wait for it to come back.
                    log.error("hl7: outbox not readable or writable: %s", exc)
                    await asyncio.sleep(self.retry.max_s)
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.retry.poll_s):
                        await wake.get()
        finally:
            wake.close()
            await self._disconnect()

    # ---- one message ---------------------------------------------------------------------

    async def _deliver(self, row: store.Hl7OutboxRow) -> None:
        assert row.id is not None
        if not row.raw:
            try:
                raw = await render(
                    self.db, row, party=self.party, now=self.clock(), vitals=self.vitals
                )
            except (StoreError, OSError):
                raise  # the database, not the message: tried again later
            except Exception as exc:  # a message that cannot be built is quarantined, not lost
                log.exception("hl7: outbound %d (%s) cannot be built", row.id, row.message_type)
                await self._quarantine(row, f"could not be built: {exc}", ack=None)
                return
            await self._update(row.id, raw=raw)
            row.raw = raw
        try:
            ack = await self._exchange(row.raw)
            code, control_id, text = _read_ack(ack)
            if control_id != row.control_id:
                raise _Failure(
                    f"ACK for {control_id or '(none)'} instead of {row.control_id}", counts=True
                )
        except _Failure as failure:
            await self._failed(row, str(failure), counts=failure.counts)
            return
        self._recovered()
        if code in ("AA", "CA"):
            await self._update(
                row.id,
                status=store.OUTBOX_SENT,
                attempts=row.attempts + 1,
                ack_code=code,
                ack_raw=ack,
                sent_at=self.clock(),
                last_error="",
            )
            self.stats.sent += 1
            log.info(
                "hl7: %s %s for case %s delivered", row.message_type, row.control_id, row.case_id
            )
        else:
            await self._quarantine(row, f"{code}: {text}".strip(": "), ack=ack)

    async def _failed(self, row: store.Hl7OutboxRow, error: str, *, counts: bool) -> None:
        assert row.id is not None
        self.stats.failures += 1
        attempts = row.attempts + (1 if counts else 0)
        self._outage(error)
        if counts and attempts >= self.retry.max_attempts:
            await self._quarantine(row, f"{attempts} attempts without an ACK: {error}", ack=None)
            return
        await self._update(row.id, attempts=attempts, last_error=error[:1024])
        if error != self._last_error:
            log.warning("hl7: %s to %s failed: %s", row.message_type, self.destination, error)
            self._last_error = error
        await asyncio.sleep(self._delay)
        self._delay = min(self.retry.max_s, self._delay * 2)

    async def _quarantine(self, row: store.Hl7OutboxRow, error: str, *, ack: bytes | None) -> None:
        assert row.id is not None
        await self._update(
            row.id,
            status=store.OUTBOX_QUARANTINED,
            attempts=row.attempts + 1,
            last_error=error[:1024],
            ack_code=_read_ack(ack)[0] if ack else None,
            ack_raw=ack,
        )
        self.stats.quarantined += 1
        log.warning(
            "hl7: %s %d for case %s quarantined: %s", row.message_type, row.id, row.case_id, error
        )

    async def _update(self, row_id: int, **values: Any) -> None:
        values["updated_at"] = self.clock()

        await self.db.write(lambda s: hl7_outbox.update(s, row_id, **values))

    # ---- the connection ------------------------------------------------------------------

    async def _exchange(self, raw: bytes) -> bytes:
        reused = self._conn is not None
        try:
            return await self._send_once(raw)
        except _Failure:
            if not reused:
                raise
        # The kept connection may have been closed by the receiver while idle: one more
        # try on a fresh connection before the attempt counts.
        return await self._send_once(raw)

    async def _send_once(self, raw: bytes) -> bytes:
        if self._conn is None:
            try:
                async with asyncio.timeout(self.retry.ack_timeout_s):
                    reader, writer = await asyncio.open_connection(
                        self.host,
                        self.port,
                        ssl=self.tls,
                        server_hostname=self.host if self.tls else None,
                    )
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                raise _Failure(
                    f"cannot connect to {self.destination}: {exc or type(exc).__name__}",
                    counts=False,
                ) from exc
            frames = FrameReader(
                reader, max_frame_bytes=1_048_576, frame_timeout_s=self.retry.ack_timeout_s
            )
            self._conn = (reader, writer, frames)
            self.stats.connects += 1
        _, writer, frames = self._conn
        try:
            async with asyncio.timeout(self.retry.ack_timeout_s):
                writer.write(frame(raw))
                await writer.drain()
                reply = await frames.next()
        except (OSError, TimeoutError, FrameError) as exc:
            await self._disconnect()
            raise _Failure(
                f"no ACK from {self.destination}: {exc or type(exc).__name__}", counts=True
            ) from exc
        if not isinstance(reply, bytes):
            await self._disconnect()
            raise _Failure(f"{self.destination} closed the connection without an ACK", counts=True)
        return reply

    async def _disconnect(self) -> None:
        if self._conn is None:
            return
        _, writer, _ = self._conn
        self._conn = None
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            async with asyncio.timeout(2):
                await writer.wait_closed()

    # ---- the outage alarm ----------------------------------------------------------------

    def outage(self) -> dict[str, object]:
        """Whether the receiver is unreachable now, for how long, why, and its alarm (for IT;
        call from the event loop)."""
        if self._down_since is None:
            return {"down": False}
        down_for = asyncio.get_running_loop().time() - self._down_since
        return {
            "down": True,
            "down_for_s": round(down_for, 1),
            "last_error": self._last_error[:200],
            "alarm_id": self._alarm_id,
        }

    def _outage(self, error: str) -> None:
        now = asyncio.get_running_loop().time()
        if self._down_since is None:
            self._down_since = now
        if self._alarm_id is None and now - self._down_since >= self.retry.alarm_after_s:
            self._alarm_id = f"hl7-out-{uuid.uuid4().hex[:12]}"
            self.stats.alarms += 1
            self._publish(
                AlarmRaised(
                    alarm_id=self._alarm_id,
                    room=ALARM_ROOM,
                    at=self.clock(),
                    kind=ALARM_KIND,
                    category=Category.TECHNICAL,
                    priority=Priority.LOW,
                    message=f"HL7 messages to {self.destination} are not delivered: {error}",
                    source=AlarmSource(rule=ALARM_KIND, device=self.destination),
                )
            )

    def _recovered(self) -> None:
        self._down_since = None
        self._delay = self.retry.initial_s
        self._last_error = ""
        if self._alarm_id is not None:
            alarm_id, self._alarm_id = self._alarm_id, None
            log.info("hl7: delivery to %s resumed", self.destination)
            self._publish(
                AlarmCleared(
                    alarm_id=alarm_id, room=ALARM_ROOM, at=self.clock(), reason="delivered"
                )
            )

    def _publish(self, event: AlarmRaised | AlarmCleared) -> None:
        try:
            self.bus.publish(event)
        except BusOverflow:
            log.error("hl7: alarm %s not published: the alarm stream is full", event.alarm_id)

    async def _adopt_open_alarm(self) -> None:
        """An outage alarm raised before a restart is this outage's alarm (cleared on delivery)."""
        try:
            from suite.store.alarms import open_alarms

            found = await self.db.read(lambda s: open_alarms(s, rooms=[ALARM_ROOM]))
        except (ImportError, StoreError, OSError) as exc:
            log.debug("hl7: open alarms not read: %s", exc)
            return
        for alarm, _origin in found:
            if alarm.kind == ALARM_KIND and alarm.source.device == self.destination:
                self._alarm_id = alarm.alarm_id
                self._down_since = asyncio.get_running_loop().time()


def _read_ack(ack: bytes) -> tuple[str, str, str]:
    """(MSA-1, MSA-2, MSA-3 or ERR text) of an ACK; `_Failure` when it is none."""
    try:
        text = ack.decode("utf-8", errors="replace").replace("\r\n", "\r").replace("\n", "\r")
        message = hl7.parse(text.strip())
        msa = message.segment("MSA")
        code = str(msa(1)).strip().upper()
        control_id = str(msa(2)).strip()
        detail = str(msa(3)).strip() if len(msa) > 3 else ""
    except (hl7.ParseException, KeyError, IndexError, ValueError) as exc:
        raise _Failure(f"the reply is not an ACK: {exc}", counts=True) from None
    if code not in ("AA", "AE", "AR", "CA", "CE", "CR"):
        raise _Failure(f"the reply has acknowledgment code {code!r}", counts=True)
    return code, control_id, detail


def build_sender(ctx: ServiceContext, *, vitals: VitalsSource = stored_vitals) -> Hl7Sender:
    """The sender and its outbox hook, from the service's settings."""
    h = ctx.settings.hl7
    assert h.outbound_host is not None
    sender = Hl7Sender(
        db=ctx.db,
        bus=ctx.bus,
        host=h.outbound_host,
        port=h.outbound_port,
        party=Party(
            h.sending_application, h.sending_facility, h.receiving_application, h.receiving_facility
        ),
        clock=ctx.clock,
        retry=Retry(
            ack_timeout_s=h.ack_timeout_s,
            initial_s=h.retry_initial_s,
            max_s=h.retry_max_s,
            max_attempts=h.max_attempts,
            alarm_after_s=h.outage_alarm_after_s,
            poll_s=h.poll_s,
        ),
        tls=client_tls(h.outbound_tls_ca_file, h.outbound_tls_cert_file, h.outbound_tls_key_file)
        if h.outbound_tls
        else None,
        vitals=vitals,
    )
    from adapters.hl7.component import register_outbox

    sender.outbox = register_outbox(ctx.cases, ctx.settings, clock=ctx.clock)
    return sender
