"""Durable placement of received files (adapters/dicom/filestore.py)."""

from __future__ import annotations

import errno
import os
from concurrent.futures import Future
from pathlib import Path

import pytest

from adapters.dicom import filestore


def test_a_file_is_placed_once_and_the_first_copy_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "dicom"
    first, second = tmp_path / "spool1", tmp_path / "spool2"
    first.write_bytes(b"first copy")
    second.write_bytes(b"second copy")
    placed = filestore.place(first, root, "1.2/1.2.3/1.2.3.4.dcm")
    assert not placed.already_there
    assert placed.path == root / "1.2" / "1.2.3" / "1.2.3.4.dcm"
    again = filestore.place(second, root, "1.2/1.2.3/1.2.3.4.dcm")
    assert again.already_there
    assert placed.path.read_bytes() == b"first copy"
    assert first.exists()  # the spool is the receiver's to delete


def test_a_spool_whose_early_fsync_failed_gets_no_name(tmp_path: Path) -> None:
    # The receiver starts the spool's fsync in a worker while it reads the data set; when
    # that fsync fails the bytes may not be on disk, so they must not be linked into place.
    spool = tmp_path / "spool"
    spool.write_bytes(b"received bytes")
    synced: Future[None] = Future()
    synced.set_exception(OSError(errno.EIO, "Input/output error"))
    with pytest.raises(OSError, match="Input/output error"):
        filestore.place(spool, tmp_path / "dicom", "1.2/1.2.3/1.2.3.4.dcm", synced=synced)
    assert not (tmp_path / "dicom" / "1.2" / "1.2.3" / "1.2.3.4.dcm").exists()
    done: Future[None] = Future()
    done.set_result(None)
    placed = filestore.place(spool, tmp_path / "dicom", "1.2/1.2.3/1.2.3.4.dcm", synced=done)
    assert placed.path.read_bytes() == b"received bytes"


def test_across_file_systems_the_bytes_are_copied_beside_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.write_bytes(b"x" * 100_000)
    real_link = os.link

    def link(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src) == spool:  # the spool lives on another file system
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    placed = filestore.place(spool, tmp_path / "dicom", "1/2/3.dcm")
    assert placed.path.read_bytes() == spool.read_bytes()
    assert [p.name for p in placed.path.parent.iterdir()] == ["3.dcm"]  # no temporary left
