"""Forwarding to the PACS: a C-STORE SCU working through the durable queue table.

Every instance stored is queued (in the same transaction as its index row) when a PACS is
configured. The forwarder sends what is due over one association per batch; an instance the
PACS accepted (success or warning) is marked sent, anything else is tried again later, with
a wait that doubles from `retry_min_s` up to `retry_max_s`. Nothing is ever dropped: an
instance the PACS keeps refusing stays in the queue, visible with its last error
(`procsuite dicom queue`), and is tried again at the longest interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from pydicom import dcmread
from pynetdicom import AE

from suite.store import dicom_forward
from suite.store.database import Database, StoreError
from suite.store.dicom_forward import ForwardItem, Sent

log = logging.getLogger(__name__)

# C-STORE statuses the PACS may answer that mean "kept" (success and the warnings B000,
# B006, B007: coerced, elements discarded, data set does not match SOP class but stored).
_KEPT = {0x0000, 0xB000, 0xB006, 0xB007}


@dataclass(frozen=True, slots=True)
class Destination:
    host: str
    port: int
    ae_title: str
    queue: str = ""
    """Whose files these are: each instance forwards what it stored on its own disk."""

    @property
    def key(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}{self.queue}"


def instance_queue(instance: str) -> str:
    """The queue suffix of an instance's forward rows ("" for a single default instance)."""
    return "" if instance == "procsuite" else f"#{instance}"


def retry_delay_s(attempts: int, *, min_s: float, max_s: float) -> float:
    """The wait before the next attempt after `attempts` failures (doubling, capped)."""
    if attempts <= 0:
        return 0.0
    return float(min(max_s, min_s * 2 ** min(attempts - 1, 30)))


def send_batch(
    rows: list[ForwardItem],
    *,
    root: Path,
    destination: Destination,
    calling_ae: str,
    timeout_s: float,
    tls: ssl.SSLContext | None = None,
) -> list[Sent]:
    """Send `rows` over one association (blocking: run it in a worker thread)."""
    # Probe the port first: pynetdicom 3.0 leaks its socket when the connection is refused
    # (pydicom/pynetdicom#979, fixed upstream by #999), and a PACS that is down is the usual
    # case here, retried for hours.
    try:
        with socket.create_connection((destination.host, destination.port), timeout=timeout_s):
            pass
    except OSError as exc:
        return [Sent(r.id, False, f"PACS {destination.key} cannot be reached: {exc}") for r in rows]
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    contexts = sorted({(r.sop_class_uid, r.transfer_syntax) for r in rows})[:128]
    for sop_class, syntax in contexts:
        ae.add_requested_context(sop_class, [syntax])
    assoc = ae.associate(
        destination.host,
        destination.port,
        ae_title=destination.ae_title,
        tls_args=(tls, destination.host) if tls is not None else None,
    )
    if not assoc.is_established:
        why = "rejected the association" if assoc.is_rejected else "cannot be reached"
        return [Sent(r.id, False, f"PACS {destination.key} {why}") for r in rows]
    results: list[Sent] = []
    try:
        accepted = {(cx.abstract_syntax, cx.transfer_syntax[0]) for cx in assoc.accepted_contexts}
        for row in rows:
            row_id = row.id
            if (row.sop_class_uid, row.transfer_syntax) not in accepted:
                results.append(
                    Sent(row_id, False, "PACS did not accept this SOP class / transfer syntax")
                )
                continue
            if not assoc.is_established:
                results.append(Sent(row_id, False, "association to the PACS ended"))
                continue
            try:
                ds = dcmread(root / row.path)
            except (OSError, ValueError) as exc:
                results.append(Sent(row_id, False, f"cannot read the stored file: {exc}"))
                continue
            answer = assoc.send_c_store(ds)
            code = int(answer.Status) if "Status" in answer else None
            if code in _KEPT:
                results.append(Sent(row_id, True))
            else:
                got = f"status 0x{code:04X}" if code is not None else "no answer"
                results.append(Sent(row_id, False, f"PACS answered {got}"))
    finally:
        if assoc.is_established:
            assoc.release()
    return results


class Forwarder:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        root: Path,
        destination: Destination,
        calling_ae: str,
        retry_min_s: float,
        retry_max_s: float,
        timeout_s: float = 30.0,
        batch: int = 50,
        sweep_s: float = 5.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.tls = tls
        self.db = db
        self.clock = clock
        self.root = root
        self.destination = destination
        self.calling_ae = calling_ae
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.timeout_s = timeout_s
        self.batch = batch
        self.sweep_s = sweep_s
        self._wake = asyncio.Event()
        self.sent = 0
        self.failures = 0

    def wake(self) -> None:
        """Look at the queue now (on the loop: after new rows, or to retry at once)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                while await self.send_due():
                    pass
                wait_s = await self._until_next_due()
            except StoreError:
                log.exception("dicom: PACS forwarding paused, the store failed")
                wait_s = self.sweep_s
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):  # not wait_for (3.11 loses a cancel)
                    await self._wake.wait()

    async def send_due(self) -> int:
        """Send one batch of due instances; returns how many were attempted."""
        rows = await dicom_forward.due(
            self.db, destination=self.destination.key, now=self.clock(), limit=self.batch
        )
        if not rows:
            return 0
        results = await asyncio.to_thread(
            send_batch,
            rows,
            root=self.root,
            destination=self.destination,
            calling_ae=self.calling_ae,
            timeout_s=self.timeout_s,
            tls=self.tls,
        )
        await self._record(results, now=self.clock())
        return len(rows)

    async def _record(self, results: list[Sent], *, now: datetime) -> None:
        await dicom_forward.record_attempts(
            self.db,
            results,
            now=now,
            retry_delay_s=partial(retry_delay_s, min_s=self.retry_min_s, max_s=self.retry_max_s),
        )
        ok = sum(1 for r in results if r.ok)
        self.sent += ok
        failed = [r for r in results if not r.ok]
        self.failures += len(failed)
        if failed:
            log.warning(
                "dicom: %d of %d instances not forwarded to %s (first: %s); they stay queued",
                len(failed),
                len(results),
                self.destination.key,
                failed[0].error,
            )

    async def _until_next_due(self) -> float:
        nxt = await dicom_forward.next_due(self.db, destination=self.destination.key)
        if nxt is None:
            return self.sweep_s
        seconds = (nxt - self.clock()).total_seconds()
        return min(max(seconds, 0.05), self.sweep_s)
