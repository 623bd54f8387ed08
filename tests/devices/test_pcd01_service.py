"""PCD-01 end to end: python-hl7's MLLP client sends ORU^R01 in both sub-id styles and units;
samples are stored with the room's case; a low SpO2 raises the same alarm as the MQTT path;
malformed messages get AE / AR with ERR and the listener goes on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.mqtt.ingest import Ingest
from simulators.pcd01_gateway import encode_oru
from suite.domain.alarms.parameters import Param
from suite.store import devices as device_store
from suite.store import vitals as vitals_store
from tests.devices.conftest import (
    device_settings,
    errs,
    eventually,
    listener,
    msa,
    open_case,
    send_all,
    serving,
)


def oru(at: datetime, control_id: str, *, style: str, location: str = "IR^IR1^1", **values):
    return encode_oru(
        location=location, device="mon-7", at=at, values=values, control_id=control_id,
        style=style, limits={"spo2": (90, 100)},
    )  # fmt: skip


@pytest.mark.asyncio
async def test_pcd01_samples_are_stored_with_the_case_and_low_spo2_alarms_as_over_mqtt(
    tmp_path: Path,
) -> None:
    settings = device_settings(tmp_path, pcd01={"enabled": True, "port": 0})
    async with serving(settings) as service:
        assert service.ctx is not None
        case_id = await open_case(service, "IR1", "ACC-PCD1")
        await open_case(service, "IR2", "ACC-MQTT")
        t0 = datetime.now(UTC).replace(microsecond=0)
        port = listener(service).port
        # GE style (sub-ids 1.n.c.m, EtCO2 in mmHg) then Mindray style (MDC code in the 4th
        # sub-id component, NIBP as MDC_PRESS_CUFF_*, EtCO2 in kPa).
        answers = await send_all(
            port,
            oru(t0, "g1", style="ge", spo2=97, hr=72, etco2=38, nibp_sys=120, nibp_dia=80),
            oru(
                t0 + timedelta(seconds=1),
                "m2",
                style="mindray",
                spo2=85,
                hr=75,
                etco2=38,
                nibp_sys=118,
                nibp_dia=79,
                nibp_map=92,
            ),  # fmt: skip
            oru(t0 + timedelta(seconds=3.5), "g3", style="ge", spo2=84, hr=76),
        )
        assert [msa(a) for a in answers] == [("AA", "g1"), ("AA", "m2"), ("AA", "g3")]

        # The same numbers over the MQTT path (the ingest that decodes MQTT JSON), room IR2.
        ingest = Ingest(service.ctx.samples)  # the MQTT adapter's decoding, same path
        for n, (dt, spo2) in enumerate([(0, 97), (1, 85), (3.5, 84)], start=1):
            ts = (t0 + timedelta(seconds=dt)).isoformat()
            ingest.vitals("IR2", "mqtt-mon", json.dumps(
                {"ts": ts, "seq": n, "values": {"spo2": spo2, "hr": 72}}).encode())  # fmt: skip

        alarms = service.ctx.alarms
        by_room = await eventually(
            lambda: (
                {a.room: a for a in alarms.active() if a.kind == "spo2_low"}
                if len([a for a in alarms.active() if a.kind == "spo2_low"]) == 2
                else None
            )
        )
        pcd, mqtt = by_room["IR1"], by_room["IR2"]
        assert (pcd.kind, pcd.category, pcd.priority, pcd.source.rule) == (
            mqtt.kind, mqtt.category, mqtt.priority, mqtt.source.rule,
        )  # fmt: skip
        assert pcd.case_id == case_id and pcd.source.device == "mon-7"
        assert pcd.message.replace("mon-7", "X") == mqtt.message.replace("mqtt-mon", "X")

        await service.ctx.samples.recorder.flushed()
        async with service.ctx.db.session() as s:
            kept = await vitals_store.samples(s, case_id=case_id)
        assert [x.values[Param.SPO2] for x in kept] == [97, 85, 84]
        assert kept[1].values[Param.NIBP_MAP] == 92  # cuff mean, Mindray style
        assert kept[1].values[Param.ETCO2] == pytest.approx(38, abs=0.1)  # sent in kPa
        assert kept[0].device == "mon-7" and kept[0].room == "IR1"

        async def journal() -> list[device_store.Pcd01MessageRow]:
            async with service.ctx.db.session() as s:
                rows = await device_store.list_pcd01(s)
            return rows if len(rows) == 3 else []

        rows = await eventually(journal)
        assert [(r.control_id, r.ack_code, r.room, r.samples) for r in reversed(rows)] == [
            ("g1", "AA", "IR1", 1), ("m2", "AA", "IR1", 1), ("g3", "AA", "IR1", 1),
        ]  # fmt: skip
        assert rows[0].limits == {"mon-7": {"spo2": [90.0, 100.0]}}
        assert "MDC_PULS_OXIM_SAT_O2" in rows[0].raw


MALFORMED = [
    (b"not hl7 at all", "AR", ""),
    (b"MSH|^~\\&|GW|X|||20260101||ADT^A01|bad1|P|2.6\rPID|||1\r", "AR", "MSH^1^9"),
    (b"MSH|^~\\&|GW|X|||20260101||ORU^R01|bad2|P|9.9\rPV1||I|IR^IR1\r", "AR", "MSH^1^12"),
    (b"MSH|^~\\&|GW|X|||20260101||ORU^R01|bad3|P|2.6\rOBX|1|NM|150456^X^MDC|1.1.1.1|90\r",
     "AE", "PV1"),
]  # fmt: skip


@pytest.mark.asyncio
async def test_malformed_pcd01_gets_ae_or_ar_with_err_and_the_listener_goes_on(
    tmp_path: Path,
) -> None:
    settings = device_settings(tmp_path, pcd01={"enabled": True, "port": 0})
    async with serving(settings) as service:
        assert service.ctx is not None
        port = listener(service).port
        t0 = datetime.now(UTC)
        unmapped = oru(t0, "u1", style="ge", location="ICU^Bed9^1", spo2=95)
        wrong_unit = oru(t0, "w1", style="ge", spo2=95, hr=70).replace(
            b"262688^MDC_DIM_PERCENT^MDC^%^%^UCUM", b"266016^MDC_DIM_MMHG^MDC^mm[Hg]^mm[Hg]^UCUM"
        )
        not_a_number = oru(t0 + timedelta(seconds=1), "n1", style="ge", hr=70).replace(
            b"|70|", b"|seventy|"
        )
        raws = [m for m, _, _ in MALFORMED] + [unmapped, wrong_unit, not_a_number]
        answers = [(await send_all(port, raw))[0] for raw in raws]  # one connection each
        codes = [msa(a)[0] for a in answers]
        assert codes == [code for _, code, _ in MALFORMED] + ["AE", "AE", "AE"]
        for answer, (_, _, where) in zip(answers, MALFORMED, strict=False):
            assert errs(answer), answer
            assert where in errs(answer)[0]
        assert "PV1^1^3" in errs(answers[4])[0] and "ICU^Bed9^1" in errs(answers[4])[0]
        assert "OBX^" in errs(answers[5])[0] and "262688" not in errs(answers[5])[0]
        assert "MDC_DIM_MMHG" in errs(answers[5])[0] or "266016" in errs(answers[5])[0]
        assert "seventy" in errs(answers[6])[0]
        # The unmapped location was counted as an unknown room.
        assert service.ctx.samples.unknown_rooms["ICU^Bed9^1"] == 1
        # The listener still serves: a good message afterwards is accepted.
        good = await send_all(port, oru(t0 + timedelta(seconds=5), "ok", style="mindray", spo2=96))
        assert msa(good[0]) == ("AA", "ok")
        assert listener(service).processor.stats.rejected == 3
