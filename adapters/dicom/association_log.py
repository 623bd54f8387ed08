"""The latest DICOM associations for IT (the `dicom.associations.recent` of the service status):
who called, from where, when, what they asked (C-STORE, C-ECHO, C-FIND, N-CREATE, N-SET), what
was refused, and how it ended. Bounded (the latest `keep`); fed from pynetdicom's notification
events on the association threads, read from the event loop, hence the lock.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "calling_ae": self.calling_ae,
            "address": self.address,
            "opened_at": iso(self.opened_at),
            "closed_at": iso(self.closed_at),
            "outcome": self.outcome,
            "asked": dict(self.asked),
            "refused": dict(self.refused),
        }


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
        name = type(event.message).__name__
        if name.endswith("_RQ"):
            with self._lock:
                self._record(event).asked[_operation(event.message)] += 1

    def _sent(self, event: Event) -> None:
        message = event.message
        if not type(message).__name__.endswith("_RSP"):
            return
        code = getattr(getattr(message, "command_set", None), "Status", 0) or 0
        if int(code) not in (0x0000, 0xFF00, 0xFF01):  # success and pending
            with self._lock:
                self._record(event).refused[f"{_operation(message)} 0x{int(code):04X}"] += 1

    def recent(self) -> list[dict[str, Any]]:
        """Open associations, then the latest closed ones, newest first."""
        with self._lock:
            records = [*reversed(self._open.values()), *reversed(self._closed)]
        return [r.as_dict() for r in records]
