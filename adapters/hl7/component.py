"""Wiring: the HL7 components this configuration asks for (called by `build_components`).

- `settings.hl7.enabled`: the MLLP listener on `settings.hl7_port` (each message is written
  in the transaction of the case command it causes, passed to `CaseService.execute` as
  `also`; its case index follows every case through a case-service hook).
- `settings.hl7.outbound_host` set: the outbox hook (status and results written with the case
  events that cause them) and, on the instance with the site-wide duties, the sender that
  delivers them (every instance's rows, in order, from the shared outbox).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from adapters.hl7.inbound import Identity, InboundProcessor, local_zone
from adapters.hl7.journal import Journal
from adapters.hl7.listener import Hl7Listener
from adapters.hl7.orders import OrderRules
from adapters.hl7.outbox import Outbox
from suite.peers import PeerLimits, parse_networks
from suite.tls import server_tls

if TYPE_CHECKING:
    from suite.app.case_service import CaseService
    from suite.app.context import ServiceContext
    from suite.settings import Settings


def register_outbox(
    cases: CaseService, settings: Settings, *, clock: Callable[[], datetime]
) -> Outbox | None:
    """Add the outbox hook to a case service when an outbound destination is configured.

    The service does this itself; a process that runs case commands outside the service
    (e.g. `procsuite case log`) calls it too, or its steps queue no outbound messages.
    """
    destination = settings.hl7.outbound_destination
    if destination is None:
        return None
    outbox = Outbox(destination=destination, clock=clock)
    cases.add_hook(outbox.hook)
    return outbox


def hl7_components(ctx: ServiceContext) -> list[Any]:
    """The listener and / or the sender, with their hooks registered on `ctx.cases`."""
    settings = ctx.settings
    h = settings.hl7
    components: list[Any] = []
    if h.enabled:
        journal = Journal(ctx.db, memory=h.duplicate_memory)
        processor = InboundProcessor(
            cases=ctx.cases,
            journal=journal,
            identity=Identity(h.sending_application, h.sending_facility),
            rules=OrderRules(
                codes=dict(h.procedure_codes),
                rooms=tuple(settings.rooms),
                default_room=h.default_room or (settings.rooms[0] if settings.rooms else "IR"),
                window=timedelta(days=h.order_window_days),
            ),
            zone=ZoneInfo(h.time_zone) if h.time_zone else local_zone(),
            default_charset=h.default_charset,
            processing_ids=h.processing_ids,
            clock=ctx.clock,
            parse_thread_bytes=h.parse_thread_bytes,
            parse_budget_s=h.parse_budget_s,
        )
        ctx.cases.add_hook(processor.index.hook)
        tls = None
        if h.tls_cert_file is not None and h.tls_key_file is not None:
            tls = server_tls(h.tls_cert_file, h.tls_key_file, h.tls_client_ca_file)
        components.append(
            Hl7Listener(
                processor,
                journal,
                host=h.host,
                port=settings.hl7_port,
                max_frame_bytes=h.max_frame_bytes,
                frame_timeout_s=h.frame_timeout_s,
                max_connections=h.max_connections,
                limits=PeerLimits(
                    allowed=parse_networks(h.allowed_peers),
                    per_peer=h.max_connections_per_peer,
                    idle_timeout_s=h.idle_timeout_s,
                ),
                tls=tls,
            )
        )
    if h.outbound_destination is not None:
        if ctx.site_duties:
            from adapters.hl7.sender import build_sender

            components.append(build_sender(ctx))
        else:  # another instance sends; this one queues what its cases cause
            register_outbox(ctx.cases, settings, clock=ctx.clock)
    return components
