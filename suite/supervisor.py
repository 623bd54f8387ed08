"""Runs each long-running component so that its failure never ends the service.

A component whose `run()` raises is logged (its error's type only: a message may carry a
patient's name), raises ONE site technical alarm naming it ("component_failed", device = the
component's name) and is started again after a back-off that doubles from `base_s` up to
`cap_s`. The alarm clears, and the back-off starts again from `base_s`, once the component
has run `healthy_s` without failing. Only a `ConfigError` (the configuration cannot work:
a port in use, a certificate missing) ends the service, as it does at start-up.
A component that returns has finished on purpose and is not started again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from suite.app.context import Component
from suite.app.site_alarm import SiteAlarm
from suite.errors import ConfigError
from suite.tasks import stop_tasks

log = logging.getLogger(__name__)

COMPONENT_FAILED_KIND = "component_failed"


class Supervised:
    """A component run under supervision; itself a `Component` with the same name."""

    def __init__(
        self,
        component: Component,
        alarm: SiteAlarm,
        *,
        base_s: float = 1.0,
        cap_s: float = 30.0,
        healthy_s: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.component = component
        self.name = component.name
        self.alarm = alarm
        self.base_s, self.cap_s, self.healthy_s = base_s, cap_s, healthy_s
        self.sleep = sleep
        self.failures = 0
        self.restarts = 0
        self.last_error = ""
        self._healthy = False

    async def run(self) -> None:
        delay = self.base_s
        while True:
            self._healthy = not self.alarm.active  # a first start has no back-off to reset
            try:
                await self._run_once()
                return
            except asyncio.CancelledError:
                raise
            except ConfigError:
                raise  # the configuration cannot work: restarting does not help
            except Exception as exc:
                self.failures += 1
                self.last_error = type(exc).__name__
                if self._healthy:
                    delay = self.base_s
                log.error(
                    "component %s failed (%s); starting it again in %.1f s",
                    self.name,
                    self.last_error,
                    delay,
                )
                log.debug("component %s failure", self.name, exc_info=True)
                self.alarm.raise_(
                    f"component {self.name} failed ({self.last_error}) and is being "
                    "restarted; see the service log"
                )
            await self.sleep(delay)
            delay = min(delay * 2, self.cap_s)
            self.restarts += 1

    async def _run_once(self) -> None:
        """Run the component once; after a failure, clear the alarm (and mark the run
        healthy, so the back-off starts again) once it has run `healthy_s`."""
        task = asyncio.ensure_future(self.component.run())
        try:
            if self.alarm.active:
                done, _ = await asyncio.wait({task}, timeout=self.healthy_s)
                if not done:
                    self._healthy = True
                    self.alarm.clear(f"component {self.name} runs again")
            await task
        except asyncio.CancelledError:
            await stop_tasks([task])
            raise
