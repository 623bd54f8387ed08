"""A service killed with SIGKILL mid-case restarts with every committed event and the same state."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from procsuite.bootstrap import Service
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.domain.values import Phase
from suite.settings import load_settings
from suite.store import cases as case_store
from tests.scenarios import full_case

ROOT = Path(__file__).resolve().parents[2]


def run_until_killed(data_dir: Path, *, notes_before_kill: int) -> tuple[datetime, list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.service.crash_driver", str(data_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PROCSUITE_DICOM__ENABLED": "false", "PROCSUITE_HL7__ENABLED": "false"},
    )
    committed: list[int] = []
    start: datetime | None = None
    notes = 0
    deadline = time.monotonic() + 90
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("start "):
                start = datetime.fromisoformat(line.split()[1])
                continue
            _, seq, kind = line.split()
            committed.append(int(seq))
            notes += kind == "NoteAdded"
            if notes >= notes_before_kill or time.monotonic() > deadline:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    assert notes >= notes_before_kill, "the driver did not get far enough"
    assert start is not None
    return start, committed


@pytest.mark.slow
@pytest.mark.asyncio
async def test_sigkill_during_cement_injection_loses_no_committed_event(tmp_path):
    data_dir = tmp_path / "var"
    start, committed = run_until_killed(data_dir, notes_before_kill=30)

    service = Service(load_settings(data_dir=data_dir))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.ready.wait(), 30)
    try:
        assert service.ctx is not None
        cases = service.ctx.cases
        case = cases.get("crash1")
        async with service.ctx.db.session() as session:
            stored = [r.seq for r in await case_store.load(session, "crash1")]
        # every event the killed process saw committed is there, in order, with no gap
        assert set(committed) <= set(stored)
        assert stored == list(range(1, len(stored) + 1))
        assert case.version == len(stored)
        assert case.phase is Phase.CEMENT_INJECTION
        assert case.level(case.order.levels[0]).cement_volume_ml == 4.0
        # and the case carries on to discharge after the restart
        script = list(full_case(start))
        first_injection = next(i for i, x in enumerate(script) if isinstance(x, c.InjectCement))
        for command in script[first_injection + 1 :]:
            await cases.execute("crash1", command, actor="tech", source=Source.TUI)
        assert cases.get("crash1").phase is Phase.DISCHARGED
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
