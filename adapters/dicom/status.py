"""What IT sees of the DICOM interface (the `dicom` section of the service status on MQTT,
docs/mqtt.md "Service status"): the stored part (instance counts, unmatched instances, the
PACS queue), read by suite/store/dicom_status.py `stored_status`, plus the running adapter's
associations and counters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.dicom.component import DicomAdapter
from suite.app.context import StatusSection
from suite.store.database import Database
from suite.store.dicom_status import stored_status


def live_status(components: Iterable[object]) -> dict[str, Any]:
    """The running adapter's associations and counters (empty when DICOM is off)."""
    for component in components:
        if isinstance(component, DicomAdapter):
            counts = component.counters()
            return {
                "associations": {
                    "active": component.active_associations(),
                    "rejected": counts.get("associations_rejected", 0),
                },
                "counters": counts,
            }
    return {}


def status_section(db: Database, *, recent: int = 20) -> StatusSection:
    """The "dicom" section of the service status: stored objects and the running parts."""

    async def section(components: list[Any]) -> dict[str, Any]:
        found = await stored_status(db, unmatched_max=recent)
        found.update(live_status(components))
        return found

    return section
