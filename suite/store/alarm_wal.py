"""The local alarm journal: every alarm event, fsync'd to a file of this instance before it is
announced, so announcing an alarm never waits for the database.

One file per instance (`<dir>/<instance>.jsonl`, one writer: the alarm service), one JSON line
per event: its local sequence number, a unique id (`uid`, the store's de-duplication key), the
event's record and the alarm's view after it. A small cursor file beside it says up to which
sequence number the events are in the central store (`stored`) and published on MQTT
(`published`). What is behind both cursors is dropped from memory, and from the file when it
is rewritten (compacted), so the journal stays bounded while the database keeps up; when it
does not, the journal grows up to `max_entries`, and beyond that events are kept in memory
only and `full` says so (the alarm service raises a technical alarm).

A line cut short by a crash is ignored on opening (its event was never announced: announcing
comes after the fsync). A failing disk (`OSError`) does not stop the alarm path: the event is
kept in memory, `error` says why, and the next append tries the file again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WalEntry:
    """One alarm event in the local journal."""

    seq: int
    uid: str
    room: str
    record: dict[str, Any]  # alarm_id, room, case_id, event, at (ISO), user, payload
    alarm: dict[str, Any] | None  # the alarm's row after the event (JSON form), if any

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.record["payload"]
        return payload

    def line(self) -> bytes:
        body = {"seq": self.seq, "uid": self.uid, "record": self.record, "alarm": self.alarm}
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def parse(cls, line: bytes) -> WalEntry:
        body = json.loads(line)
        record = body["record"]
        return cls(int(body["seq"]), str(body["uid"]), str(record["room"]), record, body["alarm"])


class AlarmWal:
    def __init__(
        self,
        path: Path | None,
        *,
        max_entries: int = 200_000,
        compact_after: int = 5_000,
        fsync: bool = True,
    ) -> None:
        """`path` None: a journal in memory only (unit tests of other parts)."""
        self.path = path
        self.max_entries = max_entries
        self.compact_after = compact_after
        self.fsync = fsync
        self.entries: deque[WalEntry] = deque()  # after min(stored, published), in seq order
        self.stored = 0
        self.published = 0
        self.next_seq = 1
        self.error: str | None = None  # the last disk failure, until a write succeeds again
        self.full = False
        self.appended = 0
        self._dropped_lines = 0  # lines in the file that are behind both cursors
        self._unwritten = False  # some entries in memory are missing from the file
        self._file: Any = None
        self._opened = False
        self._open_failed = False

    @property
    def cursor_path(self) -> Path | None:
        return None if self.path is None else self.path.with_suffix(".cursor")

    # ---- opening and closing ------------------------------------------------------------------

    def open(self) -> None:
        """Read what an earlier run left (events not yet stored or published) and open the
        file for appending. A missing file is an empty journal."""
        if self.path is None or self._opened:
            return
        try:
            self._read(self.path)
        except OSError as exc:
            # Memory only until a restart: writing now could overwrite what it could not read.
            self._failed("open", exc)
            self._open_failed = True
            return
        self._opened = True
        if self.entries:
            log.info(
                "alarm journal: %d events from the last run to store or publish",
                len(self.entries),
            )

    def _read(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        cursor_path = self.cursor_path
        assert cursor_path is not None
        if cursor_path.exists():
            try:
                cursor = json.loads(cursor_path.read_text())
                self.stored, self.published = int(cursor["stored"]), int(cursor["published"])
                self.next_seq = int(cursor.get("next", 1))
            except (ValueError, KeyError, TypeError):
                # Everything in the file is stored again (skipped by its uid) and published
                # again (consumers de-duplicate on event_uid): nothing is lost.
                log.error("alarm journal %s: unreadable cursor; starting from 0", path.name)
        if path.exists():
            good = 0
            with path.open("rb") as f:
                for raw in f:
                    if not raw.endswith(b"\n"):
                        break  # cut short by a crash before its fsync: never announced
                    try:
                        entry = WalEntry.parse(raw)
                    except (ValueError, KeyError, TypeError):
                        log.error("alarm journal %s: unreadable line skipped", path.name)
                        good += len(raw)
                        continue
                    good += len(raw)
                    self.next_seq = max(self.next_seq, entry.seq + 1)
                    if entry.seq > min(self.stored, self.published):
                        self.entries.append(entry)
                    else:
                        self._dropped_lines += 1
            with path.open("r+b") as f:
                f.truncate(good)
        self._file = path.open("ab")

    def close(self) -> None:
        self._close_file()
        with contextlib.suppress(OSError):
            self._write_cursor(durable=True)

    # ---- appending ----------------------------------------------------------------------------

    def append(
        self, items: Iterable[tuple[dict[str, Any], dict[str, Any] | None]]
    ) -> list[WalEntry]:
        """Number, write and fsync these (record, alarm) pairs; returns their entries. Never
        raises on a disk failure: the entries are kept in memory and `error` is set."""
        if not self._opened and not self._open_failed:
            self.open()  # what an earlier run left comes first, and numbers go on from it
        new = []
        for record, alarm in items:
            new.append(WalEntry(self.next_seq, uuid.uuid4().hex, record["room"], record, alarm))
            self.next_seq += 1
        if not new:
            return new
        self.entries.extend(new)
        self.appended += len(new)
        self.full = len(self.entries) > self.max_entries
        if self.path is None:
            return new
        if self.full or not self._opened:
            self._unwritten = True  # kept in memory; written when there is room (or a file)
        elif self._unwritten or self._file is None:
            self._rewrite()  # after a failure or a full journal the file lacks some events
        else:
            try:
                self._file.write(b"".join(e.line() for e in new))
                self._file.flush()
                if self.fsync:
                    os.fsync(self._file.fileno())
                self.error = None
            except OSError as exc:
                self._failed("write", exc)
        return new

    # ---- the two readers: the store and the publisher -------------------------------------

    def to_store(self, limit: int = 500) -> list[WalEntry]:
        """The next events the central store does not have yet, in order."""
        return self._after(self.stored, limit)

    def unpublished(self, after: int, limit: int = 500) -> list[WalEntry]:
        """Events after sequence number `after` not yet published, in order."""
        return self._after(max(after, self.published), limit)

    def _after(self, seq: int, limit: int) -> list[WalEntry]:
        found = []
        for entry in self.entries:
            if entry.seq > seq:
                found.append(entry)
                if len(found) >= limit:
                    break
        return found

    @property
    def waiting_for_store(self) -> int:
        return sum(1 for e in self.entries if e.seq > self.stored)

    def mark_stored(self, seq: int) -> None:
        """Events up to `seq` are committed in the central store (durably recorded here)."""
        self.stored = max(self.stored, seq)
        self._write_cursor(durable=True)
        self._trim()

    def mark_published(self, seq: int) -> None:
        """Events up to `seq` were acknowledged by the broker (recorded without an fsync: a
        crash before it publishes them again, and consumers de-duplicate on `event_uid`)."""
        self.published = max(self.published, seq)
        self._write_cursor(durable=False)
        self._trim()

    def _trim(self) -> None:
        done = min(self.stored, self.published)
        while self.entries and self.entries[0].seq <= done:
            self.entries.popleft()
            self._dropped_lines += 1
        self.full = len(self.entries) > self.max_entries
        if self._dropped_lines >= self.compact_after and self.error is None:
            self._rewrite()

    def _rewrite(self) -> None:
        """Write the file anew with every event still needed (tmp file, fsync, rename): to
        compact it, and to catch up after a failed or skipped write."""
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as f:
                f.write(b"".join(e.line() for e in self.entries))
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            self._close_file()
            os.replace(tmp, self.path)
            self._fsync_dir()
            self._file = self.path.open("ab")
        except OSError as exc:
            self._failed("rewrite", exc)
            return
        self._dropped_lines = 0
        self._unwritten = False
        self.error = None

    def _failed(self, what: str, exc: OSError) -> None:
        self.error = f"{type(exc).__name__}: {exc.strerror or exc}"
        log.error("alarm journal: cannot %s %s (%s)", what, self.path, self.error)
        self._close_file()
        self._unwritten = True

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _write_cursor(self, *, durable: bool) -> None:
        cursor_path = self.cursor_path
        if cursor_path is None:
            return
        body = json.dumps(
            {"stored": self.stored, "published": self.published, "next": self.next_seq}
        )
        tmp = cursor_path.with_suffix(".cursor.tmp")
        try:
            with tmp.open("w") as f:
                f.write(body)
                if durable and self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, cursor_path)
        except OSError as exc:
            self.error = f"{type(exc).__name__}: {exc.strerror or exc}"
            log.error("alarm journal: cannot write its cursor (%s)", self.error)

    def _fsync_dir(self) -> None:
        if self.path is None or not self.fsync:
            return
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
