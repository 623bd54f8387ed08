"""One PCD-01 message through procsuite: decode, map the location, hand each device's sample
to the validated sample path, journal the raw message, and answer.

AA when every reading was accepted; AE with one ERR per problem when the location is unmapped
(PV1-3, plus the "unknown room" notice), a required part is missing, or some readings were
unreadable (the readable ones of the message are still accepted); AR for a message that is not
an ORU^R01 of a supported version, or cannot be read at all. Nothing here raises to the
listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from adapters.devices.ack import AckError, To, build_ack
from adapters.devices.hl7v2 import MessageError, parse
from adapters.devices.intake import SampleIntake
from adapters.devices.pcd01.codec import LocationMap, Report, decode, header_of
from suite.domain import samples
from suite.domain.alarms.engine import VitalSample
from suite.store.database import Database
from suite.store.devices import Pcd01MessageRow, add_pcd01

log = logging.getLogger(__name__)

SOURCE = "pcd01"
JOURNAL_BATCH = 500


@dataclass
class Pcd01Stats:
    received: int = 0
    accepted: int = 0  # answered AA
    errors: int = 0  # answered AE
    rejected: int = 0  # answered AR
    samples: int = 0
    unknown_codes: int = 0
    journal_full: int = 0
    by_room: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Outcome:
    code: str
    errors: tuple[AckError, ...]
    to: To
    room: str | None = None
    report: Report | None = None


class Pcd01Processor:
    def __init__(
        self,
        *,
        samples: SampleIntake,
        locations: LocationMap,
        db: Database,
        clock: Callable[[], datetime],
        application: str,
        facility: str,
        journal_queue: int = 20_000,
    ) -> None:
        self.samples = samples
        self.locations = locations
        self.db = db
        self.clock = clock
        self.application = application
        self.facility = facility
        self.stats = Pcd01Stats()
        self.limits: dict[tuple[str, str], dict[str, Any]] = {}  # (room, device) -> OBX-7
        self._journal: asyncio.Queue[Pcd01MessageRow] = asyncio.Queue(maxsize=journal_queue)
        self._acks = 0

    def handle(self, raw: bytes, *, peer: str) -> bytes:
        """The ACK to `raw` (not framed); the sample and the journal row are handed on."""
        self.stats.received += 1
        now = self.clock()
        try:
            outcome = self._process(raw, now)
        except Exception as exc:  # a bug must cost one message, not the listener
            log.exception("pcd01: processing a message from %s failed", peer)
            outcome = Outcome(
                "AE", (AckError("", "207", f"internal error: {exc}"),), guess_addressing(raw)
            )
        if self._journal.full():
            # The journal is behind: the gateway must send this again later (AE is resent).
            self.stats.journal_full += 1
            outcome = Outcome("AE", (AckError("", "207", "the message journal is full"),),
                              outcome.to)  # fmt: skip
        else:
            self._journal.put_nowait(_journal_row(raw, outcome, peer=peer, now=now))
        setattr(self.stats, _COUNTER[outcome.code], getattr(self.stats, _COUNTER[outcome.code]) + 1)
        self._acks += 1
        return build_ack(
            outcome.to,
            code=outcome.code,
            errors=outcome.errors,
            control_id=f"PS{now:%Y%m%d%H%M%S}{self._acks % 100000:05d}",
            now=now,
            application=self.application,
            facility=self.facility,
        )

    def _process(self, raw: bytes, now: datetime) -> Outcome:
        try:
            report = decode(raw)
        except MessageError as exc:
            return Outcome("AR" if exc.reject else "AE",
                           (AckError(exc.where, exc.code, exc.text),), guess_addressing(raw))  # fmt: skip
        h = report.header
        to = To(h.sending_application, h.sending_facility, h.control_id, h.trigger or "R01",
                h.processing_id, h.version)  # fmt: skip
        room = self.locations.room_of(report.location)
        if room is None:
            self.samples.unknown_room(report.location_text or "-")
            text = f"location {report.location_text!r} is not mapped to a procsuite room"
            return Outcome("AE", (AckError("PV1-3", "103", text),), to, None, report)
        if not self.samples.serves(room):  # mapped, but another instance serves it now
            text = f"location {report.location_text!r} is room {room}, not served here"
            return Outcome("AE", (AckError("PV1-3", "103", text),), to, None, report)
        errors: list[AckError] = []
        self.stats.unknown_codes += len(report.unknown_codes)
        for dev in report.devices:
            for problem in dev.problems:
                if problem.kind != "implausible":
                    errors.append(AckError(problem.where, "102", problem.detail))
            if dev.problems and not dev.readings:
                for problem in dev.problems:  # no sample to carry them: count them here
                    self.samples.fault(room, dev.device, problem.kind, problem.detail,
                                       problem.param)  # fmt: skip
            if not dev.readings:
                continue
            sample = VitalSample(room, dev.device, dev.at, dev.values())
            problems = tuple(
                samples.Problem(p.kind, p.param, p.param.value if p.param else "", p.detail)
                for p in dev.problems
            )
            self.samples.accept(samples.DecodedVitals(sample, problems), source=SOURCE)
            self.stats.samples += 1
            self.stats.by_room[room] += 1
            limits = dev.limits()
            if limits:
                self.limits[(room, dev.device)] = {p.value: list(v) for p, v in limits.items()}
        return Outcome("AE" if errors else "AA", tuple(errors), to, room, report)

    async def run_journal(self) -> None:
        """Write the journal rows in batches (run in the listener's task group)."""
        while True:
            batch = [await self._journal.get()]
            while len(batch) < JOURNAL_BATCH and not self._journal.empty():
                batch.append(self._journal.get_nowait())
            try:
                await self.db.write(partial(add_pcd01, rows=batch))
            except Exception as exc:  # the store is away: the rows wait, in order
                log.warning("pcd01: journal not written (%s); retrying", exc)
                for row in batch:
                    with contextlib.suppress(asyncio.QueueFull):
                        self._journal.put_nowait(row)
                await asyncio.sleep(1.0)


_COUNTER = {"AA": "accepted", "AE": "errors", "AR": "rejected"}


def guess_addressing(raw: bytes) -> To:
    """Whom to answer when the message could not be read: what MSH gives."""
    try:
        h = header_of(parse(raw))
    except MessageError:
        return To()
    return To(h.sending_application, h.sending_facility, h.control_id, h.trigger or "R01",
              h.processing_id, h.version or "2.6")  # fmt: skip


def _journal_row(raw: bytes, outcome: Outcome, *, peer: str, now: datetime) -> Pcd01MessageRow:
    report = outcome.report
    limits = {}
    if report is not None:
        limits = {
            d.device: {p.value: list(v) for p, v in d.limits().items()} for d in report.devices
        }
    return Pcd01MessageRow(
        received_at=now,
        peer=peer[:64],
        sending_application=outcome.to.sending_application[:64],
        control_id=outcome.to.control_id[:64],
        location=(report.location_text if report else "")[:128],
        room=outcome.room,
        devices=",".join(d.device for d in report.devices)[:256] if report else "",
        ack_code=outcome.code,
        error="; ".join(f"{e.where}: {e.text}" for e in outcome.errors)[:500],
        samples=report.samples if report is not None and outcome.room else 0,
        unknown_codes=len(report.unknown_codes) if report else 0,
        limits=limits,
        raw=raw.decode("utf-8", "replace"),
    )
