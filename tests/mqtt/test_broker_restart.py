"""A broker restart in the middle of a stream loses no alarm and no stored sample.

The monitor is a QoS 1 publisher with a persistent session (paho queues while the broker is
away); the service keeps a persistent session (mosquitto queues for it while it reconnects);
alarms raised while the broker is down wait in the store's outbox and go out in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
import pytest

from adapters.mqtt.broker import EmbeddedBroker
from suite.domain.alarms.model import AlarmRaised, AlarmSource, Category, Priority
from suite.store import vitals as vitals_store
from tests.mqtt.conftest import Broker, eventually, persistent_mosquitto, running, settings_for
from tests.mqtt.test_end_to_end import open_case, vitals

ROOT = "procsuite/t"


class Monitor:
    """A vital-signs monitor publishing QoS 1 from its own thread, as a device would."""

    def __init__(self, port: int, topic: str) -> None:
        self.topic = topic
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id="mon-restart", clean_session=False
        )
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.acked: set[int] = set()
        # Messages published while the broker is away are kept by paho and sent on
        # reconnection; their publish() result says "not connected", so count PUBACKs.
        self.client.on_publish = lambda _c, _u, mid, _rc, _p: self.acked.add(mid)
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        self.infos: list[paho.MQTTMessageInfo] = []
        self.stop = threading.Event()

    def run(self, start: datetime, count: int, every_s: float) -> None:
        for seq in range(1, count + 1):
            if self.stop.is_set():
                return
            payload = vitals(
                start + timedelta(seconds=seq * every_s), seq, hr=70 + seq % 5, spo2=97
            )
            self.infos.append(self.client.publish(self.topic, payload, qos=1))
            self.stop.wait(every_s)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@contextlib.asynccontextmanager
async def persistent_watcher(port: int, got: list[dict[str, Any]]) -> AsyncIterator[None]:
    """Collects the alarm topic through broker restarts (fixed id, persistent session)."""

    async def loop() -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1", port, identifier="restart-watcher", clean_session=False
                ) as c:
                    await c.subscribe(f"{ROOT}/alarms/#", qos=1)
                    async for m in c.messages:
                        got.append(json.loads(bytes(m.payload)))  # type: ignore[arg-type]
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def dose_alarm(n: int, at: datetime) -> AlarmRaised:
    return AlarmRaised(
        f"dose-{n}", "IR1", at, kind=f"dose_{n}gy", category=Category.PROCEDURE,
        priority=Priority.MEDIUM, message=f"Air kerma passed {n} Gy", source=AlarmSource("dose.threshold"),
    )  # fmt: skip


@pytest.mark.asyncio
async def test_a_broker_restart_loses_no_alarm_and_no_stored_sample(
    broker: Broker, tmp_path: Path
) -> None:
    # The service waits longer between attempts than the monitor and the watcher, so the
    # monitor's queued samples reach the broker before the service is back (only its
    # persistent session keeps them), and the watcher is back on a restarted (memoryless)
    # embedded broker before the service publishes its backlog of alarms.
    settings = settings_for(broker, tmp_path, mqtt={"reconnect_min_s": 2.5, "reconnect_max_s": 3.0})
    got: list[dict[str, Any]] = []
    async with running(settings) as run, persistent_watcher(broker.port, got):
        case_id = await open_case(run)
        await asyncio.sleep(0.3)
        monitor = Monitor(broker.port, f"{ROOT}/rooms/IR1/vitals/mon-r")
        feeder = asyncio.create_task(asyncio.to_thread(monitor.run, datetime.now(UTC), 150, 0.02))
        try:
            await asyncio.sleep(0.8)
            # -- the broker goes down mid-stream --
            embedded = next((c for c in run.ctx.components if isinstance(c, EmbeddedBroker)), None)
            if embedded is not None:
                await embedded.stop()
            else:
                assert broker.mosquitto is not None
                await asyncio.to_thread(broker.mosquitto.stop)
            # Alarms raised while it is down (the DICOM dose rules publish on the bus).
            now = datetime.now(UTC)
            for n in (2, 3, 5):
                run.ctx.bus.publish(dose_alarm(n, now + timedelta(milliseconds=n)))
            await asyncio.sleep(1.0)
            if embedded is not None:
                await embedded.start()
            else:
                assert broker.mosquitto is not None
                await asyncio.to_thread(broker.mosquitto.start)
            # -- back --
            await asyncio.wait_for(feeder, 30)
            await eventually(lambda: {i.mid for i in monitor.infos} <= monitor.acked, within_s=20)
        finally:
            monitor.stop.set()
            await asyncio.gather(feeder, return_exceptions=True)
            monitor.close()

        expected = ["dose-2", "dose-3", "dose-5"]
        await eventually(
            lambda: [g["alarm_id"] for g in got if g["event"] == "raised"][-3:] == expected,
            within_s=20,
        )
        raised = [g for g in got if g["event"] == "raised" and g["alarm_id"].startswith("dose-")]
        ids = [g["event_id"] for g in raised]
        assert ids == sorted(ids)
        assert all(g["case_id"] == case_id for g in raised)

        # The local alarm journal knows they reached the broker (so it may drop them).
        journal = run.alarms.journal.wal
        await eventually(lambda: journal.published >= ids[-1], within_s=10)

        if broker.kind == "mosquitto":
            # Every sample the monitor published is stored, once.
            stored: list[vitals_store.StoredSample] = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    while len(stored) < 150:
                        await run.runner.ingest.recorder.flushed()
                        async with run.ctx.db.session() as s:
                            stored = await vitals_store.samples(s, case_id=case_id)
                        await asyncio.sleep(0.1)
            assert sorted(x.seq for x in stored) == list(range(1, 151))
        assert run.runner.connections >= 2


@pytest.mark.asyncio
@pytest.mark.mosquitto
async def test_alarms_raised_while_the_broker_is_down_survive_a_restart_of_the_service(
    tmp_path: Path,
) -> None:
    with persistent_mosquitto() as mosq:
        broker = Broker("mosquitto", mosq.port, mosq)
        settings = settings_for(broker, tmp_path, mqtt={"alarm_outbox": 10})
        got: list[dict[str, Any]] = []
        async with running(settings) as run:
            await asyncio.to_thread(mosq.stop)
            now = datetime.now(UTC)
            for n in range(1, 26):  # more than the outbox holds in memory
                run.ctx.bus.publish(dose_alarm(n, now + timedelta(milliseconds=n)))
            await eventually(lambda: run.alarms.stored >= 25)
        # The service is stopped with 25 alarm events unpublished; the broker returns, then
        # the service; the events go out from the local alarm journal, in order.
        await asyncio.to_thread(mosq.start)
        async with persistent_watcher(mosq.port, got):
            await asyncio.sleep(0.3)
            async with running(settings):
                await eventually(
                    lambda: len([g for g in got if g["event"] == "raised"]) >= 25, within_s=15
                )
        raised = [g for g in got if g["event"] == "raised"]
        assert [g["alarm_id"] for g in raised] == [f"dose-{n}" for n in range(1, 26)]
        assert [g["event_id"] for g in raised] == sorted(g["event_id"] for g in raised)
