"""Disk full on the DICOM store (issue 8 fault test): the store directory is a small tmpfs
filled until images no longer fit. Real dcmtk storescu sends one image at a time."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydicom import dcmread
from sqlmodel import select

from adapters.dicom.component import DISK_FULL_KIND
from suite.app.case_service import CaseService
from suite.domain.alarms.model import AlarmCleared, AlarmRaised
from suite.store.database import Database
from suite.store.dicom import DicomInstanceRow
from tests.conftest import FakeClock
from tests.dicom import samples
from tests.dicom.conftest import AE_TITLE, MODALITY_AE, RunningScp, dicom_settings, run_dcmtk
from tests.dicom.conftest import running_scp as start_scp
from tests.peers import missing

pytestmark = pytest.mark.timeout(120)

IMAGE_ROWS = 256  # 128 KiB of pixels per image


@contextlib.contextmanager
def small_disk(where: Path, size_kib: int) -> Iterator[Path]:
    where.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(where)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode != 0:
        missing(f"a small tmpfs to fill (mount as root failed: {mounted.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest_asyncio.fixture
async def full_scp(
    cases: CaseService, database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[RunningScp]:
    settings = dicom_settings(tmp_path)
    with small_disk(settings.data_dir / "dicom", 1024):
        async with start_scp(cases, database, clock, settings) as running:
            yield running


async def store_one(scp: RunningScp, path: Path) -> str:
    """Send one file; returns storescu's report (its exit code says nothing of the status)."""
    result = await run_dcmtk(
        "storescu", "-v", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1", str(scp.port),
        str(path),
    )  # fmt: skip
    return result.stdout + result.stderr


def indexed_uids(rows: list[DicomInstanceRow]) -> set[str]:
    return {r.sop_instance_uid for r in rows}


@pytest.mark.asyncio
async def test_a_full_dicom_store_refuses_images_loses_none_it_accepted_and_recovers(
    full_scp: RunningScp, tmp_path: Path
) -> None:
    scp = full_scp
    # Leave room for about three images beside a filler file.
    filler = scp.root / "filler.bin"
    filler.write_bytes(b"\0" * (1024 - 3 * 140) * 1024)
    sent: dict[str, str] = {}  # SOP instance UID -> storescu's report
    files = {}
    for i in range(6):
        ds = samples.image(
            rows=IMAGE_ROWS, columns=IMAGE_ROWS, sop_uid=f"1.2.826.0.1.3680043.99.{i}"
        )
        path = samples.save(ds, tmp_path / f"img{i}.dcm")
        files[ds.SOPInstanceUID] = path
        sent[ds.SOPInstanceUID] = await store_one(scp, path)
    refused = {uid for uid, report in sent.items() if "Refused: OutOfResources" in report}
    accepted = set(sent) - refused
    assert 1 <= len(accepted) < len(sent), sent
    assert refused, "the disk never filled"

    async with scp.db.session() as session:
        rows = list(await session.exec(select(DicomInstanceRow)))
    # Every image answered with success is indexed and whole on disk; no refused one is.
    assert indexed_uids(rows) == accepted
    for row in rows:
        kept = dcmread(scp.root / row.path)
        original = dcmread(files[row.sop_instance_uid])
        assert kept.SOPInstanceUID == row.sop_instance_uid
        assert kept.PixelData == original.PixelData
    leftovers = [p for p in scp.root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    assert leftovers == []
    assert scp.adapter.stats.snapshot().get("disk_full", 0) == len(refused)

    # One technical alarm for the whole episode, naming the store.
    await _settle()
    raised = [a for a in scp.drain_alarms() if isinstance(a, AlarmRaised)]
    assert [(a.kind, a.room) for a in raised] == [(DISK_FULL_KIND, "*")]
    assert "full" in raised[0].message and raised[0].category.value == "technical"

    # Space is freed: the modality sends the refused images again and they are stored.
    os.unlink(filler)
    for uid in sorted(refused):
        report = await store_one(scp, files[uid])
        assert "Received Store Response (Success)" in report, report
    async with scp.db.session() as session:
        rows = list(await session.exec(select(DicomInstanceRow)))
    assert indexed_uids(rows) == set(sent)
    await _settle()
    cleared = [a for a in scp.drain_alarms() if isinstance(a, AlarmCleared)]
    assert [a.alarm_id for a in cleared] == [raised[0].alarm_id]


async def _settle() -> None:
    """Let the association threads' alarm calls reach the event loop."""
    import asyncio

    for _ in range(20):
        await asyncio.sleep(0.01)
