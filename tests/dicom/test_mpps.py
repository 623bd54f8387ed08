"""MPPS SCP with pynetdicom as the modality (dcmtk has no MPPS client)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE
from sqlmodel import select

from adapters.dicom import sop
from adapters.dicom.uids import study_uid_for_case
from suite.domain.envelope import Source
from suite.store.dicom import MppsRow
from tests.dicom import samples
from tests.dicom.conftest import AE_TITLE, MODALITY_AE, RunningScp, eventually
from tests.dicom.test_storage import start_case
from tests.dicom.test_worklist import STATION_QUERY, findscu
from tests.scenarios import schedule


def _mpps_session(port: int, steps: list[tuple[str, str, Dataset]]) -> list[tuple[int, int | None]]:
    """Run ("create" | "set", uid, dataset) requests over one association; (status, error id)."""
    ae = AE(ae_title=MODALITY_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(sop.MPPS)
    assoc = ae.associate("127.0.0.1", port, ae_title=AE_TITLE)
    assert assoc.is_established
    answers: list[tuple[int, int | None]] = []
    try:
        for kind, uid, ds in steps:
            if kind == "create":
                rsp, _ = assoc.send_n_create(ds, sop.MPPS, uid)
            else:
                rsp, _ = assoc.send_n_set(ds, sop.MPPS, uid)
            answers.append((int(rsp.Status), rsp.get("ErrorID")))
        assert assoc.is_established
    finally:
        assoc.release()
    return answers


async def mpps(port: int, *steps: tuple[str, str, Dataset]) -> list[tuple[int, int | None]]:
    return await asyncio.to_thread(_mpps_session, port, list(steps))


def notes(scp: RunningScp, case_id: str, kind: str = "mpps") -> list[str]:
    return [n.text for n in scp.cases.get(case_id).notes if n.kind == kind]


@pytest.mark.asyncio
async def test_in_progress_then_completed_moves_the_timeline_and_records_the_dose(
    scp: RunningScp, tmp_path: Path
) -> None:
    case_id = await start_case(scp)
    uid = generate_uid(prefix=None)
    answers = await mpps(
        scp.port,
        (
            "create",
            uid,
            samples.mpps_in_progress(study_uid=study_uid_for_case(case_id), case_id=case_id),
        ),
    )
    assert answers == [(0x0000, None)]
    [started] = await eventually(lambda: notes(scp, case_id), what="MPPS IN PROGRESS note")
    assert started.startswith("MPPS IN PROGRESS on FLUORO1 Kyphoplasty since 2026-11-24 09:05")

    scp.clock.advance(600)
    answers = await mpps(
        scp.port,
        (
            "set",
            uid,
            samples.mpps_completed(fluoro_time_s=312, dap_dgy_cm2=185.0, entrance_dose_mgy=640),
        ),
    )
    assert answers == [(0x0000, None)]
    await eventually(lambda: len(notes(scp, case_id)) == 2, what="MPPS COMPLETED note")
    completed = notes(scp, case_id)[1]
    assert completed.startswith("MPPS COMPLETED on FLUORO1 Kyphoplasty at 2026-11-24 09:45")
    assert "fluoroscopy 5.2 min" in completed and "DAP 18.50 Gy·cm²" in completed
    assert "air kerma 640 mGy" in completed and "35 exposures" in completed

    dose = await eventually(lambda: scp.cases.get(case_id).dose, what="the MPPS dose")
    assert (dose.fluoro_time_s, dose.dap_gy_cm2, dose.air_kerma_mgy) == pytest.approx(
        (312, 18.5, 640)
    )
    assert dose.source == "mpps"
    async with scp.db.session() as session:
        row = (await session.exec(select(MppsRow))).one()
    assert (row.status, row.case_id, row.match_rule) == ("COMPLETED", case_id, "accession")
    assert (row.fluoro_time_s, row.dap_gy_cm2, row.air_kerma_mgy, row.exposures) == (
        312,
        pytest.approx(18.5),
        pytest.approx(640),
        35,
    )
    # A completed step leaves the worklist even though the case is still open.
    assert await findscu(scp, tmp_path, STATION_QUERY, station=MODALITY_AE, day="20261124") == []


@pytest.mark.asyncio
async def test_the_mpps_state_machine_is_enforced_and_the_scp_keeps_serving(
    scp: RunningScp,
) -> None:
    await scp.cases.execute("k1", schedule(scp.clock()), actor="his", source=Source.HL7)
    uid = generate_uid(prefix=None)
    completed_at_once = samples.mpps_in_progress()
    completed_at_once.PerformedProcedureStepStatus = "COMPLETED"
    bogus = samples.mpps_completed(fluoro_time_s=1, dap_dgy_cm2=1, entrance_dose_mgy=1)
    bogus.PerformedProcedureStepStatus = "FINISHED"
    answers = await mpps(
        scp.port,
        ("create", generate_uid(prefix=None), completed_at_once),  # must start IN PROGRESS
        ("set", generate_uid(prefix=None), bogus),  # no such step
        ("create", uid, samples.mpps_in_progress()),
        ("create", uid, samples.mpps_in_progress()),  # the same step twice
        ("set", uid, bogus),  # not a valid status
        ("set", uid, samples.mpps_completed(fluoro_time_s=60, dap_dgy_cm2=10, entrance_dose_mgy=50, status="DISCONTINUED")),
        ("set", uid, samples.mpps_completed(fluoro_time_s=90, dap_dgy_cm2=20, entrance_dose_mgy=60)),
    )  # fmt: skip
    assert answers == [
        (0x0106, None),
        (0x0112, None),
        (0x0000, None),
        (0x0111, None),
        (0x0106, None),
        (0x0000, None),
        (0x0110, 0xA710),  # a discontinued step may no longer be updated
    ]
    texts = await eventually(lambda: len(notes(scp, "k1")) == 2 and notes(scp, "k1"))
    assert texts[1].startswith("MPPS DISCONTINUED on FLUORO1")
    assert scp.cases.get("k1").dose.air_kerma_mgy == pytest.approx(50)
    assert scp.adapter.counters()["mpps_refused"] == 5
