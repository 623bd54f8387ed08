"""Forwarding to a PACS (dcmtk's storescp on a free port), including the PACS down, then up."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from sqlmodel import select

from adapters.dicom.forward import retry_delay_s
from suite.app.case_service import CaseService
from suite.store.database import Database
from suite.store.dicom import ForwardRow
from suite.store.dicom_forward import queue_state
from tests.conftest import FakeClock
from tests.dicom import samples
from tests.dicom.conftest import (
    AE_TITLE,
    MODALITY_AE,
    dicom_settings,
    eventually,
    run_dcmtk,
    running_scp,
)
from tests.peers import free_port, missing, wait_port

pytestmark = pytest.mark.dcmtk


@contextlib.contextmanager
def storescp(port: int, directory: Path) -> Iterator[subprocess.Popen[bytes]]:
    """dcmtk's storescp as the PACS, writing what it receives to `directory`."""
    binary = Path("/usr/bin/storescp")
    if not binary.exists():
        missing("dcmtk's storescp (Debian package dcmtk)")
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(binary), "-aet", "PACS", "-od", str(directory), str(port)],
        env={**os.environ, "TCP_NODELAY": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc=proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_wait_between_attempts_doubles_up_to_the_maximum() -> None:
    waits = [retry_delay_s(n, min_s=5, max_s=60) for n in range(0, 7)]
    assert waits == [0, 5, 10, 20, 40, 60, 60]
    assert retry_delay_s(10_000, min_s=5, max_s=600) == 600  # no overflow, ever


@pytest.mark.asyncio
async def test_instances_wait_while_the_pacs_is_down_and_arrive_when_it_is_back(
    cases: CaseService, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    pacs_port = free_port()
    settings = dicom_settings(
        tmp_path,
        forward_host="127.0.0.1",
        forward_port=pacs_port,
        forward_ae_title="PACS",
        forward_retry_min_s=30,
        forward_retry_max_s=300,
    )
    async with running_scp(cases, database, clock, settings) as scp:
        forwarder = scp.adapter.forwarder
        assert forwarder is not None
        images = [samples.image() for _ in range(3)]
        files = [samples.save(ds, tmp_path / f"img{i}.dcm") for i, ds in enumerate(images)]
        result = await run_dcmtk(
            "storescu", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1", str(scp.port),
            *map(str, files),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr  # stored here although the PACS is down

        async def failing() -> bool:
            state = await queue_state(scp.db)
            return state.waiting == 3 and state.failing == 3

        await eventually(failing, what="the first attempt to fail")
        state = await queue_state(scp.db)
        assert "cannot be reached" in state.last_error

        received = tmp_path / "pacs"
        with storescp(pacs_port, received):
            # The PACS is back, but the next attempt is not due yet (simulated time).
            assert await forwarder.send_due() == 0
            clock.advance(30)
            forwarder.wake()

            async def all_sent() -> bool:
                return (await queue_state(scp.db)).waiting == 0

            await eventually(all_sent, what="the queue to drain")
            arrived = {dcmread(p).SOPInstanceUID for p in received.iterdir()}
            assert arrived == {ds.SOPInstanceUID for ds in images}
        async with scp.db.session() as session:
            rows = list(await session.exec(select(ForwardRow)))
        assert [(r.attempts, r.sent_at is not None, r.last_error) for r in rows] == [
            (1, True, "")
        ] * 3
        assert scp.adapter.counters()["forwarded"] == 3


@pytest.mark.asyncio
async def test_the_queue_survives_a_restart_of_the_service(
    cases: CaseService, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    pacs_port = free_port()
    settings = dicom_settings(
        tmp_path, forward_host="127.0.0.1", forward_port=pacs_port, forward_retry_min_s=30
    )
    image = samples.image()
    async with running_scp(cases, database, clock, settings) as scp:
        path = samples.save(image, tmp_path / "img.dcm")
        result = await run_dcmtk(
            "storescu", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1", str(scp.port), str(path)
        )
        assert result.returncode == 0, result.stderr

        async def failed_once() -> bool:
            return (await queue_state(scp.db)).failing == 1

        await eventually(failed_once, what="the first attempt to fail")
    # The service is stopped; the PACS comes up; a new service sends what was queued
    # once the next attempt is due.
    clock.advance(30)
    received = tmp_path / "pacs"
    with storescp(pacs_port, received):
        async with running_scp(cases, database, clock, settings) as scp:

            async def sent() -> bool:
                return (await queue_state(scp.db)).sent == 1

            await eventually(sent, what="the instance to reach the PACS")
    assert [dcmread(p).SOPInstanceUID for p in received.iterdir()] == [image.SOPInstanceUID]
