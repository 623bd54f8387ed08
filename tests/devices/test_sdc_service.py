"""Done-when of the SDC half of issue 15, through the whole service: a real sdc11073 provider
(the simulated SDC monitor) on loopback is discovered (and, separately, reached by address);
its metrics are stored with the room's case, a low SpO2 in them raises the same alarm as over
MQTT, the provider is shown offline (technical alarm) after it stops and online again when it
returns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from suite.domain.alarms.model import AlarmState, Category
from suite.store import vitals as vitals_store
from tests.devices.sdc_peers import NORMAL, eventually, sdc_monitor
from tests.mqtt.conftest import Broker, running, settings_for
from tests.mqtt.test_end_to_end import open_case
from tests.peers import free_port

SDC_FAST = {
    "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "probe_interval_s": 0.3,
    "offline_after_s": 2.0, "discovery_timeout_s": 1.0, "socket_timeout_s": 2,
}  # fmt: skip


def service_settings(tmp_path: Path, sdc: dict[str, Any]) -> Any:
    """The service on the embedded broker, with only the SDC consumer as a device source
    (DICOM and HL7 off: their fixed default ports may be taken on a shared machine)."""
    return settings_for(
        Broker("embedded", free_port()), tmp_path, sdc=sdc,
        dicom={"enabled": False}, hl7={"enabled": False},
    )  # fmt: skip


def active(run: Any, room: str, kind: str) -> list[Any]:
    return [
        a for a in run.ctx.alarms.active(room) if a.kind == kind and a.state != AlarmState.CLEARED
    ]


def online(run: Any) -> bool:
    device = run.ctx.samples.devices_in("IR1").get("sdc-mon")
    return device is not None and device.online is True


async def low_spo2_then_stored(run: Any, monitor: Any, case_id: str) -> None:
    await eventually(lambda: online(run))  # connected and subscribed
    t0 = datetime.now(UTC).replace(microsecond=0)
    for dt, spo2 in ((0.0, 97.0), (1.0, 85.0), (3.5, 84.0)):  # below 90 past the 2 s delay
        await asyncio.to_thread(
            monitor.publish, {**NORMAL, "spo2": spo2}, at=t0 + timedelta(seconds=dt)
        )
    await eventually(
        lambda: any(
            a.category == Category.PHYSIOLOGICAL and a.source.parameter == "spo2"
            for a in run.ctx.alarms.active("IR1")
        )
    )
    alarm = next(a for a in run.ctx.alarms.active("IR1") if a.source.parameter == "spo2")
    assert alarm.case_id == case_id and alarm.source.device == "sdc-mon"
    # The monitor's own SpO2-low condition is a device alarm beside it, not instead of it.
    [device_alarm] = active(run, "IR1", "device_alert[ac.spo2.low]")
    assert device_alarm.priority.value == "high" and "SpO2 low" in device_alarm.message
    await run.ctx.recorder.flushed()
    async with run.ctx.db.session() as s:
        kept = await vitals_store.samples(s, case_id=case_id)
    spo2 = [x.values[vitals_store.Param.SPO2] for x in kept if vitals_store.Param.SPO2 in x.values]
    assert spo2[-3:] == [97, 85, 84]


async def offline_then_back(run: Any, monitor: Any, **again: Any) -> None:
    await asyncio.to_thread(monitor.stop)
    await eventually(lambda: len(active(run, "IR1", "device_offline")) == 1)
    async with sdc_monitor(**again) as back:
        await asyncio.to_thread(back.publish, NORMAL, at=datetime.now(UTC))
        await eventually(lambda: not active(run, "IR1", "device_offline"))
        await eventually(lambda: online(run))


@pytest.mark.asyncio
async def test_a_discovered_sdc_monitor_is_stored_alarms_goes_offline_and_comes_back(
    tmp_path: Path,
) -> None:
    epr = "urn:uuid:5e0c0c6e-3b0a-4c43-9a6f-5dc0de000002"
    where = {"fac": "HOSP", "poc": "IR", "rm": "IR1"}
    port = free_port()
    async with sdc_monitor(epr=epr, location=where, port=port) as monitor:
        sdc = {**SDC_FAST, "providers": [{"device": "sdc-mon", "epr": epr}]}
        settings = service_settings(tmp_path, sdc)
        async with running(settings) as run:
            case_id = await open_case(run)
            await low_spo2_then_stored(run, monitor, case_id)
            await offline_then_back(run, monitor, epr=epr, location=where, port=port)


@pytest.mark.asyncio
async def test_an_sdc_monitor_by_address_is_stored_alarms_goes_offline_and_comes_back(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with sdc_monitor(port=port) as monitor:
        epr = monitor.epr
        provider = {"device": "sdc-mon", "room": "IR1", "address": monitor.xaddr}
        sdc = {**SDC_FAST, "providers": [provider]}
        settings = service_settings(tmp_path, sdc)
        async with running(settings) as run:
            case_id = await open_case(run)
            await low_spo2_then_stored(run, monitor, case_id)
            # The IT view's service status has the provider's section.
            [status] = [c for c in run.ctx.components if c.name == "mqtt-integration-status"]
            sdc = (await status.refresh())["sdc"]["sdc-mon"]
            assert (sdc["room"], sdc["online"], sdc["address"]) == ("IR1", True, monitor.xaddr)
            assert sdc["device_alarms"] == ["ac.spo2.low"] and sdc["unknown_codes"] == {}
            await offline_then_back(run, monitor, epr=epr, port=port)
