"""The listening AE's event handlers (run in pynetdicom's association threads).

Each handler checks what it received, hands the work to the event loop through the `Bridge`
where the DICOM status depends on it, and returns a status. None of them lets an exception
out: a broken object or request gets a failure status with an Error Comment and a log line,
and the association and the listener go on serving.
"""

from __future__ import annotations

import errno
import logging
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from pydicom.dataset import Dataset
from pynetdicom import _config, evt
from pynetdicom.dimse_primitives import C_STORE, N_CREATE, N_SET
from pynetdicom.events import Event
from pynetdicom.transport import ThreadedAssociationServer

from adapters.dicom import filestore, sop
from adapters.dicom.association import (
    CALLING_AE_NOT_RECOGNISED,
    REJECT_PERMANENT,
    SOURCE_SERVICE_USER,
    Bridge,
    CallerPolicy,
    Counters,
    ServiceBusy,
    build_ae,
)
from adapters.dicom.association_log import AssociationLog
from adapters.dicom.elements import encodings
from adapters.dicom.instance import OUT_OF_RESOURCES, BrokenObject, read_instance
from adapters.dicom.intake import Intake
from adapters.dicom.mpps import (
    PROCESSING_FAILURE,
    RESOURCE_LIMITATION,
    SUCCESS,
    MppsError,
)
from adapters.dicom.mpps_records import MppsRecorder
from adapters.dicom.worklist import answer, matches, with_character_set
from suite.app.site_alarm import FromThread
from suite.peers import PeerGate
from suite.store.database import StoreError

log = logging.getLogger(__name__)

# C-FIND statuses (PS3.4 C.4.1.1.4, K.4.1.1.4)
FIND_PENDING = 0xFF00
FIND_CANCELLED = 0xFE00
FIND_OUT_OF_RESOURCES = 0xA700
# A-ASSOCIATE-RJ (PS3.8 9.3.4): rejected-transient, by the service provider (presentation
# related function), local limit exceeded.
REJECT_TRANSIENT = 0x02
SOURCE_PROVIDER_PRESENTATION = 0x03
LOCAL_LIMIT_EXCEEDED = 0x02
P_DATA_TF = b"\x04"
OVERSIZE_SLACK_BYTES = 1_048_576
FIND_UNABLE_TO_PROCESS = 0xC000


def status(code: int, comment: str = "", *, error_id: int | None = None) -> Dataset:
    """A status dataset with its Error Comment (LO: at most 64 characters, ASCII)."""
    ds = Dataset()
    ds.Status = code
    if comment:
        ds.ErrorComment = comment.encode("ascii", "replace").decode()[:64]
    if error_id is not None:
        ds.ErrorID = error_id
    return ds


def _drop_partial_object(event: Event) -> None:
    """Close and delete the spool file of an object the association ended in the middle of
    (aborted as oversize, or the peer went away): pynetdicom leaves it open in the temp dir."""
    message = getattr(getattr(event.assoc, "dimse", None), "message", None)
    spool = getattr(message, "_data_set_file", None)
    if spool is None:
        return
    try:
        spool.close()
        Path(spool.name).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("dicom: partial object %s not removed: %s", spool.name, exc)


def _calling(event: Event) -> str:
    return str(event.assoc.requestor.ae_title).strip()


class DicomScp:
    """The handlers of our AE, bound to the service through `intake`, `mpps` and `bridge`."""

    def __init__(
        self,
        *,
        ae_title: str,
        policy: CallerPolicy,
        intake: Intake,
        mpps: MppsRecorder,
        bridge: Bridge,
        root: Path,
        max_object_bytes: int,
        max_associations: int,
        timeout_s: float,
        counters: Counters,
        disk_alarm: FromThread | None = None,
        association_log: AssociationLog | None = None,
        max_per_caller: int | None = None,
    ) -> None:
        self.association_log = association_log
        self.disk_alarm = disk_alarm or FromThread(None, None)
        self.ae_title = ae_title
        self.policy = policy
        self.intake = intake
        self.mpps = mpps
        self.bridge = bridge
        self.root = root
        self.max_object_bytes = max_object_bytes
        self.max_associations = max_associations
        self.timeout_s = timeout_s
        self.counters = counters
        # Associations open per calling AE title: one caller (ten C-ECHO keep-alives) must not
        # take every slot from the modalities. Association threads share it: under a lock.
        self.callers = PeerGate(per_peer=max_per_caller or max_associations, allowed=lambda _: True)
        self._callers_lock = threading.Lock()
        self._admitted: dict[int, str] = {}  # id(association) -> calling AE title
        # P-DATA bytes received per association since its last complete request: an object
        # larger than the limit is aborted while it arrives, not after it was spooled whole.
        self._receiving: dict[int, int] = {}
        # fsyncs of received spool files, begun while the association thread reads the data
        # set (one per association at a time; the pool only bounds the threads).
        self._syncs = ThreadPoolExecutor(
            max_workers=max(2, min(max_associations, 8)), thread_name_prefix="dicom-fsync"
        )

    def close(self) -> None:
        """Release the fsync threads (after the server has stopped)."""
        self._syncs.shutdown(wait=True)

    def _start_sync(self, spool: Path) -> Future[None] | None:
        """The spool's fsync, begun now in a worker so it runs while the data set is read
        and checked (`place` waits for it before linking; a refused object's is wasted).
        None once the pool is closed (the service is stopping): `place` fsyncs in line."""
        try:
            return self._syncs.submit(filestore.sync_file, spool)
        except RuntimeError:
            return None

    def start(
        self, host: str, port: int, *, tls: ssl.SSLContext | None = None
    ) -> ThreadedAssociationServer:
        """Listen on `host:port` (returns at once; associations run in their own threads)."""
        # Receive C-STORE data sets straight into a file, undecoded (DEPENDENCIES.md: faster
        # and bounded memory). It is a process-wide pynetdicom setting; handlers elsewhere can
        # still read `event.dataset`, which pynetdicom then loads from that file.
        _config.STORE_RECV_CHUNKED_DATASET = True
        ae = build_ae(
            ae_title=self.ae_title,
            max_associations=self.max_associations,
            timeout_s=self.timeout_s,
        )
        handlers: list[Any] = [
            (evt.EVT_REQUESTED, self.on_requested),
            (evt.EVT_CONN_CLOSE, self.on_closed),
            (evt.EVT_DATA_RECV, self.on_data),
            (evt.EVT_C_ECHO, self.on_echo),
            (evt.EVT_C_STORE, self.on_store),
            (evt.EVT_C_FIND, self.on_find),
            (evt.EVT_N_CREATE, self.on_n_create),
            (evt.EVT_N_SET, self.on_n_set),
        ]
        if self.association_log is not None:
            handlers += self.association_log.handlers()
        server = ae.start_server((host, port), block=False, evt_handlers=handlers, ssl_context=tls)
        assert server is not None  # block=False always returns the server
        return server

    # ---- association ------------------------------------------------------------------------

    def on_requested(self, event: Event) -> None:
        # The requestor's AE title is filled in only during negotiation, after this event.
        request = event.assoc.requestor.primitive
        calling = str(request.calling_ae_title if request is not None else "").strip()
        address = str(event.assoc.requestor.address)
        reason = self.policy.refusal(calling, address)
        if reason is None:
            with self._callers_lock:
                if self.callers.admit(calling) is None:
                    self._admitted[id(event.assoc)] = calling
                    return
            count = self.counters.add("associations_over_caller_cap")
            log.warning(
                "dicom: association from %r rejected: it already has %d open (so far: %d)",
                calling,
                self.callers.per_peer,
                count,
            )
            # Transient, "local limit exceeded": the caller may try again later.
            event.assoc.acse.send_reject(
                REJECT_TRANSIENT, SOURCE_PROVIDER_PRESENTATION, LOCAL_LIMIT_EXCEEDED
            )
            event.assoc.kill()
            return
        count = self.counters.add("associations_rejected")
        log.warning("dicom: association rejected: %s (rejections so far: %d)", reason, count)
        event.assoc.acse.send_reject(
            REJECT_PERMANENT, SOURCE_SERVICE_USER, CALLING_AE_NOT_RECOGNISED
        )
        # Wait (bounded by the ARTIM timer) until the peer has the rejection and hangs up.
        event.assoc.kill()

    def on_data(self, event: Event) -> None:
        """Every PDU received (the association's own thread): abort an object that has
        grown past `max_object_bytes` (+ one PDU of slack for the command set)."""
        data = event.data
        if data[:1] != P_DATA_TF:
            return
        key = id(event.assoc)
        total = self._receiving.get(key, 0) + len(data)
        self._receiving[key] = total
        if total > self.max_object_bytes + OVERSIZE_SLACK_BYTES >= total - len(data):
            count = self.counters.add("objects_aborted_oversize")
            log.warning(
                "dicom: association from %r aborted: an object passed %d bytes while arriving"
                " (limit %d; aborted so far: %d)",
                _calling(event),
                total,
                self.max_object_bytes,
                count,
            )
            # Only queue the A-ABORT: this runs in the DUL thread, which must not wait for
            # itself (Association.abort() would).
            event.assoc.acse.send_abort(0x02)

    def _request_done(self, event: Event) -> None:
        self._receiving.pop(id(event.assoc), None)

    def on_closed(self, event: Event) -> None:
        self._receiving.pop(id(event.assoc), None)
        _drop_partial_object(event)
        with self._callers_lock:
            calling = self._admitted.pop(id(event.assoc), None)
            if calling is not None:
                self.callers.release(calling)

    def on_echo(self, event: Event) -> int:
        self._request_done(event)
        self.counters.add("echoes")
        return SUCCESS

    # ---- storage --------------------------------------------------------------------------

    def on_store(self, event: Event) -> Dataset | int:
        self._request_done(event)
        calling = _calling(event)
        request = cast(C_STORE, event.request)
        sent_as = str(request.AffectedSOPInstanceUID or "")
        try:
            spool = Path(event.dataset_path)
            synced = self._start_sync(spool)
            facts = read_instance(
                spool,
                sent_as_class=str(request.AffectedSOPClassUID or ""),
                sent_as_instance=sent_as,
                max_bytes=self.max_object_bytes,
                fallback_device=calling,
            )
        except BrokenObject as exc:
            count = self.counters.add("objects_refused")
            log.warning(
                "dicom: C-STORE %s from %s refused with 0x%04X: %s (refused so far: %d)",
                sent_as[:64],
                calling,
                exc.status,
                exc.reason,
                count,
            )
            return status(exc.status, exc.reason)
        try:
            placed = filestore.place(spool, self.root, facts.relative_path, synced=synced)
        except OSError as exc:
            self.counters.add("write_failures")
            log.error("dicom: cannot write %s: %s", facts.relative_path, exc)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self.counters.add("disk_full")
                self.disk_alarm.raise_(
                    f"DICOM store {self.root} is full: images are refused (0xA700) and stay "
                    "on the modality until space is freed"
                )
                return status(OUT_OF_RESOURCES, "the DICOM store is out of disk space")
            return status(OUT_OF_RESOURCES, "cannot write the object to disk")
        self.disk_alarm.clear("an object was written again")
        try:
            indexed = self.bridge.run(
                self.intake.index_instance(facts, size=spool.stat().st_size, calling_ae=calling)
            )
        except (ServiceBusy, StoreError) as exc:
            self.counters.add("index_failures")
            log.error("dicom: %s stored but not indexed: %s", facts.sop_instance_uid, exc)
            return status(OUT_OF_RESOURCES, "service busy, send again later")
        if not indexed.new:
            count = self.counters.add("duplicates")
            if indexed.path != facts.relative_path and not placed.already_there:
                filestore.remove(placed.path)
            log.info(
                "dicom: %s from %s was stored before; kept the first copy (duplicates: %d)",
                facts.sop_instance_uid,
                calling,
                count,
            )
            return SUCCESS
        self.counters.add("stored")
        if facts.dose_problem:
            self.counters.add("dose_unreadable")
            log.warning(
                "dicom: dose of %s not used: %s", facts.sop_instance_uid, facts.dose_problem
            )
        if indexed.match is None:
            count = self.counters.add("unmatched")
            log.warning(
                "dicom: %s (%s) from %s matches no case; it waits in the unmatched list (%d)",
                facts.sop_instance_uid,
                sop.storage_name(facts.sop_class_uid),
                calling,
                count,
            )
        return SUCCESS

    # ---- worklist --------------------------------------------------------------------------

    def on_find(self, event: Event) -> Iterator[tuple[int, Dataset | None]]:
        self._request_done(event)
        calling = _calling(event)
        self.counters.add("worklist_queries")
        try:
            query = event.identifier
            charset = encodings(query)
            items = self.bridge.run(self.intake.worklist_items())
        except (ServiceBusy, StoreError) as exc:
            log.error("dicom: worklist query from %s not answered: %s", calling, exc)
            yield (FIND_OUT_OF_RESOURCES, status(FIND_OUT_OF_RESOURCES, "service busy"))
            return
        except Exception as exc:  # a query we cannot decode: answer, never drop the association
            log.warning("dicom: unreadable worklist query from %s: %s", calling, exc)
            yield (FIND_UNABLE_TO_PROCESS, status(FIND_UNABLE_TO_PROCESS, "unreadable query"))
            return
        found = 0
        for item in items:
            if event.is_cancelled:
                yield (FIND_CANCELLED, None)
                return
            try:
                hit = matches(query, item, charset=charset)
                reply = with_character_set(answer(query, item), asked=charset) if hit else None
            except Exception as exc:  # a malformed key: answer, never drop the association
                log.warning("dicom: worklist query from %s cannot be matched: %s", calling, exc)
                yield (FIND_UNABLE_TO_PROCESS, status(FIND_UNABLE_TO_PROCESS, str(exc)))
                return
            if reply is not None:
                found += 1
                yield (FIND_PENDING, reply)
        log.info("dicom: worklist query from %s: %d of %d items", calling, found, len(items))
        yield (SUCCESS, None)

    # ---- MPPS ------------------------------------------------------------------------------

    def on_n_create(self, event: Event) -> tuple[Dataset | int, Dataset | None]:
        self._request_done(event)
        calling = _calling(event)
        uid = str(cast(N_CREATE, event.request).AffectedSOPInstanceUID or "")
        if not uid:
            return status(PROCESSING_FAILURE, "Affected SOP Instance UID missing"), None
        try:
            attributes = event.attribute_list
            facts = self.bridge.run(self.mpps.create(uid, attributes, calling_ae=calling))
        except MppsError as exc:
            return self._mpps_refused("N-CREATE", uid, calling, exc), None
        except (ServiceBusy, StoreError) as exc:
            log.error("dicom: MPPS N-CREATE %s not recorded: %s", uid, exc)
            return status(RESOURCE_LIMITATION, "service busy"), None
        self.counters.add("mpps_created")
        log.info("dicom: MPPS %s %s from %s", uid, facts.status, calling)
        return SUCCESS, attributes

    def on_n_set(self, event: Event) -> tuple[Dataset | int, Dataset | None]:
        self._request_done(event)
        calling = _calling(event)
        uid = str(cast(N_SET, event.request).RequestedSOPInstanceUID or "")
        try:
            modification = event.modification_list
            facts = self.bridge.run(self.mpps.set(uid, modification, calling_ae=calling))
        except MppsError as exc:
            return self._mpps_refused("N-SET", uid, calling, exc), None
        except (ServiceBusy, StoreError) as exc:
            log.error("dicom: MPPS N-SET %s not recorded: %s", uid, exc)
            return status(RESOURCE_LIMITATION, "service busy"), None
        self.counters.add("mpps_set")
        log.info("dicom: MPPS %s %s from %s", uid, facts.status, calling)
        return SUCCESS, modification

    def _mpps_refused(self, what: str, uid: str, calling: str, exc: MppsError) -> Dataset:
        count = self.counters.add("mpps_refused")
        log.warning(
            "dicom: MPPS %s %s from %s refused with 0x%04X: %s (refused so far: %d)",
            what,
            uid,
            calling,
            exc.status,
            exc,
            count,
        )
        return status(exc.status, str(exc), error_id=exc.error_id)
