"""The event-loop watchdog: measures how late the loop wakes up and raises a site technical
alarm ("loop_stalled") when it is later than a threshold.

Everything the service does shares one event loop; a handler that holds it (a backtracking
regex, a huge parse) silences HL7, DICOM, MQTT and the alarm ticks together. The watchdog
cannot prevent that, but it makes it visible: it sleeps `interval_s`, measures the lag
(how much later than asked it woke up) and raises the alarm once per episode when the lag
exceeds `threshold_s`; the alarm clears after `clear_after_s` without a stall. The worst lag
and the count of stalls are kept for the status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from suite.app.site_alarm import SiteAlarm

if TYPE_CHECKING:
    from suite.app.context import ServiceContext

log = logging.getLogger(__name__)

LOOP_STALLED_KIND = "loop_stalled"


@dataclass
class LagStats:
    worst_s: float = 0.0
    stalls: int = 0
    last_s: float = 0.0


class LoopWatchdog:
    """The `loop-watchdog` component."""

    name = "loop-watchdog"

    def __init__(
        self,
        alarm: SiteAlarm,
        *,
        interval_s: float,
        threshold_s: float,
        clear_after_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.alarm = alarm
        self.interval_s = interval_s
        self.threshold_s = threshold_s
        self.clear_after_s = clear_after_s
        self.monotonic = monotonic
        self.stats = LagStats()
        self._last_stall: float | None = None

    async def run(self) -> None:
        """Measure the loop's lag every `interval_s` until cancelled."""
        while True:
            started = self.monotonic()
            await asyncio.sleep(self.interval_s)
            now = self.monotonic()
            self.observe(now - started - self.interval_s, now=now)

    def observe(self, lag_s: float, *, now: float) -> None:
        """One measurement: raise the alarm above the threshold, clear it after a quiet time."""
        self.stats.last_s = lag_s
        self.stats.worst_s = max(self.stats.worst_s, lag_s)
        if lag_s > self.threshold_s:
            self.stats.stalls += 1
            self._last_stall = now
            log.warning("watchdog: the event loop was held for %.1f s", lag_s)
            self.alarm.raise_(
                f"the service stopped responding for {lag_s:.1f} s (event loop held; "
                f"threshold {self.threshold_s:g} s): HL7, DICOM and MQTT waited"
            )
        elif (
            self.alarm.active
            and self._last_stall is not None
            and now - self._last_stall >= self.clear_after_s
        ):
            self.alarm.clear(f"no stall for {self.clear_after_s:g} s")


def loop_watchdog(ctx: ServiceContext) -> list[LoopWatchdog]:
    """The watchdog this configuration asks for (none when disabled)."""
    w = ctx.settings.watchdog
    if not w.enabled:
        return []
    alarm = SiteAlarm(
        ctx.bus, clock=ctx.clock, kind=LOOP_STALLED_KIND, device=ctx.settings.lease.instance_id
    )
    return [
        LoopWatchdog(
            alarm, interval_s=w.interval_s, threshold_s=w.threshold_s, clear_after_s=w.clear_after_s
        )
    ]
