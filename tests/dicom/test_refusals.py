"""What the SCP refuses, and that it keeps serving after each refusal."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, _config
from sqlmodel import select

from adapters.dicom import sop
from suite.app.case_service import CaseService
from suite.store.database import Database
from suite.store.dicom import DicomInstanceRow
from tests.conftest import FakeClock
from tests.dicom import samples
from tests.dicom.conftest import (
    AE_TITLE,
    MODALITY_AE,
    RunningScp,
    dicom_settings,
    run_dcmtk,
    running_scp,
)

pytestmark = pytest.mark.dcmtk

MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"


async def echo_works(port: int, calling: str = MODALITY_AE) -> bool:
    result = await run_dcmtk("echoscu", "-aet", calling, "-aec", AE_TITLE, "127.0.0.1", str(port))
    return result.returncode == 0


def _send_files(port: int, paths: list[Path], calling: str) -> list[tuple[int, str]]:
    """C-STORE the files' raw bytes as they are (pynetdicom chunked send: no re-encoding, so
    a broken file reaches the SCP broken). Returns (status, error comment) per file."""
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(sop.XA_IMAGE, [sop.EXPLICIT_LE])
    ae.add_requested_context(sop.CT_IMAGE, [sop.EXPLICIT_LE])
    assoc = ae.associate("127.0.0.1", port, ae_title=AE_TITLE)
    assert assoc.is_established
    answers = []
    try:
        for path in paths:
            rsp = assoc.send_c_store(path)
            answers.append((int(rsp.Status), str(rsp.get("ErrorComment", ""))))
        assert assoc.is_established, "the SCP dropped the association"
    finally:
        assoc.release()
    return answers


async def send_files(
    port: int, paths: list[Path], monkeypatch: pytest.MonkeyPatch, calling: str = MODALITY_AE
) -> list[tuple[int, str]]:
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    return await asyncio.to_thread(_send_files, port, paths, calling)


def _file_with(ds: Dataset, path: Path, *, meta_class: str, meta_instance: str) -> Path:
    """A file whose File Meta names `meta_class` / `meta_instance` whatever the data set says."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = meta_class
    meta.MediaStorageSOPInstanceUID = meta_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    ds.save_as(path, enforce_file_format=False, implicit_vr=False, little_endian=True)
    return path


@pytest.mark.asyncio
async def test_callers_not_configured_are_rejected_at_association(
    cases: CaseService, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    settings = dicom_settings(
        tmp_path, allowed_callers={MODALITY_AE: "127.0.0.1", "FLUORO2": "10.99.99.99"}
    )
    async with running_scp(cases, database, clock, settings) as scp:
        for calling in ("INTRUDER", "FLUORO2"):  # unknown title; known title, wrong host
            result = await run_dcmtk(
                "echoscu", "-aet", calling, "-aec", AE_TITLE, "127.0.0.1", str(scp.port)
            )
            assert result.returncode != 0
            said = (result.stdout + result.stderr).lower()
            assert "rejected permanent" in said and "calling ae title not recognized" in said
        assert await echo_works(scp.port)
        assert scp.adapter.counters()["associations_rejected"] == 2


@pytest.mark.asyncio
async def test_a_wrong_called_ae_title_is_rejected(scp: RunningScp) -> None:
    result = await run_dcmtk(
        "echoscu", "-aet", MODALITY_AE, "-aec", "SOMEONE", "127.0.0.1", str(scp.port)
    )
    assert result.returncode != 0
    assert "called ae title not recognized" in (result.stdout + result.stderr).lower()
    assert await echo_works(scp.port)


@pytest.mark.asyncio
async def test_an_unknown_sop_class_is_refused_at_negotiation(
    scp: RunningScp, tmp_path: Path
) -> None:
    mr = samples.save(samples.image(MR_IMAGE, modality="MR"), tmp_path / "mr.dcm")
    result = await run_dcmtk(
        "storescu", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1", str(scp.port), str(mr)
    )
    said = (result.stdout + result.stderr).lower()
    assert "no presentation context" in said or "no acceptable presentation contexts" in said
    assert not any(scp.root.rglob("*.dcm"))
    assert await echo_works(scp.port)


@pytest.mark.asyncio
async def test_broken_objects_get_a_failure_status_and_the_association_goes_on(
    scp: RunningScp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_ds = samples.image()
    good = samples.save(good_ds, tmp_path / "good.dcm")

    ct_as_xa = samples.image(sop.CT_IMAGE, modality="CT")
    wrong_class = _file_with(
        ct_as_xa,
        tmp_path / "wrong.dcm",
        meta_class=sop.XA_IMAGE,
        meta_instance=ct_as_xa.SOPInstanceUID,
    )
    no_uid = samples.image()
    uid = no_uid.SOPInstanceUID
    del no_uid.SOPInstanceUID
    missing_uid = _file_with(
        no_uid, tmp_path / "nouid.dcm", meta_class=sop.XA_IMAGE, meta_instance=uid
    )

    whole = samples.save(samples.image(rows=128, columns=128), tmp_path / "whole.dcm")
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(whole.read_bytes()[:-5000])

    garbage = tmp_path / "garbage.dcm"
    header = samples.save(samples.image(), tmp_path / "header.dcm").read_bytes()
    meta_end = header.index(b"\x08\x00\x16\x00")  # first data set element (0008,0016)
    garbage.write_bytes(header[:meta_end] + os.urandom(3000))

    answers = await send_files(
        scp.port, [wrong_class, missing_uid, truncated, garbage, good], monkeypatch
    )
    assert answers[0][0] == 0xA900 and "CT Image Storage" in answers[0][1]
    assert answers[1][0] == 0xA900 and "SOP Instance UID" in answers[1][1]
    assert answers[2][0] == 0xC000 and "truncated" in answers[2][1]
    assert answers[3][0] in (0xC000, 0xA900)
    assert answers[4] == (0x0000, "")

    async with scp.db.session() as session:
        stored = list(await session.exec(select(DicomInstanceRow)))
    assert [r.sop_instance_uid for r in stored] == [good_ds.SOPInstanceUID]
    assert len(list(scp.root.rglob("*.dcm"))) == 1
    assert scp.adapter.counters()["objects_refused"] == 4
    assert await echo_works(scp.port)


@pytest.mark.asyncio
async def test_an_object_larger_than_allowed_is_refused_for_lack_of_resources(
    cases: CaseService, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    settings = dicom_settings(tmp_path, max_object_mb=0.01)  # about 10 kB
    async with running_scp(cases, database, clock, settings) as scp:
        big = samples.save(samples.image(rows=128, columns=128), tmp_path / "big.dcm")  # 32 kB
        small_ds = samples.image(rows=16, columns=16)
        small = samples.save(small_ds, tmp_path / "small.dcm")
        result = await run_dcmtk(
            "storescu", "-v", "--no-halt", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1",
            str(scp.port), str(big), str(small),
        )  # fmt: skip
        said = (result.stdout + result.stderr).lower()
        assert "received store response (refused: outofresources)" in said
        assert "received store response (success)" in said  # the next one is fine
        assert [p.name for p in scp.root.rglob("*.dcm")] == [f"{small_ds.SOPInstanceUID}.dcm"]


@pytest.mark.asyncio
async def test_a_repeated_instance_is_stored_once(scp: RunningScp, tmp_path: Path) -> None:
    first = samples.image()
    path = samples.save(first, tmp_path / "first.dcm")
    again_other_series = samples.image(sop_uid=first.SOPInstanceUID)
    other = samples.save(again_other_series, tmp_path / "other.dcm")
    for files in ([path], [path], [other]):
        result = await run_dcmtk(
            "storescu", "-v", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1",
            str(scp.port), *map(str, files),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "received store response (success)" in (result.stdout + result.stderr).lower()
    async with scp.db.session() as session:
        stored = list(await session.exec(select(DicomInstanceRow)))
    assert len(stored) == 1
    files_on_disk = list(scp.root.rglob("*.dcm"))
    assert [f.parent.name for f in files_on_disk] == [first.SeriesInstanceUID]
    assert files_on_disk[0].read_bytes()[-100:] == path.read_bytes()[-100:]
    assert scp.adapter.counters()["duplicates"] == 2
    assert await echo_works(scp.port)
