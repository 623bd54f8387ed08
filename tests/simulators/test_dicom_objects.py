"""The fluoroscopy unit's objects are valid DICOM (dcmtk, dicom3tools) and agree on the dose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from simulators.dicom_objects import Equipment, StudyContext, mpps_create, mpps_set, xa_image
from simulators.fluoro_dose import DoseLedger, Technique, View, acquisition, fluoroscopy
from simulators.rdsr import dose_report
from simulators.worklist import WorklistItem
from tests.simulators.conftest import dcmtk, run_tool

pytestmark = pytest.mark.dcmtk
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def item(name: str = "Müller^Anna") -> WorklistItem:
    return WorklistItem(
        patient_name=name, patient_id="MRN0001", birth_date="19440130", sex="F",
        accession="ACC26112401001", study_uid=generate_uid(), requested_procedure_id="case-7",
        requested_procedure_description="Kyphoplasty T12, L1", sps_id="case-7",
        sps_description="Kyphoplasty T12, L1", sps_start=T0, station_ae="FLUORO1",
        station_name="IR1", location="IR1", modality="XA", referring_physician="House^Gregory",
        performing_physician="Jones^Amy", procedure_code=("KYPHOPLASTY", "99PROCSUITE", "Percutaneous balloon kyphoplasty"),
    )  # fmt: skip


def procedure(
    tmp_path: Path, name: str = "Müller^Anna"
) -> tuple[StudyContext, DoseLedger, list[Path]]:
    """A whole kyphoplasty's objects written to files, as the unit would send them."""
    ctx = StudyContext(
        item=item(name),
        equipment=Equipment(),
        started_at=T0,
        zone=UTC,
        location="IR1",
        operator="Tech^Tom",
    )
    ledger = DoseLedger()
    t = Technique()
    steps = [("survey", "T12", View.AP, 10.0), ("trocar", "T12", View.AP, 30.0), ("trocar", "T12", View.LATERAL, 24.0),
             ("balloon", "T12", View.LATERAL, 15.0), ("cement", "T12", View.LATERAL, 40.0), ("cement", "L1", View.LATERAL, None),
             ("check", "L1", View.AP, None)]  # fmt: skip
    paths = []
    at = T0
    for n, (phase, level, view, seconds) in enumerate(steps, start=1):
        at += timedelta(minutes=3)
        if seconds is None:
            event = ledger.add(
                acquisition(
                    t,
                    uid=generate_uid(),
                    started_at=at,
                    view=view,
                    protocol=f"{phase} {level}",
                    level=level,
                )
            )
        else:
            event = ledger.add(fluoroscopy(t, uid=generate_uid(), started_at=at, duration_s=seconds, view=view, protocol=f"{phase} {level}", level=level))  # fmt: skip
        ds = xa_image(ctx, event, step=phase, instance_number=n, pixel_seed=n)
        paths.append(tmp_path / f"xa{n}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    report = dose_report(ctx, ledger, at=at + timedelta(minutes=1))
    paths.append(tmp_path / "rdsr.dcm")
    report.save_as(paths[-1], enforce_file_format=True)
    return ctx, ledger, paths


Built = tuple[StudyContext, DoseLedger, list[Path]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One kyphoplasty's objects, built once for the read-only checks below."""
    return procedure(tmp_path_factory.mktemp("objects"))


def test_every_object_reads_in_dcmdump_without_a_warning(built: Built) -> None:
    _ctx, _ledger, paths = built
    for path in paths:
        done = run_tool(dcmtk("dcmdump"), "+U8", str(path))  # +U8: values shown in UTF-8
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", f"{path.name}: {done.stderr}"
        assert "Müller^Anna" in done.stdout  # ISO_IR 100 decoded correctly


def test_non_latin_names_are_sent_in_utf8_and_still_read_cleanly(tmp_path: Path) -> None:
    _ctx, _ledger, paths = procedure(tmp_path, name="Иванова^Мария")
    ds = pydicom.dcmread(paths[0])
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "Иванова^Мария"
    done = run_tool(dcmtk("dcmdump"), "+U8", str(paths[0]))
    assert done.returncode == 0 and done.stderr == ""
    assert "Иванова^Мария" in done.stdout


def test_objects_pass_the_iod_validator(built: Built, dciodvfy: str) -> None:
    _ctx, _ledger, paths = built
    for path in paths:
        done = run_tool(dciodvfy, str(path))
        report = [
            line
            for line in (done.stdout + done.stderr).splitlines()
            if line.startswith(("Error", "Warning"))
        ]
        assert report == [], f"{path.name}:\n" + "\n".join(report)


def test_the_dose_report_reads_as_a_projection_xray_dose_sr(built: Built) -> None:
    _ctx, ledger, paths = built
    done = run_tool(dcmtk("dsrdump"), str(paths[-1]))
    assert done.returncode == 0
    assert done.stderr == "", done.stderr
    out = done.stdout
    assert "X-Ray Radiation Dose SR Document" in out
    assert '"Procedure reported")=(113704,DCM,"Projection X-Ray")' in out
    assert out.count('"Irradiation Event X-Ray Data"') == len(ledger.events)
    for concept in (
        "Dose Area Product Total",
        "Dose (RP) Total",
        "Fluoro Dose Area Product Total",
        "Total Fluoro Time",
    ):
        assert f'"{concept}")=' in out


def _num(container: Dataset, code: str) -> float:
    for child in container.ContentSequence:
        if child.ValueType == "NUM" and child.ConceptNameCodeSequence[0].CodeValue == code:
            return float(child.MeasuredValueSequence[0].NumericValue)
    raise AssertionError(f"no NUM {code}")


def test_totals_agree_between_images_rdsr_and_mpps(built: Built) -> None:
    ctx, ledger, paths = built
    images = [pydicom.dcmread(p) for p in paths[:-1]]
    report = pydicom.dcmread(paths[-1])
    accumulated = next(
        c for c in report.ContentSequence if c.ConceptNameCodeSequence[0].CodeValue == "113702"
    )
    events = [
        c for c in report.ContentSequence if c.ConceptNameCodeSequence[0].CodeValue == "113706"
    ]
    image_dap_gycm2 = (
        sum(float(i.ImageAndFluoroscopyAreaDoseProduct) for i in images) / 10
    )  # dGy.cm2
    rdsr_dap_gycm2 = _num(accumulated, "113722") * 10_000
    event_dap_gycm2 = sum(_num(e, "122130") for e in events) * 10_000
    assert rdsr_dap_gycm2 == pytest.approx(image_dap_gycm2, rel=1e-4)
    assert event_dap_gycm2 == pytest.approx(rdsr_dap_gycm2, rel=1e-4)
    assert _num(accumulated, "113722") == pytest.approx(
        _num(accumulated, "113726") + _num(accumulated, "113727"), rel=1e-4
    )
    assert _num(accumulated, "113730") == pytest.approx(10 + 30 + 24 + 15 + 40)
    final = mpps_set(ctx, ledger, ended_at=T0 + timedelta(hours=1))
    assert float(final.ImageAndFluoroscopyAreaDoseProduct) / 10 == pytest.approx(
        rdsr_dap_gycm2, rel=1e-4
    )
    assert float(final.EntranceDoseInmGy) == pytest.approx(
        _num(accumulated, "113725") * 1000, rel=1e-4
    )
    assert final.TotalTimeOfFluoroscopy == 119
    assert final.TotalNumberOfExposures == 2
    # every image names an irradiation event the report lists
    event_uids = {c.UID for e in events for c in e.ContentSequence if c.ValueType == "UIDREF"}
    assert {str(i.IrradiationEventUID) for i in images} == event_uids


def test_images_are_linked_to_the_worklist_item_and_the_procedure_step(built: Built) -> None:
    ctx, _ledger, paths = built
    for path in paths:
        ds = pydicom.dcmread(path)
        assert ds.StudyInstanceUID == ctx.item.study_uid
        assert ds.AccessionNumber == "ACC26112401001"
        assert ds.PatientID == "MRN0001"
        assert (
            ds.ReferencedPerformedProcedureStepSequence[0].ReferencedSOPInstanceUID == ctx.pps_uid
        )
    image = pydicom.dcmread(paths[1])
    assert image.RequestAttributesSequence[0].ScheduledProcedureStepID == "case-7"
    create = mpps_create(ctx)
    assert create.ScheduledStepAttributesSequence[0].StudyInstanceUID == ctx.item.study_uid
    assert create.PerformedProcedureStepStatus == "IN PROGRESS"
    final = mpps_set(ctx, DoseLedger(), ended_at=T0)
    referenced = {
        r.ReferencedSOPInstanceUID
        for s in final.PerformedSeriesSequence
        for r in s.ReferencedImageSequence
    }
    assert referenced == {pydicom.dcmread(p).SOPInstanceUID for p in paths[:-1]}


def test_images_have_real_pixels_showing_what_the_step_put_in_the_vertebra(built: Built) -> None:
    _ctx, _ledger, paths = built
    survey, cement = pydicom.dcmread(paths[0]), pydicom.dcmread(paths[4])
    assert (survey.Rows, survey.Columns, survey.BitsStored) == (512, 512, 12)
    raw_s, raw_c = survey.PixelData, cement.PixelData
    assert len(raw_s) == 512 * 512 * 2

    def pixel(raw: bytes, x: int, y: int) -> int:
        i = (y * 512 + x) * 2
        return raw[i] | raw[i + 1] << 8

    assert (
        len({pixel(raw_s, x, 256) for x in range(512)}) > 50
    )  # anatomy and noise, not a flat image
    centre_s = sum(pixel(raw_s, x, y) for x in range(215, 255) for y in range(246, 266))
    centre_c = sum(pixel(raw_c, x, y) for x in range(215, 255) for y in range(246, 266))
    assert centre_c > centre_s * 1.2  # radiopaque cement in the treated body
    assert (
        max(pixel(raw_c, x, y) for x in range(512) for y in (200,)) == 4095
    )  # the trocar is metal


def test_a_dose_scale_multiplies_every_dose_but_not_the_time() -> None:
    base, heavy = Technique(), Technique().scaled(100)
    kw = {
        "uid": "1.2.3",
        "started_at": T0,
        "duration_s": 60.0,
        "view": View.AP,
        "protocol": "Cement L1",
    }
    a, b = fluoroscopy(base, **kw), fluoroscopy(heavy, **kw)  # type: ignore[arg-type]
    assert b.dap_gym2 == pytest.approx(100 * a.dap_gym2) and b.kerma_gy == pytest.approx(
        100 * a.kerma_gy
    )
    assert b.duration_s == a.duration_s and b.kvp == a.kvp
    with pytest.raises(ValueError, match="dose scale must be > 0"):
        Technique().scaled(0)
