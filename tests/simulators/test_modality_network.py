"""The fluoroscopy unit against real DICOM peers: dcmtk's wlmscpfs (worklist) and storescp
(storage), and a pynetdicom MPPS SCP (dcmtk has none)."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from simulators.clock import SimClock
from simulators.dicom_objects import Equipment
from simulators.fluoro_session import Plan, perform
from simulators.modality import Modality, ModalityError, Peer
from simulators.worklist import pick
from tests.peers import free_port
from tests.simulators.conftest import dcmtk, dcmtk_server, run_tool
from tests.simulators.dicom_peers import make_worklist, mpps_peer, worklist_dump

pytestmark = pytest.mark.dcmtk
DAY = date(2026, 11, 24)


def worklist(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    studies: dict[str, str] = {
        "ACC1": generate_uid(),
        "ACC2": generate_uid(),
        "ACC3": generate_uid(),
    }
    dumps = [
        worklist_dump(accession="ACC1", study_uid=studies["ACC1"], patient="Keller^Ruth", mrn="MRN1",
                      station="FLUORO1", room="IR1", day="20261124", at="110000", description="Kyphoplasty T12, L1"),
        worklist_dump(accession="ACC2", study_uid=studies["ACC2"], patient="Müller^Anna", mrn="MRN2",
                      station="FLUORO1", room="IR1", day="20261124", at="090000", description="Vertebroplasty L2"),
        worklist_dump(accession="ACC3", study_uid=studies["ACC3"], patient="Novak^Josef", mrn="MRN3",
                      station="FLUORO2", room="IR2", day="20261124", at="093000", description="Vertebroplasty T11"),
    ]  # fmt: skip
    return make_worklist(tmp_path / "wl", "WORKLIST", dumps), studies


@pytest.mark.asyncio
async def test_worklist_query_returns_this_stations_items_and_picks_the_earliest(
    tmp_path: Path,
) -> None:
    root, studies = worklist(tmp_path)
    port = free_port()
    with dcmtk_server(
        [dcmtk("wlmscpfs"), "-dfp", str(root), port_arg := str(port)], port=port, cwd=tmp_path
    ):
        unit = Modality(
            clock=SimClock(), peer=Peer(port=int(port_arg), ae_title="WORKLIST"), zone=UTC
        )
        mine = await unit.query_worklist(on=DAY)
        everyone = await unit.query_worklist(on=DAY, any_station=True)
        other_day = await unit.query_worklist(on=date(2026, 11, 25))
    assert sorted(i.accession for i in mine) == ["ACC1", "ACC2"]
    assert sorted(i.accession for i in everyone) == ["ACC1", "ACC2", "ACC3"]
    assert other_day == []
    chosen = pick(mine, room="IR1")
    assert chosen is not None and chosen.accession == "ACC2"  # 09:00 before 11:00
    assert chosen.study_uid == studies["ACC2"]
    assert chosen.patient_name == "Müller^Anna"
    assert chosen.sps_start == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert chosen.location == "IR1" and chosen.sps_id == "SPS-ACC2"
    assert pick(everyone, accession="ACC3") is not None and pick(everyone, room="IR3") is None


@pytest.mark.asyncio
async def test_a_whole_procedure_reaches_worklist_mpps_and_storage_peers(tmp_path: Path) -> None:
    root, studies = worklist(tmp_path)
    wl_port, store_port = free_port(), free_port()
    received = tmp_path / "received"
    received.mkdir()
    with (
        dcmtk_server(
            [dcmtk("wlmscpfs"), "-dfp", str(root), str(wl_port)], port=wl_port, cwd=tmp_path
        ),
        dcmtk_server(
            [dcmtk("storescp"), "-od", str(received), "-aet", "PACS", str(store_port)],
            port=store_port,
            cwd=tmp_path,
        ),
        mpps_peer() as ris,
    ):
        unit = Modality(
            clock=SimClock(speed=1000.0),
            worklist_peer=Peer(port=wl_port, ae_title="WORKLIST"),
            mpps_peer=Peer(port=ris.port, ae_title="RIS"),
            storage_peer=Peer(port=store_port, ae_title="PACS"),
            equipment=Equipment(ae_title="FLUORO1"),
            zone=UTC,
        )
        await unit.echo(unit.storage_peer)
        item = pick(await unit.query_worklist(on=DAY), accession="ACC1")
        assert item is not None
        step = await perform(unit, item, Plan(levels=("T12", "L1"), kyphoplasty=True, pace_s=30))
    files = sorted(received.iterdir())
    # survey + per level (2 trocar + 1 balloon + 2 cement) + 2 check, and the dose report
    assert len(step.ctx.images) == 1 + 2 * 5 + 2
    assert len(files) == len(step.ctx.images) + 1
    stored = [pydicom.dcmread(f) for f in files]
    assert {ds.StudyInstanceUID for ds in stored} == {studies["ACC1"]}
    assert {ds.AccessionNumber for ds in stored} == {"ACC1"}
    assert sorted(str(ds.Modality) for ds in stored).count("SR") == 1
    for f in files:
        done = run_tool(dcmtk("dcmdump"), str(f))
        assert done.returncode == 0 and done.stderr == "", f.name
    # the MPPS peer saw IN PROGRESS, then COMPLETED with the same dose as the RDSR
    (uid,) = ris.created
    assert uid == step.ctx.pps_uid
    assert ris.created[uid].PerformedProcedureStepStatus == "IN PROGRESS"
    (final,) = ris.sets[uid]
    assert final.PerformedProcedureStepStatus == "COMPLETED"
    assert float(final.ImageAndFluoroscopyAreaDoseProduct) == pytest.approx(
        step.ledger.dap_gym2 * 100_000, rel=1e-4
    )
    referenced = {
        r.ReferencedSOPInstanceUID
        for s in final.PerformedSeriesSequence
        for r in s.ReferencedImageSequence
    }
    assert referenced == {sop for _cls, sop in step.ctx.images}


@pytest.mark.asyncio
async def test_a_discontinued_procedure_says_so_with_a_reason(tmp_path: Path) -> None:
    root, _studies = worklist(tmp_path)
    wl_port, store_port = free_port(), free_port()
    with (
        dcmtk_server(
            [dcmtk("wlmscpfs"), "-dfp", str(root), str(wl_port)], port=wl_port, cwd=tmp_path
        ),
        dcmtk_server(
            [dcmtk("storescp"), "-od", str(tmp_path), str(store_port)],
            port=store_port,
            cwd=tmp_path,
        ),
        mpps_peer() as ris,
    ):
        unit = Modality(
            clock=SimClock(speed=1000.0),
            worklist_peer=Peer(port=wl_port, ae_title="WORKLIST"),
            mpps_peer=Peer(port=ris.port, ae_title="RIS"),
            storage_peer=Peer(port=store_port, ae_title="ANY"),
            zone=UTC,
        )
        item = pick(await unit.query_worklist(on=DAY), accession="ACC1")
        assert item is not None
        step = await perform(
            unit, item, Plan(levels=("T12", "L1"), pace_s=10, discontinue_after_level=1)
        )
    (final,) = ris.sets[step.ctx.pps_uid]
    assert final.PerformedProcedureStepStatus == "DISCONTINUED"
    reason = final.PerformedProcedureStepDiscontinuationReasonCodeSequence[0]
    assert (reason.CodeValue, reason.CodeMeaning) == (
        "110515",
        "Patient condition prevented continuing",
    )
    assert len(step.ctx.images) == 1 + 2 + 2  # survey, T12's trocar and cement; nothing for L1


# pynetdicom 3.0 leaves the refused socket unclosed (AssociationSocket._shutdown_socket calls
# shutdown() first, which fails on a socket that never connected, so close() never runs): the
# ResourceWarning comes from its own thread, in this failure path only.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.asyncio
async def test_an_unreachable_peer_is_a_clear_error(tmp_path: Path) -> None:
    unit = Modality(
        clock=SimClock(), peer=Peer(port=free_port(), ae_title="PROCSUITE"), timeout_s=2
    )
    with pytest.raises(
        ModalityError,
        match=r"worklist C-FIND: association with PROCSUITE@127\.0\.0\.1:\d+ aborted \(connection refused",
    ):
        await unit.query_worklist(on=DAY)
    gc.collect()  # the leaked socket is reported here, inside this test's warning filter
