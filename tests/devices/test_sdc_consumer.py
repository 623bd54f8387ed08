"""The SDC consumer against a real sdc11073 provider (the simulated monitor) on loopback,
with fakes of the sample path and the alarm service: what it subscribes to and maps, device
alert conditions, offline and reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.devices.sdc.component import SdcConsumer
from adapters.devices.sdc.link import Lost
from suite.clock import utc_now
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.settings_sdc import SdcSettings
from tests.devices.sdc_peers import NORMAL, FakeAlarms, FakeSamples, eventually, sdc_monitor

FAST = {
    "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "probe_interval_s": 0.3,
    "offline_after_s": 2.0, "discovery_timeout_s": 1.0, "socket_timeout_s": 2,
}  # fmt: skip


@contextlib.asynccontextmanager
async def consuming(
    providers: list[dict[str, Any]], **settings: Any
) -> AsyncIterator[tuple[SdcConsumer, FakeSamples, FakeAlarms]]:
    samples, alarms = FakeSamples({"IR1", "IR2"}), FakeAlarms()
    consumer = SdcConsumer(
        settings=SdcSettings(providers=providers, **{**FAST, **settings}),
        rooms=["IR1", "IR2"], samples=samples, alarms=alarms, clock=utc_now,
    )  # fmt: skip
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer, samples, alarms
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.asyncio
async def test_metrics_by_address_are_mapped_from_mdc_codes_with_device_time() -> None:
    async with sdc_monitor() as monitor:
        at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        await asyncio.to_thread(monitor.publish, NORMAL, at=at)
        spec = {"device": "sdc-1", "room": "IR1", "address": monitor.xaddr}
        async with consuming([spec]) as (consumer, samples, alarms):
            await eventually(lambda: samples.values(Param.SPO2) == [97.0])
            first = samples.accepted[0].sample
            assert (first.room, first.device, first.at) == ("IR1", "sdc-1", at)
            assert dict(first.values) == {
                Param.HR: 72.0, Param.SPO2: 97.0, Param.NIBP_SYS: 121.0, Param.NIBP_DIA: 79.0,
                Param.NIBP_MAP: 93.0, Param.RR: 14.0, Param.ETCO2: 38.0, Param.TEMP: 36.8,
            }  # fmt: skip
            assert samples.status == [("IR1", "sdc-1", True)]
            # An episodic metric report: only what changed, with its own time.
            later = at + timedelta(seconds=1)
            await asyncio.to_thread(monitor.publish, {"spo2": 85.0, "hr": 80.0}, at=later)
            await eventually(lambda: samples.values(Param.SPO2) == [97.0, 85.0])
            update = samples.accepted[-1].sample
            assert update.at == later and dict(update.values) == {Param.SPO2: 85.0, Param.HR: 80.0}
            assert update.seq is not None and first.seq is not None and update.seq > first.seq
            # The monitor's own alert condition: a device alarm with its priority.
            await eventually(lambda: len(alarms.raised) == 1)
            assert alarms.raised == [("IR1", "sdc-1", "device_alert[ac.spo2.low]", Priority.HIGH)]
            await asyncio.to_thread(
                monitor.publish, {"spo2": 95.0}, at=later + timedelta(seconds=1)
            )
            await eventually(lambda: len(alarms.cleared) == 1)
            assert alarms.cleared == [("IR1", "sdc-1", "device_alert[ac.spo2.low]")]
            # A reading the monitor marks invalid (probe off) is "no reading".
            await asyncio.to_thread(
                monitor.publish, {"spo2": None}, at=later + timedelta(seconds=2)
            )
            await eventually(lambda: samples.values(Param.SPO2)[-1:] == [None])
            assert consumer.status()["sdc-1"]["online"] is True


@pytest.mark.asyncio
async def test_discovery_by_location_picks_the_room_and_offline_then_reconnects() -> None:
    port = None
    epr = "urn:uuid:5e0c0c6e-3b0a-4c43-9a6f-5dc0de000001"
    location = {"fac": "HOSP", "poc": "IR", "rm": "IR2"}
    async with sdc_monitor(epr=epr, location=location) as monitor:
        port = monitor.port
        await asyncio.to_thread(monitor.publish, NORMAL, at=datetime.now(UTC))
        # No room configured: the provider's location names it.
        spec = {"device": "sdc-2", "location": {"poc": "IR", "rm": "IR2"}}
        async with consuming([spec]) as (consumer, samples, alarms):
            await eventually(lambda: samples.values(Param.HR) == [72.0])
            assert samples.accepted[0].sample.room == "IR2"
            assert consumer.status()["sdc-2"]["address"] == monitor.xaddr
            await asyncio.to_thread(monitor.stop)
            await eventually(lambda: samples.status[-1:] == [("IR2", "sdc-2", False)])
            async with sdc_monitor(epr=epr, location=location, port=port) as back:
                await asyncio.to_thread(back.publish, {**NORMAL, "hr": 90.0}, at=datetime.now(UTC))
                await eventually(lambda: samples.status[-1:] == [("IR2", "sdc-2", True)])
                await eventually(lambda: samples.values(Param.HR)[-1:] == [90.0])
                assert consumer.status()["sdc-2"]["connects"] == 2


@pytest.mark.asyncio
@pytest.mark.slow
async def test_the_subscription_outlives_what_the_provider_grants() -> None:
    # sdc11073's provider grants a subscription 15 s at most: the consumer renews in time
    # and stays connected (a fixed 30 s renew interval dropped the link every 30 s).
    async with sdc_monitor() as monitor:
        spec = {"device": "sdc-1", "room": "IR1", "address": monitor.xaddr}
        async with consuming([spec]) as (consumer, samples, alarms):
            await eventually(lambda: samples.status == [("IR1", "sdc-1", True)])
            start = datetime.now(UTC)
            for second in range(40):
                at = start + timedelta(seconds=second)
                await asyncio.to_thread(monitor.publish, {"spo2": 96.0 + second % 2}, at=at)
                await asyncio.sleep(1)
            await eventually(lambda: len(samples.values(Param.SPO2)) >= 40)
            assert samples.status == [("IR1", "sdc-1", True)]  # never offline in between
            assert not alarms.raised


@pytest.mark.asyncio
async def test_a_new_mdib_sequence_is_read_again() -> None:
    async with sdc_monitor() as monitor:
        await asyncio.to_thread(monitor.publish, NORMAL, at=datetime.now(UTC))
        spec = {"device": "sdc-3", "room": "IR1", "address": monitor.xaddr}
        async with consuming([spec]) as (consumer, samples, alarms):
            await eventually(lambda: samples.values(Param.SPO2) == [97.0])
            before = consumer.status()["sdc-3"]["sequence_id"]
            await asyncio.to_thread(monitor.new_sequence)
            await asyncio.to_thread(monitor.publish, {"spo2": 93.0}, at=datetime.now(UTC))
            await eventually(lambda: consumer.status()["sdc-3"]["reloads"] == 1)
            status = consumer.status()["sdc-3"]
            assert status["sequence_id"] != before and status["connects"] == 1
            await eventually(lambda: samples.values(Param.SPO2)[-1:] == [93.0])
            await asyncio.to_thread(monitor.publish, {"spo2": 94.0}, at=datetime.now(UTC))
            await eventually(lambda: samples.values(Param.SPO2)[-1:] == [94.0])


def make_tls_folder(folder: Path) -> Path:
    """A CA and one certificate for both ends (server and client use), as sdc11073's
    `mk_ssl_contexts_from_folder` reads them: userkey.pem, usercert.pem, cacert.pem."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    run = functools.partial(subprocess.run, check=True, capture_output=True, cwd=folder, timeout=60)
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509", *curve, "-days", "2", "-subj", "/CN=test-ca",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-keyout", "ca.key", "-out", "cacert.pem"])  # fmt: skip
    run(["openssl", "req", *curve, "-subj", "/CN=localhost", "-keyout", "userkey.pem",
         "-out", "user.csr"])  # fmt: skip
    (folder / "user.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    run(["openssl", "x509", "-req", "-in", "user.csr", "-CA", "cacert.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", "user.ext", "-out", "usercert.pem"])  # fmt: skip
    return folder


@pytest.mark.asyncio
async def test_tls_when_configured(tmp_path: Path) -> None:
    tls = make_tls_folder(tmp_path / "tls")
    async with sdc_monitor(tls_folder=tls) as monitor:
        assert monitor.xaddr.startswith("https://")
        await asyncio.to_thread(monitor.publish, NORMAL, at=datetime.now(UTC))
        spec = {"device": "sdc-tls", "room": "IR1", "address": monitor.xaddr}
        async with consuming([spec], tls_folder=tls) as (consumer, samples, alarms):
            await eventually(lambda: samples.values(Param.HR) == [72.0])
        # Without TLS the same provider is not read (https only on its side).
        async with consuming([spec]) as (consumer, samples, alarms):
            await eventually(lambda: consumer.status().get("sdc-tls", {}).get("last_error"))
            assert samples.accepted == []


@pytest.mark.asyncio
async def test_by_address_the_mdib_location_names_the_room_or_it_is_unknown() -> None:
    async with (
        sdc_monitor(location={"fac": "HOSP", "poc": "OR", "rm": "OR9"}) as elsewhere,
        sdc_monitor(location={"fac": "HOSP", "poc": "IR", "rm": "IR2"}) as ours,
    ):
        await asyncio.to_thread(elsewhere.publish, NORMAL, at=datetime.now(UTC))
        await asyncio.to_thread(ours.publish, NORMAL, at=datetime.now(UTC))
        specs = [
            {"device": "far", "address": elsewhere.xaddr},
            {"device": "near", "address": ours.xaddr},
        ]
        async with consuming(specs) as (consumer, samples, alarms):
            await eventually(lambda: samples.values(Param.HR) == [72.0])
            await eventually(lambda: bool(samples.unknown))
            assert {d.sample.room for d in samples.accepted} == {"IR2"}
            assert samples.unknown[0] == "fac=HOSP,poc=OR,rm=OR9"
            assert consumer.status()["far"]["last_error"] == (
                "no room for location fac=HOSP,poc=OR,rm=OR9"
            )


@pytest.mark.asyncio
async def test_a_stop_that_arrives_with_an_event_still_stops_the_consumer() -> None:
    """The service's shutdown cancels the consumer; a cancel that lands as the consumer's
    queue hands it an event must still end it (Python 3.11's wait_for swallowed it, and the
    stop hung)."""
    spec = {"device": "sdc-x", "room": "IR1", "address": "https://127.0.0.1:9/nothing"}
    consumer = SdcConsumer(
        settings=SdcSettings(providers=[spec], **FAST),
        rooms=["IR1", "IR2"], samples=FakeSamples({"IR1", "IR2"}), alarms=FakeAlarms(),
        clock=utc_now,
    )  # fmt: skip
    task = asyncio.create_task(consumer.run())
    await eventually(lambda: consumer._queue is not None)
    await asyncio.sleep(0.1)  # parked on its queue
    assert consumer._queue is not None
    consumer._queue.put_nowait(("sdc-x", Lost("probe")))
    task.cancel()  # in the same step: the queue's get completes as the cancel arrives
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert task.cancelled()
