"""PCD-04 end to end: a python-hl7 MLLP server is the alert manager. An SpO2 alarm that starts
(from PCD-01 samples), is acknowledged and ends gives three ORU^R40 with the same OBR-3, the
right phase / state facets and priority, each exactly once and in order, across an outage of
the receiver (one technical alarm, cleared on recovery) and a restart of procsuite."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hl7
import pytest

from adapters.devices.pcd04.sender import ALARM_KIND, Pcd04Sender
from simulators.pcd01_gateway import encode_oru
from suite.store.alarms import open_alarms
from tests.devices.conftest import (
    device_settings,
    eventually,
    listener,
    msa,
    open_case,
    send_all,
    serving,
)
from tests.hl7.receiver import Receiver
from tests.peers import free_port


def facets(message: hl7.Message) -> dict[str, str]:
    """OBX-3 reference id -> OBX-5 (and OBX-8 for the alarm type row)."""
    out = {}
    for seg in message:
        if str(seg(0)) == "OBX":
            name = str(seg(3)(1)(2)) if len(seg(3)(1)) > 1 else str(seg(3))
            out[name] = str(seg(5))
            if str(seg(4)).endswith(".1"):
                out["type"], out["flags"] = name, str(seg(8))
    return out


def r40s(receiver: Receiver, alarm_id: str) -> list[hl7.Message]:
    return [
        m for m in receiver.messages("ORU")
        if str(m.segment("OBR")(3)(1)(1)) == alarm_id
    ]  # fmt: skip


async def outage_alarms(service) -> list:
    async with service.ctx.db.session() as s:
        found = await open_alarms(s, rooms=["*"])
    return [a for a, _ in found if a.kind == ALARM_KIND]


@pytest.mark.asyncio
async def test_an_spo2_alarm_reaches_the_alert_manager_once_in_order_across_outage_and_restart(
    tmp_path: Path,
) -> None:
    am_port = free_port()
    receiver = Receiver(am_port)
    await receiver.start()
    settings = device_settings(
        tmp_path,
        pcd01={"enabled": True, "port": 0},
        pcd04={"host": "127.0.0.1", "port": am_port, "ack_timeout_s": 2, "retry_initial_s": 0.05,
               "retry_max_s": 0.2, "poll_s": 0.1, "bed": {"IR1": "1"}},
    )  # fmt: skip
    t0 = datetime.now(UTC).replace(microsecond=0)

    def oru(dt: float, n: int, spo2: int) -> bytes:
        return encode_oru(location="IR^IR1^1", device="mon-7", at=t0 + timedelta(seconds=dt),
                          values={"spo2": spo2, "hr": 70}, control_id=f"c{n}")  # fmt: skip

    try:
        async with serving(settings) as service:
            assert service.ctx is not None
            assert len([c for c in service.ctx.components if isinstance(c, Pcd04Sender)]) == 1
            await open_case(service, "IR1", "ACC-ACM")
            port = listener(service).port
            answers = await send_all(port, oru(0, 1, 97), oru(1, 2, 85), oru(3.5, 3, 84))
            assert [msa(a)[0] for a in answers] == ["AA"] * 3
            alarms = service.ctx.alarms
            alarm = await eventually(
                lambda: next((a for a in alarms.active() if a.kind == "spo2_low"), None)
            )
            await eventually(lambda: len(r40s(receiver, alarm.alarm_id)) == 1)

            await receiver.stop()  # the alert manager goes away
            await alarms.acknowledge(alarm.alarm_id, user="nurse1")
            assert len(await eventually(lambda: outage_alarms(service))) == 1
        # procsuite restarts while the alert manager is still away
        async with serving(settings) as service:
            assert service.ctx is not None
            assert len(await outage_alarms(service)) == 1  # the same episode, adopted
            await receiver.start()
            await eventually(lambda: len(r40s(receiver, alarm.alarm_id)) == 2)
            await eventually(lambda: _none(outage_alarms(service)))
            port = listener(service).port
            await send_all(port, oru(10, 4, 97), oru(12, 5, 97), oru(14, 6, 98))
            await eventually(lambda: len(r40s(receiver, alarm.alarm_id)) >= 3)
    finally:
        await receiver.stop()

    got = r40s(receiver, alarm.alarm_id)
    phases = [facets(m)["MDC_ATTR_EVENT_PHASE"] for m in got]
    assert phases == ["start", "update", "end"]
    assert [facets(m)["MDC_ATTR_ALARM_STATE"] for m in got] == ["active", "active", "inactive"]
    assert [facets(m)["MDC_ATTR_ALARM_INACTIVATION_STATE"] for m in got] == [
        "enabled", "alert-acknowledged", "alert-acknowledged",
    ]  # fmt: skip
    for m in got:
        f = facets(m)
        assert f["type"] == "MDC_EVT_LO" and f["flags"] == "L~PH~SP"
        assert f["MDC_PULS_OXIM_SAT_O2"] in ("85", "84")
        assert str(m.segment("PV1")(3)) == "IR^IR1^1"
        assert str(m.segment("MSH")(9)) == "ORU^R40^ORU_R40"
        assert str(m.segment("MSH")(21)(1)(1)) == "IHE_PCD_ACM_001"
    assert {str(m.segment("OBR")(3)) for m in got} == {f"{alarm.alarm_id}^PROCSUITE"}
    # Exactly once: no message (of any alarm) reached the receiver twice.
    ids = Counter(str(m.segment("MSH")(10)) for m in receiver.messages("ORU"))
    assert [i for i, n in ids.items() if n > 1] == []
    # The outage alarm itself went to the alert manager too, once raised and once ended.
    outage = [m for m in receiver.messages("ORU") if "alert_manager_unreachable" in str(m)]
    assert [facets(m)["MDC_ATTR_EVENT_PHASE"] for m in outage] == ["start", "end"]


async def _none(awaitable) -> bool:
    return not await awaitable


@pytest.mark.asyncio
async def test_an_alert_manager_that_does_not_answer_is_an_outage_until_one_that_does(
    tmp_path: Path,
) -> None:
    import asyncio

    am_port = free_port()
    got: list[bytes] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.read(65536))  # takes the message, never answers
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", am_port)
    settings = device_settings(
        tmp_path,
        pcd04={"host": "127.0.0.1", "port": am_port, "ack_timeout_s": 0.5,
               "retry_initial_s": 0.05, "retry_max_s": 0.2, "poll_s": 0.1},
    )  # fmt: skip
    receiver = Receiver(am_port)
    try:
        async with serving(settings) as service:
            assert service.ctx is not None
            alarms = service.ctx.alarms
            alarms.technical("IR2", "mon-2", kind="sensor_test", message="probe test alarm")
            assert len(await eventually(lambda: outage_alarms(service))) == 1
            assert got and b"ORU^R40" in got[0]
            sender = [c for c in service.ctx.components if isinstance(c, Pcd04Sender)][0]
            assert sender.status()["outage"] is True
            assert "no answer within 0.5 s" in sender.status()["last_error"]
            server.close()
            await server.wait_closed()
            await receiver.start()
            await eventually(lambda: _none(outage_alarms(service)))
            await eventually(lambda: any("probe test alarm" in str(m) for m in receiver.messages()))
    finally:
        server.close()
        await receiver.stop()
    tech = [m for m in receiver.messages("ORU") if "probe test alarm" in str(m)]
    assert len(tech) == 1  # sent again after the outage, accepted once
    assert facets(tech[0])["flags"] == "A~PM~ST"
