"""The `hl7` and `dicom` sections of the service status (`procsuite/<site>/status`), for the
IT view: refreshed from the HL7 and DICOM stores and the running adapters every
`interval_s`, kept here, and put in every status the runner publishes (docs/mqtt.md
"Service status"). Read-only; the sizes are bounded by the readers (adapters/hl7/status.py,
adapters/dicom/status.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from suite.store.database import Database, StoreError

log = logging.getLogger(__name__)


class IntegrationStatus:
    """A component: `run()` refreshes `sections` until cancelled."""

    name = "mqtt-integration-status"

    def __init__(
        self,
        *,
        db: Database,
        components: Callable[[], Iterable[object]],
        interval_s: float = 5.0,
        recent: int = 20,
    ) -> None:
        self.db = db
        self.components = components  # the service's components, read at each refresh
        self.interval_s = interval_s
        self.recent = recent
        self.sections: dict[str, Any] = {}
        self.refreshed = asyncio.Event()
        self.failures = 0

    async def refresh(self) -> dict[str, Any]:
        """Read both interfaces now; returns (and keeps) the sections."""
        from adapters.dicom import status as dicom_status
        from adapters.hl7 import status as hl7_status

        components = list(self.components())
        async with self.db.session() as session:
            hl7 = await hl7_status.stored_status(
                session, recent=self.recent, quarantine_max=self.recent
            )
            dicom = await dicom_status.stored_status(session, unmatched_max=self.recent)
        hl7.update(hl7_status.live_status(components))
        dicom.update(dicom_status.live_status(components))
        # The device gateways (PCD-01, PCD-04, SDC) say their own status: `kind` + status().
        devices = {
            str(c.name): c.status()  # type: ignore[attr-defined]
            for c in components
            if getattr(c, "kind", None) in ("pcd01", "pcd04", "sdc") and hasattr(c, "status")
        }
        self.sections = {"hl7": hl7, "dicom": dicom, "devices": devices}
        self.refreshed.set()
        return self.sections

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except (StoreError, SQLAlchemyError, OSError) as exc:
                # The last sections stay published; the failure is counted and logged.
                self.failures += 1
                log.warning("mqtt: integration status not read: %s", exc)
            await asyncio.sleep(self.interval_s)
