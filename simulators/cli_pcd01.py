"""`procsuite simulate pcd01`: a monitor gateway sending IHE PCD-01 ORU^R01 every N seconds.

    procsuite simulate pcd01 --room IR1 --port 2577 --every 5 --style mindray \\
        --scenario oversedation@60
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from simulators.cli_common import run_until_signal
from simulators.clock import SimClock
from simulators.monitor_model import MonitorModel
from simulators.pcd01_gateway import STYLES, Pcd01Gateway
from simulators.scenarios import ScenarioError, parse_all


@click.command("pcd01")
@click.option("--room", required=True, help="Room the monitor is in (PV1-3 room component).")
@click.option("--unit", default="IR", show_default=True, help="PV1-3 point of care.")
@click.option("--bed", default="1", show_default=True, help="PV1-3 bed.")
@click.option("--device", default="mon1", show_default=True, help="Device id (OBX-18).")
@click.option("--host", default="127.0.0.1", show_default=True, help="procsuite's PCD-01 host.")
@click.option("--port", default=2577, show_default=True, help="procsuite's PCD-01 port.")
@click.option("--every", default=5.0, show_default=True, help="Seconds between two messages.")
@click.option("--style", type=click.Choice(STYLES), default="ge", show_default=True,
              help="ge: sub-ids 1.n.c.m, mmHg; mindray: MDC code in the sub-id, cuff codes, kPa.")  # fmt: skip
@click.option("--scenario", "scenarios", multiple=True,
              help="KIND[@START][+DURATION][=VALUE], repeatable (as `simulate monitor`).")  # fmt: skip
@click.option("--speed", default=1.0, show_default=True, help="Simulated seconds per real second.")
@click.option("--seed", default=1, show_default=True, help="The patient from this seed.")
@click.option("--duration", default=None, type=float, help="Stop after this many simulated s.")
def pcd01(
    room: str, unit: str, bed: str, device: str, host: str, port: int, every: float,
    style: str, scenarios: tuple[str, ...], speed: float, seed: int, duration: float | None,
) -> None:  # fmt: skip
    """A monitor gateway sending the simulated patient's numerics as PCD-01 over MLLP."""
    if every <= 0:
        raise click.BadParameter("must be > 0", param_hint="--every")
    try:
        chosen = parse_all(list(scenarios))
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from None
    clock = SimClock(speed=speed)
    model = MonitorModel(start_at=clock.now(), scenarios=chosen, seed=seed, rate_hz=1 / every)
    gateway = Pcd01Gateway(model, host=host, port=port, location=f"{unit}^{room}^{bed}",
                           device=device, clock=clock, style=style)  # fmt: skip
    click.echo(f"pcd01 gateway {device}: {style} style every {every:g} s to {host}:{port}, "
               f"location {unit}^{room}^{bed}", err=True)  # fmt: skip

    async def main(stop: asyncio.Event) -> Any:
        return await gateway.run(duration_s=duration, stop=stop)

    stats = run_until_signal(main)
    click.echo(f"pcd01 gateway {device}: {stats.sent} sent, {stats.accepted} accepted (AA), "
               f"{stats.errors} AE/AR, {stats.failures} connection failures")  # fmt: skip
