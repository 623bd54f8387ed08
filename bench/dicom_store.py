"""DICOM storage: images/s and MB/s from dcmtk's storescu into procsuite, against dcmtk's
storescp receiving the same files in the same run (the anchor).

200 XA images of 1 MiB pixel data each, one association per run, TCP_NODELAY=1 for both dcmtk
tools. A bare pynetdicom receiver (chunked receive, a handler that only says success) shows
what the library itself allows on the machine; procsuite's ratio to it is the goal's figure
(issue 18), given both for the last answer and for the last image linked to its case.
procsuite writes each file durably (fsync, link, directory fsync), indexes it in SQLite and
matches it to a scheduled case before it answers; linking the images to the case runs behind
and is timed separately. Rounds alternate between the three receivers, each round starting
with the next one, and the best round of each counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import machine, save

IMAGES = 200
ROWS, COLUMNS = 512, 1024  # 16-bit: 1 MiB of pixel data per image
ROUNDS = 3
STORESCU = "/usr/bin/storescu"
STORESCP = "/usr/bin/storescp"
ENV = {**os.environ, "TCP_NODELAY": "1"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float = 15) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def make_images(directory: Path) -> int:
    """Write the images; returns their total size in bytes."""
    from tests.dicom import samples

    directory.mkdir(parents=True)
    study = None
    total = 0
    for n in range(IMAGES):
        ds = samples.image(rows=ROWS, columns=COLUMNS, accession="BENCH0001", study_uid=study)
        study = ds.StudyInstanceUID
        ds.InstanceNumber = n + 1
        path = samples.save(ds, directory / f"{n:04d}.dcm")
        total += path.stat().st_size
    return total


def send(port: int, directory: Path, called: str) -> float:
    """storescu of every file over one association; returns the seconds it took."""
    started = time.perf_counter()
    result = subprocess.run(
        [
            STORESCU,
            "-aet",
            "FLUORO1",
            "-aec",
            called,
            "+sd",
            "127.0.0.1",
            str(port),
            str(directory),
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"storescu failed: {result.stderr[-500:]}")
    return elapsed


def run_storescp(images: Path, work: Path) -> float:
    out = work / "storescp-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    port = _free_port()
    proc = subprocess.Popen(
        [STORESCP, "-aet", "ANCHOR", "-od", str(out), str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        elapsed = send(port, images, "ANCHOR")
    finally:
        proc.terminate()
        proc.wait(10)
    received = len(list(out.iterdir()))
    if received != IMAGES:
        raise RuntimeError(f"storescp kept {received} of {IMAGES}")
    return elapsed


def run_bare_pynetdicom(images: Path) -> float:
    """What pynetdicom itself allows: chunked receive, a handler that only answers success."""
    from pynetdicom import AE, _config, evt

    from adapters.dicom import sop

    _config.STORE_RECV_CHUNKED_DATASET = True
    ae = AE(ae_title="BARE")
    ae.maximum_pdu_size = 0
    ae.add_supported_context(sop.XA_IMAGE, list(sop.UNCOMPRESSED))
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, lambda event: 0x0000)]
    )
    assert server is not None
    try:
        return send(int(server.server_address[1]), images, "BARE")
    finally:
        server.shutdown()


async def _procsuite_round(images: Path, work: Path) -> tuple[float, float]:
    from adapters.dicom.component import DicomAdapter
    from suite.app.case_service import CaseService
    from suite.app.context import ServiceContext
    from suite.bus import Bus
    from suite.domain.envelope import Source
    from suite.settings import Settings
    from suite.store import migrate
    from suite.store.database import Database
    from tests.scenarios import schedule

    data = work / "procsuite"
    shutil.rmtree(data, ignore_errors=True)
    settings = Settings(
        data_dir=data, dicom_port=0, dicom={"ae_title": "PROCSUITE", "timezone": "UTC"}
    )
    data.mkdir(parents=True)
    await migrate.upgrade(settings.database_url)
    db = Database.from_url(settings.database_url)
    writer = asyncio.create_task(db.run())
    bus = Bus()

    def clock() -> datetime:
        return datetime.now(UTC)

    cases = CaseService(db, bus, clock=clock)
    await cases.execute(
        "bench1", schedule(clock(), accession="BENCH0001"), actor="bench", source=Source.CLI
    )
    adapter = DicomAdapter(
        ServiceContext(settings=settings, db=db, bus=bus, cases=cases, clock=clock)
    )
    task = asyncio.create_task(adapter.run())
    try:
        await asyncio.wait_for(adapter.ready.wait(), 10)
        started = time.perf_counter()
        elapsed = await asyncio.to_thread(send, adapter.port, images, "PROCSUITE")
        while len(cases.get("bench1").images) < IMAGES:  # type: ignore[union-attr]
            if time.perf_counter() - started > 300:
                raise RuntimeError("images not linked after 300 s")
            await asyncio.sleep(0.01)
        linked = time.perf_counter() - started
        stored = adapter.counters().get("stored", 0)
        if stored != IMAGES:
            raise RuntimeError(f"procsuite stored {stored} of {IMAGES}")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        db.close()
        await writer
        await db.dispose()
    return elapsed, linked


def durable_floor_ms(work: Path, image: Path) -> dict[str, float]:
    """What the durability promise alone costs per image on this disk, in the same run:
    medians of writing one of the images and fsyncing it, fsyncing its directory, and a
    one-row commit on a bare sqlite3 connection (WAL, synchronous=FULL), 50 times each."""
    import sqlite3
    import statistics

    data = image.read_bytes()
    spool = work / "floor"
    spool.mkdir()
    file_ms: list[float] = []
    dir_ms: list[float] = []
    for n in range(50):
        path = spool / f"{n}.dcm"
        started = time.perf_counter()
        with path.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        file_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        fd = os.open(spool, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        dir_ms.append((time.perf_counter() - started) * 1000)
    db = sqlite3.connect(work / "floor.db", isolation_level=None)
    commit_ms: list[float] = []
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        for _ in range(50):
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t (v) VALUES (?)", ("x" * 200,))
            db.execute("COMMIT")
            commit_ms.append((time.perf_counter() - started) * 1000)
    finally:
        db.close()
    shutil.rmtree(spool, ignore_errors=True)
    floor = {
        "write_and_fsync_file_ms": statistics.median(file_ms),
        "fsync_directory_ms": statistics.median(dir_ms),
        "sqlite_commit_ms": statistics.median(commit_ms),
    }
    return {k: round(v, 3) for k, v in floor.items()}


def main() -> None:
    for tool in (STORESCU, STORESCP):
        if not Path(tool).exists():
            print(f"dicom_store: {tool} is missing (Debian package dcmtk); skipped")
            return
    with tempfile.TemporaryDirectory(prefix="bench-dicom-") as tmp:
        work = Path(tmp)
        images = work / "images"
        size = make_images(images)
        anchor: list[float] = []
        bare: list[float] = []
        ours: list[float] = []
        linked: list[float] = []

        def procsuite() -> None:
            elapsed, all_linked = asyncio.run(_procsuite_round(images, work))
            ours.append(elapsed)
            linked.append(all_linked)

        receivers = [
            lambda: anchor.append(run_storescp(images, work)),
            lambda: bare.append(run_bare_pynetdicom(images)),
            procsuite,
        ]
        for n in range(ROUNDS):
            for receiver in receivers[n % 3 :] + receivers[: n % 3]:
                receiver()
        floor = durable_floor_ms(work, images / "0000.dcm")
    mib = size / (1 << 20)

    def rate(seconds: float) -> dict[str, float]:
        return {
            "images_per_s": round(IMAGES / seconds, 1),
            "mib_per_s": round(mib / seconds, 1),
            "seconds": round(seconds, 3),
        }

    best_anchor, best_ours = min(anchor), min(ours)
    figures: dict[str, Any] = {
        "images": IMAGES,
        "image_bytes": size // IMAGES,
        "rounds": ROUNDS,
        "storescp": rate(best_anchor),
        "bare_pynetdicom": rate(min(bare)),
        "procsuite": rate(best_ours),
        "procsuite_all_linked": rate(min(linked)),
        "ratio_to_storescp": round(best_anchor / best_ours, 2),
        "bare_pynetdicom_ratio_to_storescp": round(best_anchor / min(bare), 2),
        "ratio_to_bare_pynetdicom": round(min(bare) / best_ours, 2),
        "all_linked_ratio_to_bare_pynetdicom": round(min(bare) / min(linked), 2),
        # Bare pynetdicom's time per image plus what the durable write alone costs on this
        # disk (file, directory and one commit; procsuite pays a second directory fsync for a
        # new series): the best ratio any receiver keeping procsuite's promise could reach.
        "durable_floor_ms": floor,
        "ratio_bound_by_durable_write": round(
            (min(bare) / IMAGES * 1000) / (min(bare) / IMAGES * 1000 + sum(floor.values())),
            2,
        ),
        "all_rounds_s": {
            "storescp": anchor,
            "bare_pynetdicom": bare,
            "procsuite": ours,
            "linked": linked,
        },
        "machine": machine(),
    }
    save("dicom_store", figures)
