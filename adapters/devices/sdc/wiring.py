"""How the composition root adds the SDC consumer: `components += sdc_components(ctx)`."""

from __future__ import annotations

from typing import Any

from adapters.devices.sdc.component import SdcConsumer
from suite.app.context import Component, ServiceContext


def sdc_components(ctx: ServiceContext) -> list[Component]:
    """The SDC consumer when providers are configured (none otherwise); registers the `sdc`
    section of the service status."""
    s = ctx.settings.sdc
    if not s.enabled or not s.providers:
        return []
    assert ctx.samples is not None and ctx.alarms is not None, "build_application runs first"
    consumer = SdcConsumer(
        settings=s, rooms=ctx.served, samples=ctx.samples, alarms=ctx.alarms, clock=ctx.clock
    )

    async def section(components: list[Any]) -> dict[str, Any]:
        return consumer.status()

    ctx.status_sections["sdc"] = section
    return [consumer]
