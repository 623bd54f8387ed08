"""Wiring: the device-gateway components this configuration asks for (one line in
procsuite/bootstrap.py `build_components`); they feed `ctx.samples` and register the
`devices` section of the service status.

- `devices.pcd01.enabled`: the PCD-01 listener feeding `ctx.samples`.
- `devices.pcd04.host` set, on the instance with the site-wide duties: the PCD-04 sender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from suite.tls import server_tls

if TYPE_CHECKING:
    from suite.app.context import ServiceContext


def device_components(ctx: ServiceContext) -> list[Any]:
    settings = ctx.settings
    components: list[Any] = []
    ctx.status_sections["devices"] = _status
    p = settings.devices.pcd01
    if p.enabled:
        from adapters.devices.pcd01.codec import LocationMap
        from adapters.devices.pcd01.listener import Pcd01Listener
        from adapters.devices.pcd01.processor import Pcd01Processor

        assert ctx.samples is not None  # the application layer builds it first
        processor = Pcd01Processor(
            samples=ctx.samples,
            locations=LocationMap(frozenset(ctx.served), dict(p.location_map)),
            db=ctx.db,
            clock=ctx.clock,
            application=p.sending_application,
            facility=p.sending_facility,
            journal_queue=p.journal_queue,
        )
        tls = None
        if p.tls_cert_file is not None and p.tls_key_file is not None:
            tls = server_tls(p.tls_cert_file, p.tls_key_file, p.tls_client_ca_file)
        components.append(
            Pcd01Listener(
                processor, host=p.host, port=p.port, max_frame_bytes=p.max_frame_bytes,
                frame_timeout_s=p.frame_timeout_s, max_connections=p.max_connections, tls=tls,
            )
        )  # fmt: skip
    if settings.devices.pcd04.host is not None and ctx.site_duties:
        from adapters.devices.pcd04.sender import build_pcd04_sender

        components.append(build_pcd04_sender(ctx))
    return components


async def _status(components: list[Any]) -> dict[str, Any]:
    """The `devices` section of the service status: each gateway component's counters."""
    return {
        str(c.name): c.status()
        for c in components
        if getattr(c, "kind", None) in ("pcd01", "pcd04", "sdc") and hasattr(c, "status")
    }
