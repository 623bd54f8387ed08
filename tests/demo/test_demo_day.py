"""The whole demo as a user runs it: `procsuite demo --headless --speed 120` in a subprocess,
in a fresh working directory, on free ports. While it runs, the test listens to the alarm
topic on the demo's broker; afterwards it reads the demo's SQLite store with procsuite's own
store code and the simulated HIS's journal, and checks what the issue asks:

- both cases reached discharge through every phase of their procedure;
- every image the fluoroscopy units sent is stored and linked to its case, and each case's
  dose report (RDSR) is stored with it;
- the dose totals on each case are those the unit measured (the simulator's own ledger),
  and the ORU the HIS received carries them;
- the scripted alarms (suspected cement embolism in IR1, respiratory depression and
  desaturation in IR2) were raised, acknowledged by the nurse and cleared, on the wire and
  in the store;
- the HIS received each case's order status (in progress, completed) and its results (ORU),
  and acknowledged them AA.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import hl7
import pytest
from sqlmodel import select

from suite.domain.case import Case, replay
from suite.domain.values import Phase, phases_for
from suite.store import cases as case_store
from suite.store.alarms import AlarmRow
from suite.store.database import Database
from suite.store.dicom import DicomDoseReportRow, DicomInstanceRow
from suite.store.hl7 import Hl7OutboxRow
from tests.peers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

XA = "1.2.840.10008.5.1.4.1.1.12.1"
RDSR = "1.2.840.10008.5.1.4.1.1.88.67"
PROCSUITE = [sys.executable, "-c", "import sys; from procsuite.cli import main; sys.exit(main())"]
SCRIPTED = {"IR1": {"suspected_cement_embolism"}, "IR2": {"rr_low", "spo2_low"}}


async def _watch_alarms(port: int, seen: list[dict[str, Any]], ready: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="demo-test-watch") as client:
        await client.subscribe("procsuite/main/alarms/+", qos=1)
        ready.set()
        async for message in client.messages:
            seen.append(json.loads(bytes(message.payload)))  # type: ignore[arg-type]


async def _run_demo(cwd: Path) -> tuple[int, str, str, list[dict[str, Any]]]:
    mqtt_port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *PROCSUITE, "demo", "--headless", "--speed", "120",
        "--mqtt-port", str(mqtt_port), "--dicom-port", "0", "--hl7-port", "0", "--his-port", "0",
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    seen: list[dict[str, Any]] = []
    watch_ready = asyncio.Event()
    watcher: asyncio.Task[None] | None = None
    err_task = asyncio.create_task(proc.stderr.read())
    try:
        async with asyncio.timeout(200):
            async for raw in proc.stdout:
                line = raw.decode().rstrip("\n")
                lines.append(line)
                if line.startswith("procsuite demo ready") and watcher is None:
                    watcher = asyncio.create_task(_watch_alarms(mqtt_port, seen, watch_ready))
                    async with asyncio.timeout(10):
                        await watch_ready.wait()
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await watcher
    err = (await err_task).decode()
    return code, "\n".join(lines), err, seen


async def _from_store(db_path: Path) -> dict[str, Any]:
    database = Database.from_url(f"sqlite:///{db_path}")
    try:
        async with database.session() as session:
            events = await case_store.load_all(session)
            instances = list(await session.exec(select(DicomInstanceRow)))
            doses = list(await session.exec(select(DicomDoseReportRow)))
            alarms = list(await session.exec(select(AlarmRow)))
            outbox = list(await session.exec(select(Hl7OutboxRow)))
    finally:
        await database.dispose()
    cases = {
        case_id: replay(case_id, [r.event for r in records]) for case_id, records in events.items()
    }
    return {
        "cases": cases, "instances": instances, "doses": doses, "alarms": alarms, "outbox": outbox,
    }  # fmt: skip


@pytest.mark.asyncio
async def test_the_headless_demo_runs_a_whole_suite_day(tmp_path: Path) -> None:
    code, out, err, wire_alarms = await _run_demo(tmp_path)
    assert code == 0, f"exit {code}\n{out[-3000:]}\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert "result: ok" in out
    # Progress while it ran: phases, alarms, images, HL7 both ways, one line each.
    for said in ("phase time_out", "ALARM high suspected_cement_embolism", "DICOM: 2 XA image(s)",
                 "HL7 in  ORM^O01 NW", "HL7 out ORU^R01"):  # fmt: skip
        assert said in out, said

    data = tmp_path / "var" / "demo"  # the default: SQLite under ./var
    summary = json.loads((data / "summary.json").read_text())
    store = await _from_store(data / "procsuite.db")
    cases: dict[str, Case] = store["cases"]
    assert len(cases) == 2

    journal = [json.loads(line) for line in (data / "his-received.jsonl").read_text().splitlines()]
    for report in summary["cases"]:
        case = cases[report["case_id"]]
        # Both cases reached discharge through every phase of their procedure.
        assert case.phase is Phase.DISCHARGED, report
        assert [p for p, _ in case.phase_history] == list(phases_for(case.procedure))
        assert (case.room, case.order.accession) == (report["room"], report["accession"])

        # Every image sent is stored, on disk and in the index, and linked to the case.
        mine = [i for i in store["instances"] if i.case_id == case.case_id]
        images = [i for i in mine if i.sop_class_uid == XA]
        assert len(images) == report["images_sent"] > 0
        assert all(i.linked for i in images)
        assert {i.sop_instance_uid for i in images} == {im.sop_instance_uid for im in case.images}
        assert all((data / "dicom" / i.path).is_file() for i in mine)
        rdsr = [i for i in mine if i.sop_class_uid == RDSR]
        assert len(rdsr) == 1, "one dose report per case"

        # The dose on the case is what the unit measured, from its dose report.
        measured = report["dose_measured"]
        assert case.dose is not None
        assert case.dose.dap_gy_cm2 == pytest.approx(measured["dap_gy_cm2"], rel=1e-3)
        assert case.dose.air_kerma_mgy == pytest.approx(measured["air_kerma_mgy"], rel=1e-3)
        assert case.dose.fluoro_time_s == pytest.approx(measured["fluoro_time_s"], abs=1)
        from_rdsr = [d for d in store["doses"] if d.case_id == case.case_id and d.source == "rdsr"]
        assert len(from_rdsr) == 1
        assert from_rdsr[0].object_uid == rdsr[0].sop_instance_uid
        assert from_rdsr[0].dap_gy_cm2 == pytest.approx(case.dose.dap_gy_cm2, rel=1e-6)

        # The HIS got in progress, completed and the results, each acknowledged AA; the ORU
        # carries the dose.
        got = [m for m in journal if case.order.accession in m["text"]]
        statuses = [
            str(hl7.parse(m["text"]).segment("ORC")[5]) for m in got if m["kind"].startswith("ORM")
        ]
        assert statuses == ["IP", "CM"]
        results = [m for m in got if m["kind"].startswith("ORU^R01")]
        assert len(results) == 1 and all(m["ack"] == "AA" for m in got)
        dap = [
            float(str(seg[5]))
            for seg in hl7.parse(results[0]["text"]).segments("OBX")
            if str(seg[3]).startswith("113722^")
        ]
        assert dap == [pytest.approx(case.dose.dap_gy_cm2, abs=0.01)]
        sent = [r for r in store["outbox"] if r.case_id == case.case_id]
        assert {r.status for r in sent} == {"sent"} and len(sent) == 3

    # The scripted alarms were raised, acknowledged by the nurse and cleared: on the wire...
    for room, kinds in SCRIPTED.items():
        for kind in kinds:
            events = [e for e in wire_alarms if e.get("room") == room and e.get("kind") == kind]
            lifecycle = {e["event"] for e in events}
            assert {"raised", "acknowledged", "cleared"} <= lifecycle, (room, kind, lifecycle)
            acked = next(e for e in events if e["event"] == "acknowledged")
            assert acked["user"] == "nurse1"
    # ...and in the store, with every alarm of the day cleared in the end.
    stored = {(a.room, a.kind): a for a in store["alarms"]}
    for room, kinds in SCRIPTED.items():
        for kind in kinds:
            alarm = stored[(room, kind)]
            assert alarm.acknowledged_by == "nurse1" and alarm.state == "cleared", alarm
    embolism = stored[("IR1", "suspected_cement_embolism")]
    assert embolism.priority == "high" and embolism.case_id == summary["cases"][0]["case_id"]
    assert all(a.state == "cleared" for a in store["alarms"]), [
        (a.room, a.kind, a.state, a.raised_at) for a in store["alarms"] if a.state != "cleared"
    ]
