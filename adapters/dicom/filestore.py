"""Durable placement of received files under `<data>/dicom/<study>/<series>/<sop>.dcm`.

A C-STORE is answered with success only after the file and its directory entry are on disk:
the received bytes are fsynced, hard-linked into place (atomic, and never replacing a file
already there, so the first copy of a repeated instance is the one kept) and the directory is
fsynced. When the spool is on another file system the bytes are copied to a temporary file
beside the target first. New directories are fsynced into their parents as well.

The receiving side may start the spool's fsync early (`sync_file` in a worker thread, begun
while the data set is read); `place` then waits for that fsync before it links the file, so
the order "bytes on disk, then their name" stays the same.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Placed:
    path: Path
    already_there: bool
    """A file with this name existed: the earlier copy is kept, the new bytes are dropped."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_file(path: Path) -> None:
    """fsync the file at `path` (for a worker thread: `place(..., synced=future)`)."""
    _fsync_file(path)


def _make_dirs(path: Path) -> list[Path]:
    """Create `path` and its missing parents; returns those this call created, outermost
    first. Their entries in their parents are not yet durable: `place` fsyncs those parents
    after the file's own directory, so that one journal commit usually covers them all."""
    missing: list[Path] = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        probe = probe.parent
    made: list[Path] = []
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue  # another association made it at the same moment
        made.append(directory)
    return made


def place(spool: Path, root: Path, relative: str, *, synced: Future[None] | None = None) -> Placed:
    """Make the spooled file durable at `root / relative`; never replaces an existing file.

    `synced`: the spool's fsync already under way in another thread (`sync_file`); it is
    waited for (and its error raised) before the file is linked into place.
    """
    target = root / relative
    made = _make_dirs(target.parent)
    try:
        return _link_into_place(spool, target, synced)
    finally:
        # New directories (a new study or series) are durable in their parents before this
        # returns, whatever happened to the file: innermost first.
        for directory in reversed(made):
            _fsync_dir(directory.parent)


def _link_into_place(spool: Path, target: Path, synced: Future[None] | None) -> Placed:
    if target.exists():
        return Placed(target, already_there=True)
    if synced is None:
        _fsync_file(spool)
    else:
        synced.result()
    try:
        os.link(spool, target)
    except FileExistsError:
        return Placed(target, already_there=True)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        return _copy_into_place(spool, target)
    _fsync_dir(target.parent)
    return Placed(target, already_there=False)


def _copy_into_place(spool: Path, target: Path) -> Placed:
    temp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(spool, "rb") as src, open(temp, "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        try:
            os.link(temp, target)
        except FileExistsError:
            return Placed(target, already_there=True)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return Placed(target, already_there=False)


def remove(path: Path) -> None:
    """Drop a file placed for an instance the index already had under another path."""
    path.unlink(missing_ok=True)
