"""SDC ingest: metric updates per second from one provider, through procsuite's SDC consumer
(adapters/devices/sdc: its connection thread, the hand-over to the event loop, the MDC mapping,
up to the sample path's `accept`) next to a bare sdc11073 consumer (ConsumerMdib + a counting
callback), in the same run against the same provider.

The provider (the simulated SDC monitor) runs in a child process and writes HR (and pulse
rate), SpO2 and the three NIBP values in one transaction as fast as it can; each transaction
is one episodic metric report of 6 metric updates. Both sides count reports received.
sdc11073's provider delivers one notification to a subscriber in about 48 ms (its commit
waits for it), so both consumers see about 21 reports/s, every one (no MDIB version gaps):
the figure bounds the library's delivery, and the ratio shows that procsuite keeps up with it.
What happens behind `accept` (the alarm engine, the store) is the sample path's own cost,
measured by bench/mqtt_ingest.py.

Called by bench/device_ingest.py: `measure(seconds) -> dict`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from datetime import UTC, datetime
from typing import Any

METRICS_PER_REPORT = 6  # HR, pulse rate, SpO2, NIBP sys / dia / mean


EPR = "urn:uuid:b5dc0b5e-0000-4000-8000-000000000015"


def _provide(port: int, ready: Any, stop: Any, counter: Any) -> None:
    """The child process: a simulated SDC monitor publishing as fast as it can."""
    import logging

    logging.disable(logging.WARNING)
    from simulators.sdc_monitor import SdcMonitor

    monitor = SdcMonitor(port=port, epr=EPR)
    monitor.start()
    ready.set()
    n = 0
    try:
        while not stop.is_set():
            n += 1
            value = 60 + n % 40
            monitor.publish(
                {"hr": value, "spo2": 90 + n % 10, "nibp_sys": 100 + n % 50,
                 "nibp_dia": 60 + n % 20, "nibp_map": 80 + n % 10},
                at=datetime.now(UTC),
            )  # fmt: skip
            counter.value = n
    finally:
        monitor.stop()


def _bare(address: str, seconds: float) -> int:
    """Metric updates a bare sdc11073 consumer receives in `seconds`."""
    from sdc11073 import observableproperties
    from sdc11073.consumer.consumerimpl import SdcConsumer
    from sdc11073.definitions_sdc import SdcV1Definitions
    from sdc11073.mdib import ConsumerMdib
    from sdc11073.xml_types.actions import periodic_actions

    consumer = SdcConsumer(address, sdc_definitions=SdcV1Definitions, ssl_context_container=None)
    consumer.start_all(not_subscribed_actions=periodic_actions)
    mdib = ConsumerMdib(consumer)
    mdib.init_mdib()
    count = [0]
    lock = threading.Lock()

    def on_metrics(states: dict[str, Any]) -> None:
        with lock:
            count[0] += 1  # one episodic metric report

    observableproperties.strongbind(mdib, metrics_by_handle=on_metrics)
    start = count[0]
    time.sleep(seconds)
    got = count[0] - start
    consumer.stop_all(unsubscribe=True)
    return got


class _Counting:
    """The sample path, reduced to counting what reaches `accept`."""

    def __init__(self) -> None:
        self.values = 0
        self.online = False

    def serves(self, room: str) -> bool:
        return True

    def accept(self, decoded: Any, *, source: str = "sdc") -> None:
        self.values += 1  # one sample per report (one determination time)

    def fault(self, *args: Any, **kw: Any) -> None:
        pass

    def unknown_room(self, room: str) -> None:
        pass

    def device_status(self, room: str, device: str, *, online: bool | None) -> None:
        self.online = bool(online)

    def device_alarm(self, *args: Any, **kw: Any) -> None:
        pass

    def clear_technical(self, *args: Any, **kw: Any) -> None:
        pass


async def _procsuite(address: str, seconds: float) -> int:
    """Metric updates procsuite's SDC consumer hands to the sample path in `seconds`."""
    from adapters.devices.sdc.component import SdcConsumer
    from suite.clock import utc_now
    from suite.settings_sdc import SdcSettings

    sink = _Counting()
    settings = SdcSettings(
        providers=[{"device": "bench", "room": "IR1", "address": address}], offline_after_s=30
    )
    consumer = SdcConsumer(
        settings=settings, rooms=["IR1"], samples=sink, alarms=sink, clock=utc_now,
        queue_size=1_000_000,
    )  # fmt: skip
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(30):
            while not sink.online:  # noqa: ASYNC110  (start-up only)
                await asyncio.sleep(0.05)
        start = sink.values
        await asyncio.sleep(seconds)
        return sink.values - start
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _loop_capacity(n: int = 20_000) -> float:
    """Reports/s procsuite's side handles on the event loop (mapping + accept), fed directly:
    its headroom over what the library delivers."""
    from adapters.devices.sdc import codec
    from adapters.devices.sdc.component import SdcConsumer
    from adapters.devices.sdc.link import Connected, Metrics
    from suite.clock import utc_now
    from suite.settings_sdc import SdcSettings

    sink = _Counting()
    settings = SdcSettings(providers=[{"device": "b", "room": "IR1", "address": "http://x"}])
    consumer = SdcConsumer(
        settings=settings, rooms=["IR1"], samples=sink, alarms=sink, clock=utc_now
    )
    from adapters.devices.sdc.component import ProviderState

    consumer.providers["b"] = ProviderState(settings.providers[0], started=0.0)
    codes = {"hr": ("147842", "264864"), "pr": ("149530", "264864"), "spo2": ("150456", "262688"),
             "s": ("150021", "266016"), "d": ("150022", "266016"), "m": ("150023", "266016")}  # fmt: skip
    metrics = {h: codec.MetricDescriptor(h, c, u) for h, (c, u) in codes.items()}
    consumer.handle("b", Connected("http://x", "urn:1", {}, metrics, {}, (), (), 1))
    now = datetime.now(UTC)
    events = [
        Metrics(tuple(codec.MetricReading(h, 70.0 + i % 9, "Vld", now) for h in codes), i + 2)
        for i in range(n)
    ]
    start = time.perf_counter()
    for event in events:
        consumer.handle("b", event)
    return n / (time.perf_counter() - start)


def measure(seconds: float = 10.0) -> dict[str, Any]:
    """Metric updates/s through procsuite's SDC consumer and through a bare sdc11073 consumer,
    one after the other against the same provider (a child process), and their ratio."""
    from tests.peers import free_port  # a free loopback port, as the tests take one

    ctx = multiprocessing.get_context("spawn")
    ready, stop, counter = ctx.Event(), ctx.Event(), ctx.Value("q", 0)
    port = free_port()
    child = ctx.Process(target=_provide, args=(port, ready, stop, counter), daemon=True)
    child.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the SDC provider did not start")
        address = f"http://127.0.0.1:{port}/{EPR}"  # a provider serves under its EPR
        bare = _bare(address, seconds)
        ours = asyncio.run(_procsuite(address, seconds))
    finally:
        stop.set()
        child.join(30)
    bare_rate, ours_rate = bare / seconds, ours / seconds
    return {
        "seconds": seconds,
        "bare_sdc11073_reports_per_s": round(bare_rate, 1),
        "procsuite_reports_per_s": round(ours_rate, 1),
        "metric_updates_per_report": METRICS_PER_REPORT,
        "ratio": round(ours_rate / bare_rate, 2) if bare_rate else None,
        "procsuite_loop_capacity_reports_per_s": round(_loop_capacity()),
    }


if __name__ == "__main__":
    print(measure(5.0))
