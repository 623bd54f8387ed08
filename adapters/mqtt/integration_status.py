"""The interface sections of the service status (`procsuite/<site>/status`), for the IT view:
each adapter registers its section (`ctx.status_sections`, e.g. "hl7" and "dicom"), read
from the store and the running components every `interval_s`, kept here and put in every
status the runner publishes (docs/mqtt.md "Service status"). Read-only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from suite.app.context import StatusSection
from suite.errors import StoreError

log = logging.getLogger(__name__)


class IntegrationStatus:
    """A component: `run()` refreshes `sections` until cancelled."""

    name = "mqtt-integration-status"

    def __init__(
        self,
        *,
        sections: Mapping[str, StatusSection],
        components: Callable[[], Iterable[object]],
        interval_s: float = 5.0,
    ) -> None:
        self.readers = sections
        self.components = components  # the service's components, read at each refresh
        self.interval_s = interval_s
        self.sections: dict[str, Any] = {}
        self.refreshed = asyncio.Event()
        self.failures = 0

    async def refresh(self) -> dict[str, Any]:
        """Read every section now; returns (and keeps) them."""
        components = list(self.components())
        found = {name: await read(components) for name, read in self.readers.items()}
        self.sections = found
        self.refreshed.set()
        return found

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except (StoreError, OSError) as exc:
                # The last sections stay published; the failure is counted and logged.
                self.failures += 1
                log.warning("mqtt: integration status not read: %s", exc)
            await asyncio.sleep(self.interval_s)
