"""`procsuite simulate ...`: the simulated monitor, fluoroscopy unit and hospital system.

Each subcommand is usable alone against a running `procsuite serve` (or any real peer):

    procsuite simulate monitor --room IR1 --device mon1 --scenario embolism@600 --speed 10
    procsuite simulate modality --station FLUORO1 --room IR1
    procsuite simulate his send-day --rooms IR1,IR2
    procsuite simulate his receive --port 2576 --slow 5
    procsuite simulate case --accession ACC1 --procedure kyphoplasty --levels T12,L1
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from simulators.cli_case import case
from simulators.cli_common import run_until_signal
from simulators.cli_his import his
from simulators.cli_pcd01 import pcd01
from simulators.clock import SimClock
from simulators.dicom_objects import Equipment
from simulators.fluoro_dose import Technique
from simulators.fluoro_session import Plan, perform
from simulators.modality import Modality, ModalityError, Peer, levels_in
from simulators.monitor import Monitor
from simulators.monitor_model import MonitorModel
from simulators.scenarios import ScenarioError, parse_all
from simulators.worklist import pick

log = logging.getLogger(__name__)


def _start(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time", param_hint="--start"
        ) from None
    if value.tzinfo is None:
        raise click.BadParameter(f"{text!r} needs a time zone (e.g. +01:00 or Z)")
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING or ERROR."
)
def simulate(log_level: str) -> None:
    """Simulated devices and hospital systems speaking procsuite's public wire contracts
    (MQTT, DICOM, HL7 v2 over MLLP): a real device can take any one's place."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# ---- monitor -----------------------------------------------------------------------------------


@simulate.command()
@click.option("--room", required=True, help="Room the monitor is in (topic rooms/<room>).")
@click.option(
    "--device", default="mon1", show_default=True, help="Device id (topic vitals/<device>)."
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="KIND[@START][+DURATION][=VALUE], repeatable: stable, oversedation, vasovagal, embolism,"
    " sensor_off, dropout, clock_skew, implausible, offline (times in s, or 90s/10m/1h).",
)
@click.option("--rate", default=1.0, show_default=True, help="Samples per second (Hz).")
@click.option("--speed", default=1.0, show_default=True, help="Simulated seconds per real second.")
@click.option(
    "--mqtt-url", envvar="PROCSUITE_MQTT_URL", default="mqtt://127.0.0.1:1883", show_default=True
)
@click.option(
    "--site",
    envvar="PROCSUITE_SITE",
    default="main",
    show_default=True,
    help="Topic root procsuite/<site>.",
)
@click.option(
    "--seed", default=1, show_default=True, help="The patient (baseline, noise) from this seed."
)
@click.option(
    "--nibp-interval", default=180.0, show_default=True, help="Seconds between cuff measurements."
)
@click.option(
    "--duration",
    default=None,
    type=float,
    help="Stop after this many simulated seconds (default: Ctrl-C).",
)
@click.option(
    "--start",
    "start_text",
    default=None,
    help="Device time at start (ISO 8601 with zone; default now).",
)
def monitor(
    room: str,
    device: str,
    scenarios: tuple[str, ...],
    rate: float,
    speed: float,
    mqtt_url: str,
    site: str,
    seed: int,
    nibp_interval: float,
    duration: float | None,
    start_text: str | None,
) -> None:
    """A bedside monitor publishing vitals (and online/offline status) over MQTT."""
    try:
        chosen = parse_all(list(scenarios))
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from None
    clock = SimClock(start=_start(start_text), speed=speed)
    model = MonitorModel(
        start_at=clock.now(),
        scenarios=chosen,
        seed=seed,
        rate_hz=rate,
        nibp_interval_s=nibp_interval,
    )
    mon = Monitor(model, room=room, device=device, clock=clock, site=site, mqtt_url=mqtt_url)
    click.echo(
        f"monitor {room}/{device}: patient seed {seed} baseline {model.baseline}; scenarios:"
        f" {', '.join(map(str, chosen)) or 'stable'}; publishing to {mon.vitals_topic}",
        err=True,
    )

    async def main(stop: asyncio.Event) -> Any:
        return await mon.run(duration_s=duration, stop=stop)

    stats = run_until_signal(main)
    click.echo(
        f"monitor {room}/{device}: {stats.published} published, {stats.hidden} hidden by scenarios,"
        f" {stats.dropped} dropped while disconnected, {stats.connects} connection(s)"
    )


# ---- modality ----------------------------------------------------------------------------------


@simulate.command()
@click.option(
    "--station",
    default="FLUORO1",
    show_default=True,
    help="Our AE title (the worklist's station AE).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="procsuite's DICOM host.")
@click.option("--port", default=11112, show_default=True, help="procsuite's DICOM port.")
@click.option("--called-ae", default="PROCSUITE", show_default=True, help="procsuite's AE title.")
@click.option(
    "--worklist/--no-worklist",
    default=True,
    show_default=True,
    help="Query the worklist (required to perform).",
)
@click.option(
    "--any-station", is_flag=True, help="Query without our station AE title (pick by --room)."
)
@click.option(
    "--date",
    "on",
    default=None,
    help="Scheduled date to query (YYYY-MM-DD; default today; 'any' for all).",
)
@click.option(
    "--room", default=None, help="Pick the worklist item of this room (location / station name)."
)
@click.option(
    "--accession", default=None, help="Pick the worklist item with this accession number."
)
@click.option(
    "--levels", default=None, help="Levels to treat (default: those named in the worklist item)."
)
@click.option(
    "--kyphoplasty/--vertebroplasty", default=None, help="Default: from the worklist item."
)
@click.option("--pace", default=60.0, show_default=True, help="Simulated seconds between steps.")
@click.option("--speed", default=1.0, show_default=True, help="Simulated seconds per real second.")
@click.option(
    "--discontinue-after", default=None, type=int, help="Stop after N levels: MPPS DISCONTINUED."
)
@click.option(
    "--dose-scale",
    default=1.0,
    show_default=True,
    help="Multiply every dose rate (e.g. 100 to reach the 3 Gy notification level).",
)
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Also write every object sent here.",
)
@click.option("--list", "list_only", is_flag=True, help="Only list the worklist items.")
def modality(
    station: str,
    host: str,
    port: int,
    called_ae: str,
    worklist: bool,
    any_station: bool,
    on: str | None,
    room: str | None,
    accession: str | None,
    levels: str | None,
    kyphoplasty: bool | None,
    pace: float,
    speed: float,
    discontinue_after: int | None,
    dose_scale: float,
    out_dir: Path | None,
    list_only: bool,
) -> None:
    """A fluoroscopy unit: worklist, MPPS, XA images and a radiation dose SR."""
    if not worklist:
        raise click.UsageError(
            "the simulated unit performs worklist items only: drop --no-worklist"
        )
    clock = SimClock(speed=speed)
    unit = Modality(
        clock=clock,
        peer=Peer(host=host, port=port, ae_title=called_ae),
        equipment=Equipment(ae_title=station, station_name=station),
        technique=Technique().scaled(dose_scale),
        out_dir=out_dir,
    )
    day = _query_day(on, clock)

    async def main(stop: asyncio.Event) -> str:
        items = await unit.query_worklist(on=day, any_station=any_station)
        if list_only:
            if items:
                return "\n".join(i.label for i in items)
            return "worklist is empty" + (
                ""
                if any_station
                else f" for station {station} (procsuite gives a room's items to"
                " its station with PROCSUITE_DICOM__STATIONS; or use --any-station)"
            )
        item = pick(items, room=room, accession=accession)
        if item is None:
            raise click.ClickException(
                f"no worklist item for station {station}"
                + (f", room {room}" if room else "")
                + (f", accession {accession}" if accession else "")
                + f" among {len(items)} item(s) (try --any-station or --date any)"
            )
        described = f"{item.requested_procedure_description} {item.sps_description}"
        chosen_levels = (
            tuple(v.strip().upper() for v in levels.split(","))
            if levels
            else tuple(levels_in(described))
        )
        kypho = kyphoplasty if kyphoplasty is not None else "kypho" in described.lower()
        plan = Plan(
            levels=chosen_levels or ("L1",),
            kyphoplasty=kypho,
            pace_s=pace,
            discontinue_after_level=discontinue_after,
        )
        click.echo(
            f"performing {item.label}: {'kyphoplasty' if kypho else 'vertebroplasty'} {', '.join(plan.levels)}"
        )
        step = await perform(unit, item, plan, location=room or item.location, progress=click.echo)
        return f"done: {len(step.ctx.images)} images and 1 dose report sent to {unit.peer}"

    try:
        click.echo(run_until_signal(main))
    except ModalityError as exc:
        raise click.ClickException(str(exc)) from None


def _query_day(on: str | None, clock: SimClock) -> date | None:
    """--date: a day (YYYY-MM-DD), "any" (no date key), or today by the clock."""
    if on == "any":
        return None
    try:
        return date.fromisoformat(on) if on else clock.now().astimezone().date()
    except ValueError:
        raise click.BadParameter(
            f"{on!r} is not YYYY-MM-DD or 'any'", param_hint="--date"
        ) from None


simulate.add_command(his)
simulate.add_command(case)
simulate.add_command(pcd01)


# ---- SDC monitor -------------------------------------------------------------------------------


@simulate.command("sdc-monitor")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=0, show_default=True, help="HTTP port (0: any free one).")
@click.option("--epr", default=None, help="Endpoint reference (urn:uuid:...; default random).")
@click.option(
    "--location",
    default="",
    help="Location scope for discovery, e.g. fac=HOSP,poc=IR,rm=IR1 (keys fac bldng flr poc rm bed).",
)
@click.option(
    "--tls-folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Mutual TLS: folder with userkey.pem, usercert.pem, cacert.pem.",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="KIND[@START][+DURATION][=VALUE], repeatable (as for `simulate monitor`).",
)
@click.option("--rate", default=1.0, show_default=True, help="Metric updates per second (Hz).")
@click.option("--speed", default=1.0, show_default=True, help="Simulated seconds per real second.")
@click.option("--seed", default=1, show_default=True, help="The patient from this seed.")
@click.option(
    "--nibp-interval", default=180.0, show_default=True, help="Seconds between cuff measurements."
)
@click.option("--duration", default=None, type=float, help="Stop after this many simulated s.")
def sdc_monitor(
    address: str,
    port: int,
    epr: str | None,
    location: str,
    tls_folder: Path | None,
    scenarios: tuple[str, ...],
    rate: float,
    speed: float,
    seed: int,
    nibp_interval: float,
    duration: float | None,
) -> None:
    """A patient monitor speaking IEEE 11073 SDC (an sdc11073 provider) with HR, SpO2, NIBP,
    RR, EtCO2 and temperature from the physiology scenarios."""
    from simulators.sdc_monitor import SdcMonitor

    try:
        chosen = parse_all(list(scenarios))
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from None
    where: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in location.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in ("fac", "bldng", "flr", "poc", "rm", "bed"):
            raise click.BadParameter(f"{part!r} is not KEY=VALUE", param_hint="--location")
        where[key] = value
    clock = SimClock(start=None, speed=speed)
    model = MonitorModel(
        start_at=clock.now(), scenarios=chosen, seed=seed, rate_hz=rate,
        nibp_interval_s=nibp_interval,
    )  # fmt: skip
    mon = SdcMonitor(address=address, port=port, epr=epr, location=where, tls_folder=tls_folder)

    async def main(stop: asyncio.Event) -> Any:
        task = asyncio.create_task(mon.run(model, clock=clock, duration_s=duration, stop=stop))
        while not mon.serving and not task.done():  # noqa: ASYNC110  (start-up, once)
            await asyncio.sleep(0.1)
        if mon.serving:
            click.echo(f"sdc-monitor {mon.epr} at {mon.xaddr}", err=True)
        return await task

    published = run_until_signal(main)
    click.echo(f"sdc-monitor: {published} metric updates published")
