"""`procsuite hl7 log / show / quarantine / replay`: IT sees what happened and can replay it."""

from __future__ import annotations

import asyncio

import pytest

from procsuite.cli import main
from suite.domain import commands as c
from suite.domain.envelope import Source
from tests.hl7 import samples
from tests.hl7.conftest import eventually, send
from tests.hl7.receiver import Receiver
from tests.hl7.test_outbound import _all_sent, outbound_settings, outbox, schedule
from tests.peers import free_port


async def procsuite(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, list(argv))
    return code, capsys.readouterr().out


@pytest.mark.asyncio
async def test_it_sees_the_log_and_replays_a_quarantined_message(
    sqlite_url, tmp_path, clock, capsys, monkeypatch
):
    monkeypatch.setenv("PROCSUITE_DB_URL", sqlite_url)
    from tests.hl7.conftest import run_stack

    refusing = Receiver(free_port(), answer="AR")
    await refusing.start()
    try:
        settings = outbound_settings(tmp_path, refusing.port)
        async with run_stack(sqlite_url, settings, clock) as st:
            case_id = await schedule(st)
            await send(st.port, samples.adt("A08", mrn="NOBODY", control="BAD1"))
            await st.cases.execute(case_id, c.CheckIn(at=clock()), actor="t", source=Source.TUI)
            await eventually(lambda: len(refusing.received) == 1, what="the AR")
            rows = await eventually(lambda: _quarantined(st), what="the message in quarantine")
            code, out = await procsuite(capsys, "hl7", "quarantine")
            assert code == 0
            assert f"out #{rows[0].id}" in out and "quarantined" in out and "AR" in out

            code, out = await procsuite(capsys, "hl7", "log", "--limit", "10")
            assert code == 0
            lines = out.splitlines()
            assert any("ADT^A04" in ln and " AA " in ln for ln in lines)
            assert any(
                "BAD1" in ln and " AE " in ln and "NOBODY is not registered" in ln for ln in lines
            )
            assert any(ln.startswith("out") and "ORM^O01" in ln for ln in lines)

            code, out = await procsuite(capsys, "hl7", "show", "out", str(rows[0].id))
            assert code == 0 and "ORC|SC|" in out and "MSA|AR|" in out
    finally:
        await refusing.stop()

    code, out = await procsuite(capsys, "hl7", "replay", str(rows[0].id))
    assert code == 0 and "queued again" in out
    code, out = await procsuite(capsys, "hl7", "replay", str(rows[0].id))
    assert code == 1  # already pending

    accepting = Receiver(refusing.port)
    await accepting.start()
    try:
        async with run_stack(sqlite_url, outbound_settings(tmp_path, refusing.port), clock) as st:
            await eventually(lambda: len(accepting.applied) == 1, what="the replay delivered")
            (row,) = await eventually(lambda: _all_sent(st, 1), what="marked sent")
    finally:
        await accepting.stop()
    assert row.status == "sent" and row.control_id != rows[0].control_id
    assert accepting.applied == [row.control_id]  # the MSH-10 of the bytes was renewed
    code, out = await procsuite(capsys, "hl7", "quarantine")
    assert "quarantine is empty" in out


async def _quarantined(st):
    rows = await outbox(st)
    return rows if rows and rows[0].status == "quarantined" else None
