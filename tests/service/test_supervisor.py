"""A component that fails is restarted with back-off under one technical alarm naming it;
only a configuration error ends the service (suite/supervisor.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from suite.app.site_alarm import SiteAlarm
from suite.bus import Bus
from suite.domain.alarms.model import AlarmCleared, AlarmEvent, AlarmRaised, Category
from suite.errors import ConfigError
from suite.supervisor import COMPONENT_FAILED_KIND, Supervised


class Flaky:
    """Fails its first `failures` runs (with a message a log must not carry), then waits."""

    name = "hl7-sender"

    def __init__(self, failures: int, *, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or ConnectionResetError("patient DOE^JANE")
        self.runs = 0
        self.running = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise self.error
        self.running.set()
        await asyncio.Event().wait()


def _supervised(component: Flaky, bus: Bus, slept: list[float], **kw: float) -> Supervised:
    async def sleep(delay: float) -> None:  # the back-off, recorded instead of waited
        slept.append(delay)

    alarm = SiteAlarm(
        bus, clock=lambda: datetime.now(UTC), kind=COMPONENT_FAILED_KIND, device=component.name
    )
    return Supervised(component, alarm, base_s=1.0, cap_s=4.0, sleep=sleep, **kw)


def _events(seen: object) -> list[AlarmEvent]:
    out = []
    while not seen.queue.empty():  # type: ignore[attr-defined]
        out.append(seen.get_nowait())  # type: ignore[attr-defined]
    return out


@pytest.mark.asyncio
async def test_a_failing_component_restarts_with_capped_backoff_under_one_alarm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = Bus()
    seen = bus.subscribe("test", AlarmEvent)
    component = Flaky(failures=5)
    slept: list[float] = []
    supervised = _supervised(component, bus, slept)
    task = asyncio.create_task(supervised.run())
    try:
        await component.running.wait()
        assert not task.done()  # the failures did not end it
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert component.runs == 6
    assert slept == [1.0, 2.0, 4.0, 4.0, 4.0]  # doubling, capped
    events = _events(seen)
    assert [type(e) for e in events] == [AlarmRaised]  # one alarm for the whole episode
    raised = events[0]
    assert isinstance(raised, AlarmRaised)
    assert raised.kind == COMPONENT_FAILED_KIND and raised.category is Category.TECHNICAL
    assert raised.room == "*" and raised.source.device == "hl7-sender"
    assert "hl7-sender" in raised.message and "ConnectionResetError" in raised.message
    assert supervised.failures == 5 and supervised.last_error == "ConnectionResetError"
    assert "DOE" not in caplog.text  # the error's message may carry patient data
    assert "component hl7-sender failed (ConnectionResetError)" in caplog.text


@pytest.mark.asyncio
async def test_the_alarm_clears_once_the_restarted_component_keeps_running() -> None:
    bus = Bus()
    seen = bus.subscribe("test", AlarmEvent)
    component = Flaky(failures=1)
    slept: list[float] = []
    supervised = _supervised(component, bus, slept, healthy_s=0.05)
    task = asyncio.create_task(supervised.run())
    try:
        events = [await seen.get(), await seen.get()]  # cleared after healthy_s of running
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [type(e) for e in events] == [AlarmRaised, AlarmCleared]
    assert not supervised.alarm.active and component.runs == 2 and slept == [1.0]


@pytest.mark.asyncio
async def test_a_configuration_error_still_ends_the_service() -> None:
    component = Flaky(failures=1, error=ConfigError("port 2575 is in use"))
    supervised = _supervised(component, Bus(), [])
    with pytest.raises(ConfigError):
        await supervised.run()
    assert component.runs == 1


@pytest.mark.asyncio
async def test_a_component_that_returns_is_not_started_again() -> None:
    class Once:
        name = "once"
        runs = 0

        async def run(self) -> None:
            self.runs += 1

    once = Once()
    alarm = SiteAlarm(Bus(), clock=lambda: datetime.now(UTC), kind="k", device="once")
    await Supervised(once, alarm).run()
    assert once.runs == 1 and not alarm.active
