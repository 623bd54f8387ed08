"""What IT sees of the HL7 interface (the `hl7` section of the service status on MQTT,
docs/mqtt.md "Service status"): the running listener's and sender's counters, with the
stored part (messages, outbox counts, quarantine: `suite.store.hl7_status.stored_status`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.hl7.listener import Hl7Listener
from adapters.hl7.sender import Hl7Sender
from suite.app.context import StatusSection
from suite.store.database import Database
from suite.store.hl7_status import stored_status


def live_status(components: Iterable[object]) -> dict[str, Any]:
    """The running listener's and sender's state (absent when that part is not configured)."""
    found: dict[str, Any] = {}
    for component in components:
        if isinstance(component, Hl7Listener):
            heard = component.stats
            found["listener"] = {
                "port": component.port,
                "connections": heard.connections,
                "refused": heard.refused,
                "framing_errors": heard.unframed + heard.truncated + heard.oversize + heard.endless,
                "timeouts": heard.timeout + heard.idle,
            }
        elif isinstance(component, Hl7Sender):
            sent = component.stats
            found["sender"] = {
                "destination": component.destination,
                "sent": sent.sent,
                "failures": sent.failures,
                "quarantined": sent.quarantined,
            }
            found["outage"] = component.outage()
    return found


def status_section(db: Database, *, recent: int = 20) -> StatusSection:
    """The "hl7" section of the service status: stored messages and the running parts."""

    async def section(components: list[Any]) -> dict[str, Any]:
        found = await db.read(lambda s: stored_status(s, recent=recent, quarantine_max=recent))
        found.update(live_status(components))
        return found

    return section
