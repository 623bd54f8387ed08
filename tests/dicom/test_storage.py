"""Storage SCP against dcmtk's storescu: files on disk, index, case links, dose and alarms."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid
from sqlmodel import select

from adapters.dicom import sop
from adapters.dicom.uids import study_uid_for_case
from suite.domain import commands as c
from suite.domain.alarms.model import AlarmRaised, Priority
from suite.domain.dose import DoseQuantity
from suite.domain.envelope import Source
from suite.domain.errors import GuardError
from suite.domain.values import ImagingModality, ImagingResult, Procedure
from suite.store import dicom_dose
from suite.store.dicom import DicomInstanceRow
from tests.dicom import samples
from tests.dicom.conftest import AE_TITLE, MODALITY_AE, RunningScp, eventually, run_dcmtk
from tests.scenarios import full_case, schedule

pytestmark = pytest.mark.dcmtk


async def start_case(scp: RunningScp, *, up_to: type = c.LinkImage, case_id: str = "k1") -> str:
    """Schedule a kyphoplasty (T12, L1) and log its steps until just before `up_to`."""
    clock = scp.clock
    await scp.cases.execute(case_id, schedule(clock()), actor="his", source=Source.HL7)
    for command in full_case(clock(), procedure=Procedure.KYPHOPLASTY, levels=("T12", "L1")):
        if isinstance(command, up_to):
            break
        clock.now = command.at
        await scp.cases.execute(case_id, command, actor="tech1", source=Source.TUI)
    clock.advance(30)
    return case_id


async def storescu(scp: RunningScp, *files: Path, calling: str = MODALITY_AE) -> str:
    result = await run_dcmtk(
        "storescu", "-aet", calling, "-aec", AE_TITLE, "127.0.0.1", str(scp.port),
        *map(str, files),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stderr + result.stdout


async def rows(scp: RunningScp) -> dict[str, DicomInstanceRow]:
    async with scp.db.session() as session:
        found = await session.exec(select(DicomInstanceRow))
        return {r.sop_instance_uid: r for r in found}


@pytest.mark.asyncio
async def test_echoscu_is_answered(scp: RunningScp) -> None:
    result = await run_dcmtk(
        "echoscu", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1", str(scp.port)
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.asyncio
async def test_xa_ct_and_rdsr_are_stored_indexed_linked_and_counted(
    scp: RunningScp, tmp_path: Path
) -> None:
    case_id = await start_case(scp)
    # Three ways to find the case: the XA carries the accession, the CT only procsuite's
    # Study Instance UID from the worklist, the dose report only the patient ID.
    xa = samples.image(sop.XA_IMAGE, modality="XA", accession="ACC0001")
    ct = samples.image(
        sop.CT_IMAGE, modality="CT", accession="", study_uid=study_uid_for_case(case_id)
    )
    dose = samples.rdsr(
        air_kerma_gy=3.2, dap_gy_m2=0.0045, fluoro_time_s=420, accession="", patient_id="MRN0001"
    )
    files = [
        samples.save(xa, tmp_path / "xa.dcm"),
        samples.save(ct, tmp_path / "ct.dcm", implicit=True),
        samples.save(dose, tmp_path / "rdsr.dcm"),
    ]
    with pytest.raises(GuardError, match="image received after the last cement injection"):
        await scp.cases.execute(
            case_id,
            c.RecordImagingCheck(
                at=scp.clock(),
                modality=ImagingModality.FLUOROSCOPY,
                result=ImagingResult.SATISFACTORY,
                signed_by="dr.rad",
            ),
            actor="dr.rad",
            source=Source.TUI,
        )

    await storescu(scp, *files)

    for ds in (xa, ct, dose):
        on_disk = scp.root / ds.StudyInstanceUID / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
        assert on_disk.is_file(), on_disk
    index = await rows(scp)
    assert {uid: (r.case_id, r.match_rule) for uid, r in index.items()} == {
        xa.SOPInstanceUID: (case_id, "accession"),
        ct.SOPInstanceUID: (case_id, "study_uid"),
        dose.SOPInstanceUID: (case_id, "patient_id"),
    }

    def linked() -> bool:
        case = scp.cases.get(case_id)
        return len(case.images) == 2 and case.dose is not None

    await eventually(linked, what="the images linked and the dose recorded")
    case = scp.cases.get(case_id)
    by_uid = {i.sop_instance_uid: i for i in case.images}
    assert set(by_uid) == {xa.SOPInstanceUID, ct.SOPInstanceUID}  # the SR is not an image
    assert by_uid[xa.SOPInstanceUID].step == "cement"
    assert by_uid[xa.SOPInstanceUID].modality == "XA"
    assert case.dose.air_kerma_mgy == pytest.approx(3200)
    assert case.dose.dap_gy_cm2 == pytest.approx(45.0)  # 0.0045 Gy·m² = 45 Gy·cm²
    assert case.dose.fluoro_time_s == pytest.approx(420)
    assert case.dose.source == "rdsr"

    alarms = await eventually(scp.drain_alarms, what="the 3 Gy dose alarm")
    raised = [a for a in alarms if isinstance(a, AlarmRaised)]
    assert [(a.kind, a.priority, a.case_id, a.room) for a in raised] == [
        ("dose_3gy", Priority.MEDIUM, case_id, "IR1")
    ]
    assert "3.20 Gy" in raised[0].message
    assert raised[0].latching

    # The image after the last injection lets the radiologist sign the imaging check.
    scp.clock.advance(60)
    await scp.cases.execute(
        case_id,
        c.RecordImagingCheck(
            at=scp.clock(),
            modality=ImagingModality.FLUOROSCOPY,
            result=ImagingResult.SATISFACTORY,
            signed_by="dr.rad",
        ),
        actor="dr.rad",
        source=Source.TUI,
    )


@pytest.mark.asyncio
async def test_a_substantial_dose_raises_the_srdl_alarm_and_a_skin_follow_up_task(
    scp: RunningScp, tmp_path: Path
) -> None:
    case_id = await start_case(scp)
    first = samples.rdsr(air_kerma_gy=3.4, dap_gy_m2=0.01, fluoro_time_s=900)
    await storescu(scp, samples.save(first, tmp_path / "first.dcm"))
    await eventually(lambda: scp.cases.get(case_id).dose, what="the first dose")
    early = [a for a in await eventually(scp.drain_alarms) if isinstance(a, AlarmRaised)]
    assert [a.kind for a in early] == ["dose_3gy"]

    # The modality's final report of the same study: cumulative, so it replaces the first.
    final = samples.rdsr(
        air_kerma_gy=5.3, dap_gy_m2=0.02, fluoro_time_s=1500, study_uid=first.StudyInstanceUID
    )
    scp.clock.advance(timedelta(minutes=5).total_seconds())
    await storescu(scp, samples.save(final, tmp_path / "final.dcm"))
    await eventually(
        lambda: scp.cases.get(case_id).dose.air_kerma_mgy > 5000, what="the final dose"
    )
    case = scp.cases.get(case_id)
    assert case.dose.air_kerma_mgy == pytest.approx(5300)  # replaced, not 3400 + 5300
    later = [a for a in await eventually(scp.drain_alarms) if isinstance(a, AlarmRaised)]
    # 4 Gy is passed on the way, but one report raises one alarm per kind of level.
    assert [(a.kind, a.priority, a.latching) for a in later] == [
        ("dose_srdl_5gy", Priority.HIGH, True)
    ]
    tasks = [n for n in scp.cases.get(case_id).notes if n.kind == "follow_up_task"]
    assert len(tasks) == 1
    assert "Skin follow-up" in tasks[0].text and "5.30 Gy" in tasks[0].text

    # The same report once more: stored once, no new alarm, no second task.
    await storescu(scp, tmp_path / "final.dcm")
    index = await rows(scp)
    assert len(index) == 2
    assert scp.drain_alarms() == []
    assert len([n for n in scp.cases.get(case_id).notes if n.kind == "follow_up_task"]) == 1


@pytest.mark.asyncio
async def test_compressed_images_are_kept_in_the_transfer_syntax_they_came_in(
    scp: RunningScp, tmp_path: Path
) -> None:
    plain = samples.save(samples.image(rows=128, columns=128), tmp_path / "plain.dcm")
    jpeg, rle = tmp_path / "jpeg.dcm", tmp_path / "rle.dcm"
    assert (await run_dcmtk("dcmcjpeg", "+e1", str(plain), str(jpeg))).returncode == 0
    assert (await run_dcmtk("dcmcrle", str(plain), str(rle))).returncode == 0
    sent = {}
    for path, syntax in ((jpeg, sop.JPEG_LOSSLESS_SV1), (rle, sop.RLE_LOSSLESS)):
        ds = dcmread(path)
        ds.SOPInstanceUID = generate_uid(prefix=None)  # two distinct instances
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(path, enforce_file_format=True)
        sent[ds.SOPInstanceUID] = syntax
    # Propose the compressed syntax first, as a modality that compresses does (-xs: JPEG
    # lossless, -xr: RLE); procsuite takes it and keeps the bytes as they came.
    for option, path in (("-xs", jpeg), ("-xr", rle)):
        result = await run_dcmtk(
            "storescu", option, "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1",
            str(scp.port), str(path),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    index = await rows(scp)
    assert {uid: r.transfer_syntax for uid, r in index.items()} == sent
    for row in index.values():
        stored = dcmread(scp.root / row.path)
        assert stored.file_meta.TransferSyntaxUID == sent[row.sop_instance_uid]


@pytest.mark.asyncio
async def test_a_truncated_compressed_image_is_refused(scp: RunningScp, tmp_path: Path) -> None:
    from adapters.dicom.instance import BrokenObject, read_instance

    plain = samples.save(samples.image(rows=128, columns=128), tmp_path / "plain.dcm")
    jpeg = tmp_path / "jpeg.dcm"
    assert (await run_dcmtk("dcmcjpeg", "+el", str(plain), str(jpeg))).returncode == 0
    ds = dcmread(jpeg)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(jpeg.read_bytes()[:-10])
    with pytest.raises(BrokenObject) as refused:
        read_instance(
            cut,
            sent_as_class=ds.SOPClassUID,
            sent_as_instance=ds.SOPInstanceUID,
            max_bytes=10**9,
        )
    assert refused.value.status == 0xC000


@pytest.mark.asyncio
async def test_without_a_dose_report_the_images_dose_attributes_are_added_up(
    scp: RunningScp, tmp_path: Path
) -> None:
    case_id = await start_case(scp)
    runs = [samples.image(dap_dgy_cm2=250.0, entrance_dose_mgy=1600) for _ in range(2)]
    files = [samples.save(ds, tmp_path / f"run{i}.dcm") for i, ds in enumerate(runs)]
    await storescu(scp, *files)
    dose = await eventually(lambda: scp.cases.get(case_id).dose, what="the image dose")
    assert (dose.air_kerma_mgy, dose.dap_gy_cm2, dose.source) == (3200, 50.0, "image")
    raised = [a for a in await eventually(scp.drain_alarms) if isinstance(a, AlarmRaised)]
    assert [a.kind for a in raised] == ["dose_3gy"]


def test_the_service_runs_the_dicom_adapter_when_enabled(tmp_path: Path) -> None:
    from procsuite.bootstrap import build_components
    from suite.app.case_service import CaseService
    from suite.app.context import ServiceContext
    from suite.bus import Bus
    from suite.clock import utc_now
    from suite.store.database import Database
    from tests.dicom.conftest import dicom_settings

    db = Database.from_url(f"sqlite:///{tmp_path / 'unused.db'}")  # never connected
    for enabled in (True, False):
        settings = dicom_settings(tmp_path, enabled=enabled)
        bus = Bus()
        cases = CaseService(db, bus, clock=utc_now)
        ctx = ServiceContext(settings=settings, db=db, bus=bus, cases=cases)
        names = [component.name for component in build_components(ctx)]
        assert ("dicom" in names) is enabled


async def raised(scp: RunningScp, n: int) -> list[AlarmRaised]:
    """The next `n` alarms raised (each may come in its own publication)."""
    got: list[AlarmRaised] = []

    def enough() -> bool:
        got.extend(a for a in scp.drain_alarms() if isinstance(a, AlarmRaised))
        return len(got) >= n

    await eventually(enough, what=f"{n} alarms raised")
    return got


@pytest.mark.asyncio
async def test_dap_and_fluoroscopy_time_notices_cross_each_level_once(
    scp: RunningScp, tmp_path: Path
) -> None:
    case_id = await start_case(scp)
    # 350 Gy·cm² and 31.7 min: past the first DAP and fluoroscopy levels, air kerma below 3 Gy.
    first = samples.rdsr(air_kerma_gy=1.0, dap_gy_m2=0.035, fluoro_time_s=1900)
    await storescu(scp, samples.save(first, tmp_path / "first.dcm"))
    await eventually(lambda: scp.cases.get(case_id).dose, what="the first dose")
    early = await raised(scp, 2)
    assert [(a.kind, a.priority, a.case_id, a.room) for a in early] == [
        ("dose_dap_300gycm2", Priority.MEDIUM, case_id, "IR1"),
        ("dose_fluoro_30min", Priority.MEDIUM, case_id, "IR1"),
    ]
    assert "kerma-area product (DAP) 350.0 Gy·cm² (level 300 Gy·cm²)" in early[0].message
    assert "fluoroscopy time 31.7 min (level 30 min)" in early[1].message

    # 520 Gy·cm² passes 400 and the DAP substantial level (500) at once: one SRDL notice.
    final = samples.rdsr(
        air_kerma_gy=1.2, dap_gy_m2=0.052, fluoro_time_s=2800, study_uid=first.StudyInstanceUID
    )
    scp.clock.advance(timedelta(minutes=5).total_seconds())
    await storescu(scp, samples.save(final, tmp_path / "final.dcm"))
    await eventually(lambda: scp.cases.get(case_id).dose.dap_gy_cm2 > 500, what="the final dose")
    later = await raised(scp, 2)
    assert [(a.kind, a.priority) for a in later] == [
        ("dose_dap_srdl_500gycm2", Priority.HIGH),
        ("dose_fluoro_45min", Priority.MEDIUM),
    ]
    # The skin follow-up task stays with the reference air kerma SRDL (not reached here).
    assert [n for n in scp.cases.get(case_id).notes if n.kind == "follow_up_task"] == []

    # Every level passed is recorded with its quantity, so none is announced twice (also
    # across a restart); the same report again announces nothing.
    stored = await dicom_dose.case_dose(scp.db, case_id)
    assert stored.announced_mgy == set()
    assert stored.announced_of(DoseQuantity.DAP) == {300.0, 400.0, 500.0}
    assert stored.announced_of(DoseQuantity.FLUORO_TIME) == {1800.0, 2700.0}
    await storescu(scp, tmp_path / "final.dcm")
    assert scp.drain_alarms() == []
