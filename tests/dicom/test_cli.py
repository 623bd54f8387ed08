"""`procsuite dicom`: IT finds an unmatched image and gives it its case from the terminal."""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path

import pytest

from procsuite.cli import main
from suite.app.case_service import CaseService
from suite.bus import Bus
from suite.clock import utc_now
from suite.settings import load_settings
from suite.store import migrate
from suite.store.database import Database
from tests.dicom import samples
from tests.dicom.conftest import AE_TITLE, MODALITY_AE, run_dcmtk, running_scp

pytestmark = pytest.mark.dcmtk


@pytest.mark.asyncio
async def test_an_unmatched_image_is_listed_and_assigned_to_its_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROCSUITE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROCSUITE_DICOM_PORT", "0")

    def cli(*args: str) -> str:
        capsys.readouterr()
        assert main(list(args)) == 0, capsys.readouterr()
        return capsys.readouterr().out

    case_id = (
        await asyncio.to_thread(
            cli,
            "case",
            "schedule",
            "--mrn",
            "MRN0007",
            "--name",
            "DOE^JANE",
            "--accession",
            "ACC0007",
            "--procedure",
            "vertebroplasty",
            "--levels",
            "L1",
            "--room",
            "IR1",
        )  # fmt: skip
    ).strip()

    settings = load_settings()
    await migrate.upgrade(settings.database_url)
    database = Database.from_url(settings.database_url)
    writer = asyncio.create_task(database.run())
    cases = CaseService(database, Bus(), clock=utc_now)
    await cases.load()
    # An image from a modality where the patient was typed by hand: nothing matches.
    stray = samples.image(patient_id="UNKNOWN", accession="")
    try:
        async with running_scp(cases, database, utc_now, settings) as scp:  # type: ignore[arg-type]
            echoed = await asyncio.to_thread(cli, "dicom", "echo", "--port", str(scp.port))
            assert "C-ECHO" in echoed and "ok" in echoed
            path = samples.save(stray, tmp_path / "stray.dcm")
            result = await run_dcmtk(
                "storescu", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1", str(scp.port),
                str(path),
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
    finally:
        database.close()
        await writer
        await database.dispose()

    listed = await asyncio.to_thread(cli, "dicom", "unmatched")
    assert stray.SOPInstanceUID in listed and "patient UNKNOWN" in listed
    assigned = await asyncio.to_thread(cli, "dicom", "assign", stray.SOPInstanceUID, "ACC0007")
    assert f"assigned to case {case_id}" in assigned
    assert await asyncio.to_thread(cli, "dicom", "unmatched") == "no unmatched instances\n"
    # The audit trail says who moved it, from the command line, and where to.
    trail = await asyncio.to_thread(cli, "audit", "--json")
    [entry] = [json.loads(x) for x in trail.splitlines() if "dicom_assign" in x]
    assert entry["user"] == getpass.getuser() and entry["source"] == "cli"
    assert entry["subject"] == f"instance {stray.SOPInstanceUID}"
    assert entry["detail"]["case_id"] == case_id
    timeline = await asyncio.to_thread(cli, "case", "show", case_id)
    assert "image XA linked" in timeline
    assert "dicom" in timeline.splitlines()[-1]

    # Unknown instances and cases are refused with a one-line reason.
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["dicom", "assign", "1.2.3.4", case_id]) == 1
    assert "no stored instance 1.2.3.4" in capsys.readouterr().err
    queue = await asyncio.to_thread(cli, "dicom", "queue")
    assert queue.startswith("waiting 0")
