"""Issue 14 points 2 and 3 end to end through a running service: an apnea seen by the
capnograph of a monitor publishing over MQTT, and a DAP level passed by an RDSR sent with
dcmtk's storescu, both arrive on the alarms topic and in the room state the dashboard reads,
and are stored with the case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.dicom.component import DicomAdapter
from suite.store import alarms as alarm_store
from tests.dicom import samples
from tests.dicom.conftest import run_dcmtk
from tests.mqtt.conftest import FAST_ALARMS, Broker, pub, running, settings_for, watching
from tests.mqtt.test_end_to_end import open_case, vitals

pytestmark = pytest.mark.dcmtk

ROOT = "procsuite/t"
ALARMS = {**FAST_ALARMS, "capnography": {"apnea_s": 3}}


def alarm_in_state(kind: str) -> Any:
    def check(topic: str, body: Any) -> bool:
        return (
            topic == f"{ROOT}/rooms/IR1/state"
            and isinstance(body, dict)
            and any(a.get("kind") == kind for a in body.get("alarms", []))
        )

    return check


@pytest.mark.asyncio
async def test_an_apnea_and_a_dap_notice_reach_the_alarm_topic_the_room_state_and_the_store(
    broker: Broker, tmp_path: Path
) -> None:
    settings = settings_for(broker, tmp_path, alarms={"config": ALARMS})
    async with running(settings) as run, watching(broker) as watch:
        case_id = await open_case(run)
        topic = f"{ROOT}/rooms/IR1/vitals/mon-1"
        t0 = datetime.now(UTC)
        # Breathing, then no breath on the capnograph (EtCO2 0) past the 3 s apnea time.
        for seq, (dt, etco2) in enumerate([(0, 38), (1, 37), (2, 0), (3.5, 0), (5, 0)], 1):
            at = t0 + timedelta(seconds=dt)
            await pub(broker.port, topic, vitals(at, seq, etco2=etco2, rr=12, spo2=97))

        apnea = await watch.wait_for(
            lambda t, b: t == f"{ROOT}/alarms/IR1" and b.get("kind") == "apnea"
        )
        assert apnea["event"] == "raised" and apnea["priority"] == "high"
        assert apnea["case_id"] == case_id
        assert apnea["message"].startswith("Apnea: no breath detected by capnography")
        state = await watch.wait_for(alarm_in_state("apnea"))
        assert state["capnography"]["capnographs"] == ["mon-1"]

        # The x-ray unit's dose report: 350 Gy·cm² passes the first DAP level (300).
        dicom = next(c for c in run.ctx.components if isinstance(c, DicomAdapter))
        report = samples.rdsr(
            air_kerma_gy=0.5, dap_gy_m2=0.035, fluoro_time_s=300, accession="ACC-E2E"
        )
        path = samples.save(report, tmp_path / "rdsr.dcm")
        sent = await run_dcmtk(
            "storescu", "-aet", "FLUORO1", "-aec", settings.dicom.ae_title, "127.0.0.1",
            str(dicom.port), str(path),
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr

        dap = await watch.wait_for(
            lambda t, b: t == f"{ROOT}/alarms/IR1" and b.get("kind") == "dose_dap_300gycm2",
            within_s=20,
        )
        assert dap["event"] == "raised" and dap["priority"] == "medium"
        assert dap["case_id"] == case_id
        assert "kerma-area product (DAP) 350.0 Gy·cm²" in dap["message"]
        state = await watch.wait_for(alarm_in_state("dose_dap_300gycm2"))
        assert state["case"]["dose_next_level_dap_gy_cm2"] == 400
        assert state["case"]["dose_next_level_fluoro_s"] == 1800

        async with run.ctx.db.session() as s:
            stored = await alarm_store.list_alarms(s, case_id=case_id, include_cleared=True)
        kinds = {a.kind for a in stored}
        assert {"apnea", "dose_dap_300gycm2"} <= kinds
