"""Association policy: who may associate, the contexts offered, and the loop bridge.

Everything here runs in pynetdicom's association threads except where it says otherwise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import logging
import socket
import threading
from collections import Counter
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pynetdicom import AE

from adapters.dicom import sop
from adapters.dicom.uids import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from suite.errors import ProcsuiteError

log = logging.getLogger(__name__)

T = TypeVar("T")

# A-ASSOCIATE-RJ (PS3.8 9.3.4): rejected permanent, by the service user, and why
MAX_RECEIVE_PDU_BYTES = 262_144
REJECT_PERMANENT = 0x01
SOURCE_SERVICE_USER = 0x01
CALLING_AE_NOT_RECOGNISED = 0x03


class ServiceBusy(ProcsuiteError):
    """The service did not answer an association in time (or is stopping)."""


class Bridge:
    """Runs coroutines on the service's event loop for the association threads.

    Capture it on the loop at start; call `run` only from association threads (from the loop
    thread it would deadlock). A call that takes longer than `timeout_s` raises `ServiceBusy`
    and is cancelled, so an association never hangs on the service.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, timeout_s: float) -> None:
        self.loop = loop
        self.timeout_s = timeout_s

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.loop.is_closed():
            coro.close()
            raise ServiceBusy("the service is stopped")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise ServiceBusy(f"no answer from the service within {self.timeout_s:g} s") from exc
        except concurrent.futures.CancelledError as exc:
            raise ServiceBusy("the service is stopping") from exc


class Counters:
    """Thread-safe event counts of the DICOM adapter (for logs and the status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> int:
        with self._lock:
            self._counts[name] += n
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


@dataclass(frozen=True, slots=True)
class CallerPolicy:
    """Calling AE titles allowed, each with the host it must come from ("*": any host).

    Empty allows every caller (the demo default); a production site lists its modalities.
    """

    allowed: Mapping[str, str]

    def refusal(self, calling_ae: str, address: str) -> str | None:
        """Why this caller may not associate, or None when it may."""
        if not self.allowed:
            return None
        title = calling_ae.strip()
        if title not in self.allowed:
            return f"calling AE title {title!r} is not configured"
        host = self.allowed[title].strip()
        if host in ("*", "") or _same_host(host, address):
            return None
        return f"calling AE title {title!r} must come from {host}, not {address}"


def _same_host(expected: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(expected) == ipaddress.ip_address(address)
    except ValueError:
        try:
            return address in {info[4][0] for info in socket.getaddrinfo(expected, None)}
        except OSError:
            return False


def build_ae(
    *,
    ae_title: str,
    max_associations: int,
    timeout_s: float,
) -> AE:
    """Our listening AE: Verification, Storage, Modality Worklist FIND and MPPS as SCP."""
    ae = AE(ae_title=ae_title)
    ae.implementation_class_uid = IMPLEMENTATION_CLASS_UID
    ae.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    # Bounded PDUs: with "no limit" a sender put a 100 MB object in one PDU, which is read
    # whole into memory and copied (peaks of 4-5x the object). With 256 KiB PDUs and the
    # chunked C-STORE receive (server.py) an object costs disk, not memory.
    ae.maximum_pdu_size = MAX_RECEIVE_PDU_BYTES
    ae.maximum_associations = max_associations
    ae.require_called_aet = True
    ae.acse_timeout = timeout_s
    ae.dimse_timeout = timeout_s
    ae.network_timeout = max(timeout_s, 60.0)
    ae.add_supported_context(sop.VERIFICATION, list(sop.UNCOMPRESSED))
    ae.add_supported_context(sop.MODALITY_WORKLIST_FIND, list(sop.UNCOMPRESSED))
    ae.add_supported_context(sop.MPPS, list(sop.UNCOMPRESSED))
    for sop_class in sop.STORAGE_CLASSES:
        ae.add_supported_context(sop_class, list(sop.STORAGE_TRANSFER_SYNTAXES))
    return ae
