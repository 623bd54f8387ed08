"""`procsuite demo`: the whole suite on embedded defaults with a simulated day (demo.py).

It runs in one process: the embedded MQTT broker, the service on SQLite under `--data-dir`
(a fresh database each run), the simulated HIS, monitors and fluoroscopy units, the case
scripts and the scripted nurse, and (without `--headless`) the terminal dashboard.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from procsuite.demo import Demo, DemoError
from procsuite.demo_monitors import sdc_location
from simulators.demo_day import DEVICE, ROOMS, STATIONS, USERS, day_start, speed_allowances
from simulators.demo_report import DemoSummary
from suite.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

MARKER = ".procsuite-demo"
EXIT_INTERRUPTED = 130


class DemoProblems(click.ClickException):
    """The day ran but something was missing or wrong (exit 1; the summary lists it)."""


class DemoInterrupted(click.ClickException):
    """Ctrl-C (SIGINT) or SIGTERM before the day was over (exit 130, as shells do)."""

    exit_code = EXIT_INTERRUPTED


def fresh_data_dir(path: Path) -> None:
    """Empty `path` for a new demo run; refuse a directory the demo did not make."""
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).is_file():
            raise DemoError(
                f"{path} holds files the demo did not make; the demo starts a fresh database"
                " each run and will not wipe it: choose another --data-dir"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("made by `procsuite demo`; emptied at each demo run\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_for(port: int, *, what: str, option: str) -> int:
    """`port`, or a free one for 0; `DemoError` naming the option when it is taken."""
    if port == 0:
        return free_port()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(
                f"{what} port {port} is in use on 127.0.0.1 (another procsuite, or a"
                f" mosquitto?): choose another with {option} (0 picks a free one)"
            ) from None
    return port


def demo_settings(
    base: dict[str, Any],
    *,
    data_dir: Path,
    speed: float,
    ports: dict[str, int],
    user: str,
    pcd01: bool = False,
    sdc_rooms: tuple[str, ...] = (),
) -> Settings:
    """The service's settings for the demo (over the configuration file and environment)."""
    users = dict(USERS)
    users.setdefault(user, "admin")
    return load_settings(
        base.get("config"),
        data_dir=data_dir,
        db_url=None,
        mqtt_url=f"mqtt://127.0.0.1:{ports['mqtt']}",
        dicom_port=ports["dicom"],
        hl7_port=ports["hl7"],
        rooms=list(ROOMS),
        users=users,
        mqtt={"embedded": True, "state_interval_s": 0.25, "state_refresh_s": 2.0},
        dicom={"stations": dict(STATIONS)},
        hl7={
            "outbound_host": "127.0.0.1",
            "outbound_port": ports["his"],
            "retry_initial_s": 0.5,
            "retry_max_s": 5.0,
        },
        alarms={"config": speed_allowances(speed), "tick_s": 0.25},
        devices={"pcd01": {"enabled": pcd01, "port": ports.get("pcd01", 2577)}},
        sdc={
            "enabled": bool(sdc_rooms),
            "providers": [
                {"device": DEVICE, "room": room, "location": sdc_location(room)}
                for room in sdc_rooms
            ],
        },
    )


def _log_to(level: str, *, path: Path | None) -> logging.Handler:
    handler: logging.Handler = (
        logging.FileHandler(path, encoding="utf-8")
        if path is not None
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("pynetdicom", "transitions", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The embedded broker warns at shutdown about the monitors' last messages in flight;
    # sdc11073 warns of every report whose states carry the demo's simulated time.
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    logging.getLogger("sdc.client.mdib").setLevel(logging.ERROR)
    return handler


async def _dashboard(demo: Demo, stop: asyncio.Event, *, user: str) -> None:
    """The terminal dashboard, connected over MQTT as `user`, until it quits or `stop`."""
    from textual.binding import Binding

    from tui.app import SuiteApp
    from tui.mqtt_client import MqttSuiteClient

    class DemoApp(SuiteApp):
        # Ctrl-C quits too, as people expect of a demo (the dashboard's own key is Ctrl-Q).
        BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    speed = demo.clock.speed
    client = MqttSuiteClient(demo.mqtt_url, site=demo.settings.site, user=user, clock=demo.clock)
    refresh = demo.settings.mqtt.state_refresh_s
    app = DemoApp(
        client, clock=demo.clock, tz=demo.zone, stale_after_s=max(30.0, 5 * refresh * speed)
    )
    app.sub_title = f"demo at {speed:g}x simulated time, as {user}"

    async def quit_on_stop() -> None:
        await stop.wait()
        while True:  # until the dashboard has ended (an exit before it runs would be lost)
            app.exit()
            await asyncio.sleep(0.2)

    if stop.is_set():
        return
    watcher = asyncio.create_task(quit_on_stop())
    try:
        await app.run_async()
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


@click.command("demo")
@click.option("--headless", is_flag=True, help="No dashboard: progress lines, then a summary.")
@click.option(
    "--speed",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1, max=600),
    help="Simulated seconds per real second (60: an hour in a minute).",
)
@click.option(
    "--data-dir",
    default=Path("var/demo"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Fresh SQLite database, DICOM files, HIS journal and summary (emptied each run).",
)
@click.option("--user", default="admin1", show_default=True, help="The dashboard's user.")
@click.option("--mqtt-port", default=1883, show_default=True, help="Embedded broker (0: any).")
@click.option("--dicom-port", default=11112, show_default=True, help="DICOM listener (0: any).")
@click.option("--hl7-port", default=2575, show_default=True, help="HL7 MLLP listener (0: any).")
@click.option(
    "--his-port", default=2576, show_default=True, help="Simulated HIS receiver (0: any)."
)
@click.option(
    "--pcd01-room",
    "pcd01_rooms",
    multiple=True,
    type=click.Choice(ROOMS),
    help="This room's monitor sends IHE PCD-01 through a gateway instead of MQTT (repeatable).",
)
@click.option("--pcd01-port", default=2577, show_default=True, help="PCD-01 listener (0: any).")
@click.option(
    "--sdc-room",
    "sdc_rooms",
    multiple=True,
    type=click.Choice(ROOMS),
    help="This room's monitor is an IEEE 11073 SDC provider instead of MQTT (repeatable).",
)
@click.option(
    "--start",
    "start_text",
    default=None,
    help="Simulated start (ISO 8601 with zone); default 08:40 today, local time.",
)
@click.option(
    "--log-level",
    default="WARNING",
    show_default=True,
    help="Service log level (to stderr headless, else to <data-dir>/demo.log).",
)
@click.pass_context
def demo_command(ctx: click.Context, /, **opts: Any) -> None:
    """A simulated suite day on embedded defaults, opening mid-morning with work under way:
    IR1 in cement injection of a kyphoplasty (T12, L1, L2; a cement embolism on L1), IR2 just
    sedated for a vertebroplasty (an oversedation), IR3 in recovery after a long case that
    crossed the 3 Gy dose notification, booked cases waiting (IR4 and the next cases). Each
    case runs to discharge with its monitor and fluoroscopy unit; the nurse acknowledges the
    alarms; then the terminal dashboard (or, --headless, progress lines and a summary).
    Ctrl-C stops everything."""
    began = time.perf_counter()
    base: dict[str, Any] = ctx.find_root().ensure_object(dict)
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    try:
        start = (
            datetime.fromisoformat(opts["start_text"].replace("Z", "+00:00"))
            if opts["start_text"]
            else day_start(datetime.now(zone).date(), zone)
        )
    except ValueError:
        raise click.BadParameter("not an ISO 8601 time", param_hint="--start") from None
    if start.tzinfo is None:
        raise click.BadParameter("needs a time zone (e.g. +01:00 or Z)", param_hint="--start")
    data_dir: Path = opts["data_dir"]
    try:
        ports = {
            "mqtt": port_for(opts["mqtt_port"], what="MQTT", option="--mqtt-port"),
            "dicom": port_for(opts["dicom_port"], what="DICOM", option="--dicom-port"),
            "hl7": port_for(opts["hl7_port"], what="HL7", option="--hl7-port"),
            "his": port_for(opts["his_port"], what="simulated HIS", option="--his-port"),
        }
        if opts["pcd01_rooms"]:
            ports["pcd01"] = port_for(opts["pcd01_port"], what="PCD-01", option="--pcd01-port")
        fresh_data_dir(data_dir)
        settings = demo_settings(
            base, data_dir=data_dir, speed=opts["speed"], ports=ports, user=opts["user"],
            pcd01=bool(opts["pcd01_rooms"]), sdc_rooms=tuple(opts["sdc_rooms"]),
        )  # fmt: skip
    except (DemoError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    headless = bool(opts["headless"])
    if not headless:
        # The dashboard opens once the cases already under way have reached their steps.
        click.echo("procsuite demo: opening the day (cases already under way)...")
    handler = _log_to(opts["log_level"], path=None if headless else data_dir / "demo.log")
    if not headless:
        log.setLevel(logging.INFO)  # the progress lines go to the log behind the dashboard
    try:
        summary = asyncio.run(
            _run(settings, start=start, speed=opts["speed"], headless=headless, user=opts["user"],
                 his_port=ports["his"], began=began, pcd01_rooms=tuple(opts["pcd01_rooms"]),
                 sdc_rooms=tuple(opts["sdc_rooms"]))
        )  # fmt: skip
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    for line in summary.lines():
        click.echo(line)
    summary_path = data_dir / "summary.json"
    summary.save(summary_path)
    click.echo(f"summary written to {summary_path}")
    if summary.interrupted and headless:
        raise DemoInterrupted("interrupted before the day was over")
    if not summary.interrupted and not summary.ok:
        raise DemoProblems(f"the demo found {len(summary.problems())} problem(s); see the summary")


async def _run(
    settings: Settings,
    *,
    start: datetime,
    speed: float,
    headless: bool,
    user: str,
    his_port: int,
    began: float,
    pcd01_rooms: tuple[str, ...] = (),
    sdc_rooms: tuple[str, ...] = (),
) -> DemoSummary:
    from simulators.clock import SimClock

    zone = start.tzinfo
    assert zone is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def say(line: str) -> None:
        if headless:
            click.echo(line)
            sys.stdout.flush()
        else:
            log.info("%s", line)

    demo = Demo(
        settings,
        clock=SimClock(start=start, speed=speed),
        zone=zone,
        his_port=his_port,
        write=say,
        started=began,
        headless=headless,
        pcd01_rooms=pcd01_rooms,
        sdc_rooms=sdc_rooms,
    )

    async def ui(stop_ui: asyncio.Event) -> None:
        await _dashboard(demo, stop_ui, user=user)

    try:
        return await demo.run(stop, ui=None if headless else ui)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
