"""`procsuite simulate case`: one whole case driven through a running service's MQTT
command channel, step by step, as its technologist, nurse and radiologist (case_script.py)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from simulators.case_plan import Pace, Role, plan_case
from simulators.case_script import (
    CaseScript,
    CaseScriptError,
    ImageMode,
    ImagesByScript,
    LoggedStep,
    ServicePacedClock,
)
from simulators.cli_common import run_until_signal
from simulators.clock import SimClock
from simulators.mqtt_commands import CommandLink, LinkError

_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smh])$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0}


def start_time(text: str, *, service_now: datetime) -> datetime:
    """`--start`: "now" (the service's time), "-90m" / "-2h" / "-600s" before it, or an ISO
    8601 time with a zone."""
    text = text.strip()
    if text == "now":
        return service_now
    match = _RELATIVE.match(text)
    if match:
        return service_now - timedelta(seconds=float(match[1]) * _UNIT_S[match[2]])
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not now, -90m, -2h or an ISO 8601 time", param_hint="--start"
        ) from None
    if value.tzinfo is None:
        raise click.BadParameter(f"{text!r} needs a time zone", param_hint="--start")
    return value


HELP = """One whole case through a running service's MQTT command channel (the dashboard's):
check-in, checklist, labs (nurse), time-out (radiologist), sedation (nurse), positioning,
local, trocar, balloon, cement (technologist), imaging check (radiologist), closure,
recovery and discharge, each step logged with its time `at`.

\b
Time: steps are stamped on a simulated clock from --start at --speed, but never more than
--max-ahead seconds ahead of the service's clock (read from its MQTT status): the service
refuses steps from the future. Against `procsuite serve` on real time, --speed pays only
while the timeline is in the past: `--start -100m --speed 60` replays a case scheduled
earlier (e.g. by `simulate his send-day`) in under two minutes, ending at about the
service's present; with --start now the case runs at the service's pace.

\b
The imaging check needs an image received after the last cement injection:
--images log (default) logs one as the technologist (no modality in the room);
--images wait waits for a modality (`simulate modality`, a real one) to send it.
"""


def read_credentials(path: Path) -> dict[str, str]:
    """`user password` per line (blank lines and # comments skipped)."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, _, password = line.strip().partition(" ")
        if not password:
            raise click.UsageError(f"{path}:{number}: expected 'user password'")
        found[user] = password
    return found


@click.command("case", help=HELP)
@click.option("--case-id", default=None, help="The case (its id).")
@click.option("--accession", default=None, help="The case (its order's accession number).")
@click.option("--procedure", required=True, type=click.Choice(["vertebroplasty", "kyphoplasty"]))
@click.option("--levels", required=True, help="Planned levels, comma-separated (T12,L1).")
@click.option("--speed", default=1.0, show_default=True, help="Simulated seconds per real second.")
@click.option(
    "--start", "start_text", default="now", show_default=True,
    help="Timeline start: now (the service's clock), -90m / -2h before it, or ISO 8601.",
)  # fmt: skip
@click.option(
    "--mqtt-url", envvar="PROCSUITE_MQTT_URL", default="mqtt://127.0.0.1:1883", show_default=True
)
@click.option("--site", envvar="PROCSUITE_SITE", default="main", show_default=True)
@click.option(
    "--credentials", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="File of 'user password' lines (`procsuite broker passwd --generate` writes one): each"
    " role connects to the broker as its own user (brokers with ACLs). mqtts:// URLs trust the"
    " CAs of SSL_CERT_FILE.",
)  # fmt: skip
@click.option("--user-tech", default="tech1", show_default=True, help="Technologist's user.")
@click.option("--user-nurse", default="nurse1", show_default=True, help="Nurse's user.")
@click.option("--user-rad", default="rad1", show_default=True, help="Radiologist's user.")
@click.option(
    "--images", type=click.Choice([m.value for m in ImageMode]), default="log", show_default=True
)
@click.option(
    "--image-timeout",
    default=600.0,
    show_default=True,
    help="Real seconds to wait (--images wait).",
)
@click.option(
    "--pace", default=1.0, show_default=True, help="Multiply the gaps between steps (0.5: faster)."
)
@click.option(
    "--recovery-s", default=3600.0, show_default=True,
    help="The service's recovery_stable_vitals_s: discharge comes a minute after it.",
)  # fmt: skip
@click.option(
    "--max-ahead", default=60.0, show_default=True,
    help="Seconds a step may be ahead of the service's clock (its guard allows 120).",
)  # fmt: skip
@click.option(
    "--schedule", "schedule_room", default=None,
    help="Schedule the case in this room first (needs --accession and --mrn).",
)  # fmt: skip
@click.option("--mrn", default=None, help="With --schedule: the patient's MRN.")
@click.option("--name", default="", help="With --schedule: the patient's name (Family^Given).")
@click.option("--sex", default="U", type=click.Choice(["F", "M", "O", "U"]))
@click.option("--birth-date", default=None, help="With --schedule: YYYY-MM-DD.")
def case(**opts: Any) -> None:
    ref = opts["case_id"] or opts["accession"]
    if not ref or (opts["case_id"] and opts["accession"]):
        raise click.UsageError("give the case by --case-id or by --accession (one of them)")
    if opts["schedule_room"] and not (opts["accession"] and opts["mrn"]):
        raise click.UsageError("--schedule needs --accession and --mrn")
    levels = tuple(v.strip().upper() for v in opts["levels"].split(",") if v.strip())
    try:
        pace = Pace(discharge_s=opts["recovery_s"] + 60.0).scaled(opts["pace"])
        plan = plan_case(opts["procedure"], levels, radiologist=opts["user_rad"], pace=pace)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    def say(step: LoggedStep) -> None:
        change = f" -> {step.phase}" if step.phase != step.previous_phase else ""
        click.echo(f"{step.at:%H:%M:%S}  {step.label:<20} by {step.user}{change}")

    passwords = read_credentials(opts["credentials"]) if opts["credentials"] else {}

    def link(user: str, **kw: Any) -> CommandLink:
        if passwords and user not in passwords:
            raise click.UsageError(f"{opts['credentials']} has no password for {user}")
        return CommandLink(
            opts["mqtt_url"], site=opts["site"], user=user, password=passwords.get(user), **kw
        )

    async def main(stop: asyncio.Event) -> str:
        async with (
            link(opts["user_tech"], watch_rooms=True) as tech,
            link(opts["user_nurse"]) as nurse,
            link(opts["user_rad"]) as rad,
        ):
            service_now = await _service_clock(tech)
            begin = start_time(opts["start_text"], service_now=service_now())
            clock = ServicePacedClock(
                SimClock(start=begin, speed=opts["speed"]),
                service_now,
                max_ahead_s=opts["max_ahead"],
            )
            if opts["schedule_room"]:
                await _schedule(tech, opts, levels, at=clock.now())
            images = ImagesByScript(
                ImageMode(opts["images"]), watch=tech, timeout_s=opts["image_timeout"]
            )
            script = CaseScript(
                plan,
                case_ref=ref,
                links={Role.TECHNOLOGIST: tech, Role.NURSE: nurse, Role.RADIOLOGIST: rad},
                clock=clock,
                hooks=[images],
                on_step=say,
                label=ref,
            )
            click.echo(
                f"case {ref}: {plan.procedure} {','.join(plan.levels)}, {len(plan.steps)} steps"
                f" over {plan.duration_s / 60:.0f} simulated minutes from"
                f" {begin.astimezone():%H:%M}, speed {opts['speed']:g}x"
            )
            await script.run(stop)
            if not script.done:
                return f"case {script.case_id or ref}: stopped in phase {script.phase}"
            return f"case {script.case_id} discharged: {len(script.logged)} steps logged"

    try:
        click.echo(run_until_signal(main))
    except (LinkError, CaseScriptError) as exc:
        raise click.ClickException(str(exc)) from None


async def _service_clock(link: CommandLink) -> Any:
    """The service's clock as it reports it (its retained status); this machine's otherwise."""
    for _ in range(30):
        if link.service_now() is not None:
            break
        await asyncio.sleep(0.1)
    if link.service_now() is None:
        click.echo("note: no status from the service seen; assuming its clock is this machine's")
        return lambda: datetime.now(UTC)
    return lambda: link.service_now() or datetime.now(UTC)


async def _schedule(
    link: CommandLink, opts: dict[str, Any], levels: tuple[str, ...], *, at: datetime
) -> None:
    fields = {
        "mrn": opts["mrn"],
        "name": opts["name"],
        "sex": opts["sex"],
        "birth_date": opts["birth_date"],
        "accession": opts["accession"],
        "procedure": opts["procedure"],
        "levels": list(levels),
        "room": opts["schedule_room"],
        "at": at.isoformat(),
    }
    reply = await link.send("schedule_case", fields={k: v for k, v in fields.items() if v})
    if not reply.ok:
        raise click.ClickException(f"schedule_case refused ({reply.rule}): {reply.error}")
    click.echo(f"scheduled case {reply.result.get('case_id')} in {opts['schedule_room']}")
