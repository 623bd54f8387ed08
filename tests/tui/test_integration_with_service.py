"""The IT view with the real service: a hospital receiver that refuses our ORM (AE) puts it
in quarantine, a modality sends an image nobody ordered; both reach IT's terminal through
the service status on MQTT (real mosquitto, real MLLP peer, dcmtk's storescu)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from adapters.dicom.component import DicomAdapter
from adapters.hl7.listener import Hl7Listener
from suite.domain.commands import CheckIn
from suite.domain.envelope import Source
from tests.dicom import samples
from tests.dicom.conftest import AE_TITLE, MODALITY_AE, run_dcmtk
from tests.hl7 import samples as hl7_samples
from tests.hl7.conftest import msa, send
from tests.hl7.receiver import Receiver
from tests.peers import free_port
from tests.tui.conftest import screen_text, shows, until, words
from tests.tui.running_service import SITE, mosquitto, running, service_settings, terminal
from tui.app import SuiteApp
from tui.views import ServiceStatus
from tui.wire import decode_service_status

pytestmark = pytest.mark.mosquitto


@pytest.mark.asyncio
async def test_it_sees_a_quarantined_hl7_message_and_an_unmatched_image(tmp_path: Path) -> None:
    receiver = Receiver(free_port(), answer="AE")
    await receiver.start()
    try:
        with mosquitto() as broker:
            settings = service_settings(
                broker,
                tmp_path,
                hl7_port=free_port(),
                dicom_port=free_port(),
                hl7={"enabled": True, "outbound_host": "127.0.0.1",
                     "outbound_port": receiver.port},
                dicom={"enabled": True},
                mqtt={"status_interval_s": 0.3},
            )  # fmt: skip
            async with running(settings) as service:
                assert service.ctx is not None
                cases = service.ctx.cases
                for component in service.ctx.components:
                    if isinstance(component, Hl7Listener | DicomAdapter):
                        async with asyncio.timeout(15):
                            await component.ready.wait()
                [ack] = await send(settings.hl7_port, hl7_samples.orm(accession="ACC0420"))
                assert msa(ack)[0] == "AA"
                case = cases.by_accession("ACC0420")
                assert case is not None
                # Checking in sends the order's status to the hospital, which refuses it.
                await cases.execute(
                    case.case_id, CheckIn(at=service.clock()), actor="tech1", source=Source.TUI
                )
                stray = samples.image(patient_id="WALKIN-9", accession="ACC-NOPE")
                path = samples.save(stray, tmp_path / "stray.dcm")
                stored = await run_dcmtk(
                    "storescu", "-aet", MODALITY_AE, "-aec", AE_TITLE, "127.0.0.1",
                    str(settings.dicom_port), str(path),
                )  # fmt: skip
                assert stored.returncode == 0, stored.stderr

                # The status on the wire, read back with the dashboard's own decoder.
                status = await status_with(broker.url, stray.SOPInstanceUID)
                hl7, dicom = status.data["hl7"], status.data["dicom"]
                [quarantined] = hl7["quarantine"]
                assert quarantined["case_id"] == case.case_id
                assert quarantined["type"].startswith("ORM")
                assert quarantined["reason"].startswith("AE")
                assert hl7["outbox"]["quarantined"] == 1 and hl7["outbox"]["pending"] == 0
                assert [m["ack"] for m in hl7["inbound"]["recent"]] == ["AA"]
                assert hl7["outage"] == {"down": False}
                [image] = dicom["unmatched"]
                assert (image["patient_id"], image["accession"]) == ("WALKIN-9", "ACC-NOPE")
                assert dicom["instances"]["unmatched"] == 1
                assert dicom["associations"]["active"] == 0
                [assoc] = dicom["associations"]["recent"]  # storescu's, closed
                assert assoc["calling_ae"] == MODALITY_AE and assoc["asked"] == {"C-STORE": 1}
                assert assoc["outcome"] == "released" and assoc["refused"] == {}
                assert assoc["stored"] == [
                    {"sop_instance_uid": str(stray.SOPInstanceUID),
                     "sop_class": "X-Ray Angiographic Image Storage", "status": "success"}
                ]  # fmt: skip
                assert assoc["queried"] == {}
                assert dicom["forward_queue"] == 0
                [out] = hl7["outbox"]["recent"]  # the refused ORM, with its raw text and ACK
                assert out["raw"].startswith("MSH|") and "MSA|AE" in out["ack_raw"]

                async with terminal(broker, "tech1", size=(160, 100)) as (app, pilot):
                    await pilot.press("i")
                    await shows(pilot, "Integration (IT)")
                    await until(
                        pilot,
                        lambda: "quarantined: AE" in shown(app),
                        what="the quarantined message in the IT view",
                    )
                    text = shown(app)
                    row = next(line for line in text.splitlines() if "quarantined: AE" in line)
                    assert f" OUT  {quarantined['id']} " in row and "ORM" in row and " AE " in row
                    image = next(line for line in text.splitlines() if "WALKIN-9" in line)
                    assert "ACC-NOPE" in image and str(stray.SOPInstanceUID) in image
                    assert "1 with a problem" in words(text)
                    assoc_row = next(line for line in text.splitlines() if MODALITY_AE in line)
                    assert "RELEASED" in assoc_row and "C-STORE 1" in assoc_row
                    # The association opens into its detail: who, from where, what was
                    # stored with the status answered, how it ended.
                    for _ in range(4):
                        if app.focused is not None and app.focused.id == "assoc":
                            break
                        await pilot.press("tab")
                    assert app.focused is not None and app.focused.id == "assoc"
                    await pilot.press("enter")
                    detail = words(await shows(pilot, f"association from {MODALITY_AE}"))
                    assert f"calling AE {MODALITY_AE} from 127.0.0.1:" in detail
                    assert "result RELEASED" in detail and "asked: C-STORE 1" in detail
                    assert "Stored (1)" in detail and "(no queries)" in detail
                    assert (
                        f"{stray.SOPInstanceUID} X-Ray Angiographic Image Storage success" in detail
                    )
                    await pilot.press("escape")
                    await shows(pilot, "Integration (IT)")
                    # The problems filter leaves out the released association.
                    await pilot.press("f")
                    text = words(await shows(pilot, "showing problems (0; 0 with a problem)"))
                    assert MODALITY_AE not in text
    finally:
        await receiver.stop()


def shown(app: SuiteApp) -> str:
    app.redraw()
    return screen_text(app)


async def status_with(url: str, sop_instance_uid: str) -> ServiceStatus:
    """The first service status whose unmatched images include `sop_instance_uid`."""
    host, port = url.removeprefix("mqtt://").split(":")
    async with (
        asyncio.timeout(15),
        aiomqtt.Client(host, int(port), identifier="it-probe") as client,
    ):
        await client.subscribe(f"procsuite/{SITE}/status", qos=1)
        async for message in client.messages:
            status = decode_service_status(bytes(message.payload))  # type: ignore[arg-type]
            dicom = status.data.get("dicom") or {}
            hl7 = status.data.get("hl7") or {}
            if any(
                i["sop_instance_uid"] == sop_instance_uid for i in dicom.get("unmatched", [])
            ) and hl7.get("quarantine"):
                return status
    raise AssertionError("no status")  # pragma: no cover
