"""The live part of what IT sees of the DICOM interface (the `dicom` section of the service
status on MQTT, docs/mqtt.md "Service status"): the running adapter's associations and
counters. The stored part (instance counts, unmatched instances, the PACS queue) is read by
suite/store/dicom_status.py `stored_status`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.dicom.component import DicomAdapter


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
