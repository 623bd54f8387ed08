"""DICOM over TLS (PS3.15 Annex B), both ways, against dcmtk: the listener with its server
certificate and, when asked, client certificates; the forward to a PACS (dcmtk's storescp
with +tls) verifying the PACS's certificate. Each refusal is followed by a good caller."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from sqlmodel import select

from suite.app.case_service import CaseService
from suite.settings import SettingsError, load_settings
from suite.store.database import Database
from suite.store.dicom import DicomInstanceRow
from tests.conftest import FakeClock
from tests.dicom import samples
from tests.dicom.conftest import (
    AE_TITLE,
    MODALITY_AE,
    dicom_settings,
    eventually,
    run_dcmtk,
    running_scp,
)
from tests.hl7.test_tls import make_cert
from tests.peers import free_port, wait_port

pytestmark = pytest.mark.timeout(120)


def tls_args(key: Path, cert: Path, trust: Path) -> list[str]:
    return ["+tls", str(key), str(cert), "+cf", str(trust)]


@pytest.mark.asyncio
async def test_the_listener_speaks_tls_only_and_can_require_a_client_certificate(
    cases: CaseService, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    server_cert, server_key = make_cert(tmp_path, "procsuite")
    modality_cert, modality_key = make_cert(tmp_path, "modality")
    intruder_cert, intruder_key = make_cert(tmp_path, "intruder")
    settings = dicom_settings(
        tmp_path, tls_cert_file=server_cert, tls_key_file=server_key,
        tls_client_ca_file=modality_cert,
    )  # fmt: skip
    async with running_scp(cases, database, clock, settings) as scp:
        where = ["-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1", str(scp.port)]
        good = tls_args(modality_key, modality_cert, server_cert)

        async def echo(*options: str) -> int:
            return (await run_dcmtk("echoscu", *options, *where, timeout_s=30)).returncode

        assert await echo(*good) == 0
        image = samples.save(samples.image(), tmp_path / "xa.dcm")
        stored = await run_dcmtk("storescu", "-v", *good, *where, str(image), timeout_s=30)
        assert "Received Store Response (Success)" in stored.stdout + stored.stderr

        async with database.session() as session:
            rows = list(await session.exec(select(DicomInstanceRow)))
        assert [r.sop_instance_uid for r in rows] == [dcmread(image).SOPInstanceUID]

        # Refused: plain DICOM; TLS without a client certificate; a certificate the site's
        # CA did not sign. After each, the modality still gets through.
        assert await echo() != 0
        assert await echo(*good) == 0
        assert await echo("+tla", "+cf", str(server_cert)) != 0
        assert await echo(*good) == 0
        assert await echo(*tls_args(intruder_key, intruder_cert, server_cert)) != 0
        assert await echo(*good) == 0


def test_a_missing_certificate_file_or_a_lone_key_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PROCSUITE_DICOM__TLS_CERT_FILE .*is not a file"):
        load_settings(dicom={"tls_cert_file": tmp_path / "nope.pem", "tls_key_file": tmp_path})
    cert, _key = make_cert(tmp_path, "x")
    with pytest.raises(SettingsError, match="tls_cert_file and tls_key_file go together"):
        load_settings(dicom={"tls_cert_file": cert})


@pytest.mark.asyncio
async def test_instances_are_forwarded_to_a_pacs_over_tls(
    cases: CaseService, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    pacs_cert, pacs_key = make_cert(tmp_path, "pacs")
    pacs_port = free_port()
    received = tmp_path / "pacs"
    received.mkdir()
    pacs = subprocess.Popen(  # noqa: ASYNC220  (the PACS runs beside the test)
        ["/usr/bin/storescp", "-aet", "PACS", "-od", str(received), "+tls", str(pacs_key),
         str(pacs_cert), "-ic", str(pacs_port)],
        env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(pacs_port, proc=pacs)
        settings = dicom_settings(
            tmp_path, forward_host="127.0.0.1", forward_port=pacs_port, forward_tls=True,
            forward_tls_ca_file=pacs_cert,
        )  # fmt: skip
        async with running_scp(cases, database, clock, settings) as scp:
            image = samples.save(samples.image(), tmp_path / "xa.dcm")
            result = await run_dcmtk(
                "storescu", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1", str(scp.port),
                str(image),
            )  # fmt: skip
            assert result.returncode == 0, result.stderr

            async def arrived() -> bool:
                return any(received.iterdir())

            await eventually(arrived, what="the instance at the PACS")
            [got] = list(received.iterdir())
            assert dcmread(got).SOPInstanceUID == dcmread(image).SOPInstanceUID
    finally:
        pacs.terminate()
        pacs.wait(10)
