"""The durable outbox: which case events cause which outbound message, written in the same
transaction as those events; and the rendering of a queued row into its bytes.

Triggers (only for cases whose order came over HL7, so the receiver knows the order):

    CheckedIn                 ORM^O01 SC, ORC-5 IP (in progress)
    PatientDischarged         ORM^O01 SC, ORC-5 CM (completed), then ORU^R01 (results)
    CaseCancelled             ORM^O01 SC, ORC-5 CA, unless the cancel came from HL7 itself
    CaseAborted               ORM^O01 SC, ORC-5 DC (discontinued), then ORU^R01

A row records the case and the version of its event log the message reports on; the sender
renders it (replaying the events up to that version) once, before its first attempt. The SQL
is suite/store/hl7_outbox.py.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from adapters.hl7.outbound import (
    CANCELLED,
    COMPLETED,
    DISCONTINUED,
    IN_PROGRESS,
    OrderKeys,
    Party,
    VitalPoint,
    build_result,
    build_status,
)
from suite.domain import events as e
from suite.domain.case import replay
from suite.domain.envelope import Recorded, Source
from suite.store import hl7 as store
from suite.store import hl7_outbox
from suite.store.database import Database
from suite.store.hl7_outbox import Queued

log = logging.getLogger(__name__)

# The vital signs of a case up to a time, for its results message.
VitalsSource = Callable[[Database, str, datetime], Awaitable[list[VitalPoint]]]

STATUS = "ORM^O01"
RESULT = "ORU^R01"


def triggers(records: Sequence[Recorded]) -> list[tuple[str, str, Recorded]]:
    """(message type, order status, record) for each outbound message these events cause."""
    found: list[tuple[str, str, Recorded]] = []
    for r in records:
        ev = r.event
        if isinstance(ev, e.CheckedIn):
            found.append((STATUS, IN_PROGRESS, r))
        elif isinstance(ev, e.PatientDischarged):
            found += [(STATUS, COMPLETED, r), (RESULT, COMPLETED, r)]
        elif isinstance(ev, e.CaseCancelled) and r.source is not Source.HL7:
            found.append((STATUS, CANCELLED, r))
        elif isinstance(ev, e.CaseAborted):
            found += [(STATUS, DISCONTINUED, r), (RESULT, DISCONTINUED, r)]
    return found


class Outbox:
    """The case-service hook that queues outbound messages for one destination."""

    def __init__(self, *, destination: str, clock: Callable[[], datetime]) -> None:
        self.destination = destination
        self.clock = clock
        self.hook = hl7_outbox.outbox_hook(destination, plan=self.messages, clock=clock)

    def messages(self, records: Sequence[Recorded]) -> list[Queued]:
        """The messages to queue for these events, each with a new control ID."""
        return [
            Queued(
                message_type=message_type,
                control_id=uuid.uuid4().hex[:20],
                payload={"version": record.seq, "status": status},
            )
            for message_type, status, record in triggers(records)
        ]


async def no_vitals(db: Database, case_id: str, until: datetime) -> list[VitalPoint]:
    return []


async def stored_vitals(db: Database, case_id: str, until: datetime) -> list[VitalPoint]:
    """Per-minute medians from the vitals store, as LOINC observations, up to `until`."""
    from suite.domain.alarms.parameters import PARAMETERS
    from suite.store.vitals import summary_for_case

    points = []
    for param, at, value in await db.read(lambda s: summary_for_case(s, case_id)):
        info = PARAMETERS[param]
        if at <= until:
            points.append(
                VitalPoint(info.loinc, info.loinc_name, info.ucum, at, value, info.decimals)
            )
    return points


async def render(
    db: Database,
    row: store.Hl7OutboxRow,
    *,
    party: Party,
    now: datetime,
    vitals: VitalsSource,
) -> bytes:
    """The bytes of a queued message, built from the case as it was at the row's version."""
    version = int(row.payload["version"])
    records, order = await db.read(
        lambda s: hl7_outbox.rendering_input(s, row.case_id, row.accession)
    )
    case = replay(row.case_id, (r.event for r in records if r.seq <= version))
    if case is None:
        raise LookupError(f"case {row.case_id} has no events")
    keys = OrderKeys(accession=row.accession)
    if order is not None:
        keys = OrderKeys(
            accession=order.accession,
            placer_order=order.placer_order,
            filler_order=order.filler_order,
            service_code=order.service_code,
            service_text=order.service_text,
            service_system=order.service_system,
            ordering_provider=order.ordering_provider,
            # After a merge (A40) the case's MRN is not in the ids the order came with.
            patient_ids=order.patient_ids if case.patient.mrn in order.patient_ids else "",
            visit_number=order.visit_number,
        )
    if row.message_type == RESULT:
        points = await vitals(db, row.case_id, case.last_at)
        return await asyncio.to_thread(
            build_result, case, keys, vitals=points, control_id=row.control_id, now=now, party=party
        )
    at = case.last_at
    return await asyncio.to_thread(
        build_status,
        case,
        keys,
        status=str(row.payload["status"]),
        at=at,
        control_id=row.control_id,
        now=now,
        party=party,
    )
