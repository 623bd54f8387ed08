"""The latest DICOM associations for IT (the `dicom.associations.recent` of the service status):
who called, from where, when, what they asked (C-STORE, C-ECHO, C-FIND, N-CREATE, N-SET), what
was refused, how it ended, and for the IT detail view the instances stored (SOP Instance UID,
class, the status answered) and the information models queried (worklist, study root). Bounded (the latest `keep`); fed from pynetdicom's notification
events on the association threads, read from the event loop, hence the lock.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydicom.uid import UID
from pynetdicom import evt
from pynetdicom.events import Event

from suite.clock import iso


@dataclass
class AssociationRecord:
    calling_ae: str
    address: str
    opened_at: datetime
    closed_at: datetime | None = None
    outcome: str = "open"  # open / released / aborted / rejected / closed
    asked: Counter[str] = field(default_factory=Counter)  # "C-STORE" -> 3
    refused: Counter[str] = field(default_factory=Counter)  # "C-STORE 0xA700" -> 1
    # SOP Instance UID -> [SOP class name, status answered ("" until answered)], the first
    # `STORED_KEPT` of the association.
    stored: dict[str, list[str]] = field(default_factory=dict)
    queried: Counter[str] = field(default_factory=Counter)  # information model -> C-FINDs

    def as_dict(self) -> dict[str, Any]:
        return {
            "calling_ae": self.calling_ae,
            "address": self.address,
            "opened_at": iso(self.opened_at),
            "closed_at": iso(self.closed_at),
            "outcome": self.outcome,
            "asked": dict(self.asked),
            "refused": dict(self.refused),
            "stored": [
                {"sop_instance_uid": uid, "sop_class": sop_class, "status": status}
                for uid, (sop_class, status) in self.stored.items()
            ],
            "queried": dict(self.queried),
        }


STORED_KEPT = 50  # instances listed per association (a study can be thousands)


def _class_name(uid: object) -> str:
    """ "Modality Worklist Information Model - FIND" for its UID; the UID when unknown."""
    text = str(uid or "").strip()
    return UID(text).name if text else "?"


def _status(code: int) -> str:
    return "success" if code == 0 else f"0x{code:04X}"


def _operation(message: object) -> str:
    """ "C-STORE" of a C_STORE_RQ / C_STORE_RSP message."""
    name = type(message).__name__
    return name.rsplit("_", 1)[0].replace("_", "-")


class AssociationLog:
    def __init__(self, *, clock: Callable[[], datetime], keep: int = 20) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._open: OrderedDict[int, AssociationRecord] = OrderedDict()
        self._closed: deque[AssociationRecord] = deque(maxlen=keep)

    def handlers(self) -> list[tuple[Any, Callable[[Event], None]]]:
        """The notification handlers to bind on the listening AE."""
        return [
            (evt.EVT_ACCEPTED, self._accepted),
            (evt.EVT_REJECTED, self._rejected),
            (evt.EVT_RELEASED, lambda e: self._closed_as(e, "released")),
            (evt.EVT_ABORTED, lambda e: self._closed_as(e, "aborted")),
            (evt.EVT_CONN_CLOSE, lambda e: self._closed_as(e, "closed")),
            (evt.EVT_DIMSE_RECV, self._received),
            (evt.EVT_DIMSE_SENT, self._sent),
        ]

    def _record(self, event: Event) -> AssociationRecord:
        key = id(event.assoc)
        found = self._open.get(key)
        if found is None:
            requestor = event.assoc.requestor
            found = AssociationRecord(
                calling_ae=str(requestor.ae_title or "").strip(),
                address=f"{requestor.address}:{requestor.port}",
                opened_at=self.clock(),
            )
            self._open[key] = found
            while len(self._open) > 200:  # never closed (should not happen): bounded anyway
                self._open.popitem(last=False)
        return found

    def _accepted(self, event: Event) -> None:
        with self._lock:
            self._record(event)

    def _rejected(self, event: Event) -> None:
        with self._lock:
            self._record(event).outcome = "rejected"
            self._close(event, "rejected")

    def _closed_as(self, event: Event, how: str) -> None:
        with self._lock:
            if id(event.assoc) in self._open:
                self._close(event, how)

    def _close(self, event: Event, how: str) -> None:
        record = self._open.pop(id(event.assoc))
        record.closed_at = self.clock()
        if record.outcome == "open":
            record.outcome = how
        self._closed.append(record)

    def _received(self, event: Event) -> None:
        message = event.message
        name = type(message).__name__
        if not name.endswith("_RQ"):
            return
        command = getattr(message, "command_set", None)
        sop_class = _class_name(getattr(command, "AffectedSOPClassUID", ""))
        with self._lock:
            record = self._record(event)
            record.asked[_operation(message)] += 1
            if name == "C_STORE_RQ" and len(record.stored) < STORED_KEPT:
                uid = str(getattr(command, "AffectedSOPInstanceUID", "") or "?")
                record.stored[uid] = [sop_class, ""]
            elif name == "C_FIND_RQ":
                record.queried[sop_class] += 1

    def _sent(self, event: Event) -> None:
        message = event.message
        if not type(message).__name__.endswith("_RSP"):
            return
        command = getattr(message, "command_set", None)
        code = int(getattr(command, "Status", 0) or 0)
        with self._lock:
            found = self._open.get(id(event.assoc))
            if found is not None and type(message).__name__ == "C_STORE_RSP":
                uid = str(getattr(command, "AffectedSOPInstanceUID", "") or "?")
                if uid in found.stored:
                    found.stored[uid][1] = _status(code)
            if code not in (0x0000, 0xFF00, 0xFF01):  # success and pending
                self._record(event).refused[f"{_operation(message)} 0x{code:04X}"] += 1

    def recent(self) -> list[dict[str, Any]]:
        """Open associations, then the latest closed ones, newest first."""
        with self._lock:
            records = [*reversed(self._open.values()), *reversed(self._closed)]
        return [r.as_dict() for r in records]
