"""The adapter's pure codecs on golden samples: RDSR, received instances, worklist matching,
MPPS facts, case matching and UIDs. No network, no event loop."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from adapters.dicom.instance import BrokenObject, read_instance
from adapters.dicom.matching import Identifiers, MatchRule, match_case
from adapters.dicom.mpps import read_mpps, timeline_text
from adapters.dicom.rdsr import RdsrError, parse_rdsr
from adapters.dicom.uids import is_valid_uid, study_uid_for_case
from adapters.dicom.worklist import (
    WorklistConfig,
    answer,
    matches,
    on_worklist,
    with_character_set,
    worklist_item,
)
from suite.domain import commands as c
from suite.domain.case import Case, replay
from suite.domain.workflow import decide
from tests.dicom import samples
from tests.scenarios import schedule

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def case(case_id: str = "k1", **kw: str) -> Case:
    built = replay(case_id, decide(None, schedule(T0, **kw), now=T0))
    assert built is not None
    return built


def _walk_nums(ds: Dataset) -> list[Dataset]:
    found = []
    for item in ds.get("ContentSequence", []):
        if item.ValueType == "NUM":
            found.append(item)
        found.extend(_walk_nums(item))
    return found


# ---- RDSR --------------------------------------------------------------------------------


def test_rdsr_totals_are_read_in_procsuite_units() -> None:
    totals = parse_rdsr(
        samples.rdsr(air_kerma_gy=3.2, dap_gy_m2=0.0045, fluoro_time_s=420), fallback_device="X"
    )
    assert totals is not None
    assert totals.air_kerma_mgy == pytest.approx(3200)  # Gy -> mGy
    assert totals.dap_gy_cm2 == pytest.approx(45)  # Gy·m² -> Gy·cm²
    assert totals.fluoro_time_s == pytest.approx(420)
    assert totals.device == "2.25.1234567890"  # the Device Observer UID
    assert totals.planes == 1


def test_a_biplane_rdsr_adds_its_planes_and_ignores_the_irradiation_events() -> None:
    ds = samples.rdsr(air_kerma_gy=2.0, dap_gy_m2=0.002, fluoro_time_s=600, planes=2)
    totals = parse_rdsr(ds, fallback_device="X")
    assert totals is not None and totals.planes == 2
    assert totals.air_kerma_mgy == pytest.approx(2000)
    assert totals.fluoro_time_s == pytest.approx(600)
    assert totals.scope_uid == ds.StudyInstanceUID


def test_without_the_totals_the_fluoro_and_acquisition_parts_are_added() -> None:
    ds = samples.rdsr(air_kerma_gy=1.0, dap_gy_m2=0.001, fluoro_time_s=60)
    accumulated = ds.ContentSequence[4]
    accumulated.ContentSequence = Sequence(
        [
            item
            for item in accumulated.ContentSequence
            if item.ConceptNameCodeSequence[0].CodeValue not in ("113722", "113725")
        ]
    )
    totals = parse_rdsr(ds, fallback_device="X")
    assert totals is not None
    assert totals.air_kerma_mgy == pytest.approx(1000)  # 0.6 + 0.4 of it
    assert totals.dap_gy_cm2 == pytest.approx(10)


def test_other_units_are_converted_and_unknown_ones_refused() -> None:
    ds = samples.rdsr(air_kerma_gy=1.0, dap_gy_m2=0.001, fluoro_time_s=60)
    for item in _walk_nums(ds):
        code = item.ConceptNameCodeSequence[0].CodeValue
        unit = item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0]
        if code == "113725":
            item.MeasuredValueSequence[0].NumericValue = "1500"
            unit.CodeValue = "mGy"
        if code == "113730":
            item.MeasuredValueSequence[0].NumericValue = "2"
            unit.CodeValue = "min"
    totals = parse_rdsr(ds, fallback_device="X")
    assert totals is not None
    assert (totals.air_kerma_mgy, totals.fluoro_time_s) == (pytest.approx(1500), pytest.approx(120))
    for item in _walk_nums(ds):
        if item.ConceptNameCodeSequence[0].CodeValue == "113722":
            item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue = "R.cm2"
    with pytest.raises(RdsrError, match=r"113722.*R\.cm2"):
        parse_rdsr(ds, fallback_device="X")


def test_a_ct_dose_report_gives_no_projection_totals_and_other_documents_are_refused() -> None:
    ds = samples.rdsr(air_kerma_gy=1.0, dap_gy_m2=0.001, fluoro_time_s=60)
    ds.ContentSequence = Sequence(ds.ContentSequence[:4])  # no Accumulated X-Ray Dose Data
    assert parse_rdsr(ds, fallback_device="X") is None
    ds.ConceptNameCodeSequence[0].CodeValue = "126000"  # an Imaging Report, not a dose report
    with pytest.raises(RdsrError, match="113701"):
        parse_rdsr(ds, fallback_device="X")


# ---- received instances -------------------------------------------------------------------


def _read(path: Path, ds: Dataset, **kw: object) -> object:
    return read_instance(
        path,
        sent_as_class=str(kw.get("sent_as_class", ds.SOPClassUID)),
        sent_as_instance=str(kw.get("sent_as_instance", ds.SOPInstanceUID)),
        max_bytes=int(kw.get("max_bytes", 10_000_000)),  # type: ignore[call-overload]
        fallback_device="FLUORO1",
    )


def test_an_image_gives_its_identity_where_it_belongs_and_its_dose(tmp_path: Path) -> None:
    ds = samples.image(dap_dgy_cm2=12.5, entrance_dose_mgy=40)
    request = Dataset()
    request.RequestedProcedureID = "k1"
    request.ScheduledProcedureStepID = "k1"
    request.AccessionNumber = "ACC0001"
    ds.RequestAttributesSequence = Sequence([request])
    ds.AccessionNumber = ""
    facts = _read(samples.save(ds, tmp_path / "i.dcm"), ds)
    assert facts.accession == "ACC0001"  # from the Request Attributes Sequence
    assert facts.procedure_ids == ("k1",)
    assert facts.image_dap_gy_cm2 == pytest.approx(1.25)  # dGy·cm² -> Gy·cm²
    assert facts.image_air_kerma_mgy == pytest.approx(40)
    assert facts.is_patient_image and not facts.is_dose_report
    assert facts.relative_path == (
        f"{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"
    )


@pytest.mark.parametrize(
    ("spoil", "status", "reason"),
    [
        (lambda ds: setattr(ds, "StudyInstanceUID", "../../etc"), 0xA900, "not a valid UID"),
        (lambda ds: delattr(ds, "SeriesInstanceUID"), 0xA900, "Series Instance UID"),
        (lambda ds: delattr(ds, "PixelData"), 0xA900, "without Pixel Data"),
        (lambda ds: setattr(ds, "ImageAndFluoroscopyAreaDoseProduct", None), None, ""),
    ],
)
def test_a_spoiled_object_is_refused_with_its_reason(
    tmp_path: Path, spoil: object, status: int | None, reason: str
) -> None:
    ds = samples.image(dap_dgy_cm2=3)
    path = samples.save(ds, tmp_path / "i.dcm")
    with warnings.catch_warnings():  # build the broken object a modality might send
        warnings.simplefilter("ignore", UserWarning)
        spoil(ds)  # type: ignore[operator]
        ds.save_as(path, enforce_file_format=True)
    if status is None:
        assert _read(path, ds).image_dap_gy_cm2 is None
        return
    with pytest.raises(BrokenObject) as refused:
        _read(path, ds)
    assert refused.value.status == status and reason in refused.value.reason


def test_truncated_and_oversized_objects_are_refused(tmp_path: Path) -> None:
    ds = samples.image(rows=64, columns=64)
    path = samples.save(ds, tmp_path / "i.dcm")
    size = path.stat().st_size
    with pytest.raises(BrokenObject) as too_big:
        _read(path, ds, max_bytes=size - 1)
    assert too_big.value.status == 0xA700
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(BrokenObject) as cut:
        _read(path, ds)
    assert cut.value.status == 0xC000 and "truncated" in cut.value.reason


def test_an_unusable_dose_report_is_kept_but_its_dose_is_not_used(tmp_path: Path) -> None:
    ds = samples.rdsr(air_kerma_gy=1, dap_gy_m2=0.001, fluoro_time_s=1)
    for item in _walk_nums(ds):
        item.MeasuredValueSequence[0].NumericValue = "-5"
    facts = _read(samples.save(ds, tmp_path / "sr.dcm"), ds)
    assert facts.rdsr is None and "negative value" in facts.dose_problem


# ---- worklist -----------------------------------------------------------------------------

CONFIG = WorklistConfig(
    stations={"IR1": "FLUORO1"},
    procedure_codes={"kyphoplasty": ("KYPHOPLASTY", "99PROCSUITE", "Kyphoplasty")},
    tz=UTC,
)


def _query(**step: str) -> Dataset:
    q = Dataset()
    q.PatientName = ""
    sps = Dataset()
    for key, value in step.items():
        setattr(sps, key, value)
    q.ScheduledProcedureStepSequence = Sequence([sps])
    return q


@pytest.mark.parametrize(
    ("date", "time", "hit"),
    [
        ("20261124-20261124", "0800-1000", True),  # scheduled 09:00
        ("20261124-20261124", "0930-1000", False),
        ("20261123-20261124", "1000-0900", True),  # from the 23rd 10:00 to the 24th 09:00:59
        ("20261123-20261124", "1000-0859", False),  # ... to the 24th 08:59:59
        ("20261124-", "0900-", True),
        ("-20261124", "-0859", False),
    ],
)
def test_the_scheduled_start_matches_as_one_date_time_range(
    date: str, time: str, hit: bool
) -> None:
    item = worklist_item(case(), CONFIG)
    q = _query(ScheduledProcedureStepStartDate=date, ScheduledProcedureStepStartTime=time)
    assert matches(q, item) is hit


def test_uid_lists_and_single_time_ranges_match() -> None:
    item = worklist_item(case(), CONFIG)
    q = Dataset()
    q.StudyInstanceUID = f"1.2.3\\{study_uid_for_case('k1')}"
    assert matches(q, item)
    q.StudyInstanceUID = "1.2.3\\1.2.4"
    assert not matches(q, item)
    assert matches(_query(ScheduledProcedureStepStartTime="0859-0901"), item)
    assert not matches(_query(ScheduledProcedureStepStartTime="0901-"), item)


def test_an_empty_sequence_key_returns_the_whole_sequence_and_nothing_else() -> None:
    item = worklist_item(case(), CONFIG)
    q = Dataset()
    q.ScheduledProcedureStepSequence = Sequence()
    q.AdmissionID = ""  # a key procsuite does not keep comes back empty
    out = answer(q, item)
    assert set(out.dir()) == {"ScheduledProcedureStepSequence", "AdmissionID"}
    assert out.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID == "k1"
    assert out.AdmissionID in ("", None)


def test_the_answer_declares_utf8_when_latin_1_cannot_carry_the_name() -> None:
    ds = Dataset()
    ds.PatientName = "ŁUKASZ^ŻÓŁW"
    assert with_character_set(ds, asked=["latin_1"]).SpecificCharacterSet == "ISO_IR 192"
    plain = Dataset()
    plain.PatientName = "TEST^ANNA"
    assert "SpecificCharacterSet" not in with_character_set(plain, asked=["latin_1"])


def test_items_leave_the_worklist_at_closure_cancellation_or_a_final_mpps() -> None:
    k = case()
    assert on_worklist(k, final_mpps=set())
    assert not on_worklist(k, final_mpps={"k1"})
    cancelled = k.apply(decide(k, c.CancelCase(at=T0, reason="ill"), now=T0)[0])
    assert not on_worklist(cancelled, final_mpps=set())


# ---- MPPS ---------------------------------------------------------------------------------


def test_mpps_dose_fields_are_read_in_procsuite_units() -> None:
    ds = samples.mpps_in_progress()
    ds.update(samples.mpps_completed(fluoro_time_s=312, dap_dgy_cm2=185, entrance_dose_mgy=640))
    facts = read_mpps(ds)
    assert (facts.status, facts.accession, facts.station_ae) == ("COMPLETED", "ACC0001", "FLUORO1")
    assert (facts.fluoro_time_s, facts.dap_gy_cm2, facts.air_kerma_mgy, facts.exposures) == (
        312, pytest.approx(18.5), pytest.approx(640), 35,
    )  # fmt: skip
    del ds.EntranceDoseInmGy
    ds.EntranceDose = 7  # dGy, the older attribute
    assert read_mpps(ds).air_kerma_mgy == pytest.approx(700)
    assert "COMPLETED on FLUORO1" in timeline_text(facts, mpps_uid="1.2", calling_ae="X")


# ---- matching and UIDs ----------------------------------------------------------------------


def test_cases_are_found_by_accession_then_study_then_step_then_patient() -> None:
    k1 = case("k1")
    k2 = case("k2", accession="ACC0002", mrn="MRN0002")
    cases = [k1, k2]
    assert match_case(
        Identifiers(accession="ACC0002", study_uid=study_uid_for_case("k1")), cases
    ) == (match_case(Identifiers(accession="ACC0002"), cases))
    found = match_case(Identifiers(accession="NOPE", study_uid=study_uid_for_case("k1")), cases)
    assert found is not None and (found.case_id, found.rule) == ("k1", MatchRule.STUDY_UID)
    found = match_case(Identifiers(procedure_ids=("k2",)), cases)
    assert found is not None and (found.case_id, found.rule) == ("k2", MatchRule.PROCEDURE_ID)
    found = match_case(Identifiers(patient_id="MRN0002"), cases)
    assert found is not None and (found.case_id, found.rule) == ("k2", MatchRule.PATIENT_ID)


def test_a_patient_id_alone_decides_only_for_exactly_one_open_case() -> None:
    k1 = case("k1")
    again = case("k9", accession="ACC0009")  # the same patient, a second open case
    assert match_case(Identifiers(patient_id="MRN0001"), [k1, again]) is None
    closed = again.apply(decide(again, c.CancelCase(at=T0, reason="moved"), now=T0)[0])
    found = match_case(Identifiers(patient_id="MRN0001"), [k1, closed])
    assert found is not None and found.case_id == "k1"
    assert match_case(Identifiers(patient_id="MRN0001"), [closed]) is None


def test_study_uids_are_valid_stable_and_distinct_per_case() -> None:
    assert study_uid_for_case("k1") == study_uid_for_case("k1")
    assert study_uid_for_case("k1") != study_uid_for_case("k2")
    assert is_valid_uid(study_uid_for_case("k1")) and study_uid_for_case("k1").startswith("2.25.")
    assert not is_valid_uid("1.02.3") and not is_valid_uid("../x") and not is_valid_uid("1" * 65)
    assert T0 + timedelta(0) == T0
