"""`procsuite tui --user NAME`: the dashboard, connected to the service over MQTT only.

Several terminals may watch one suite; each sends commands as its user, and the service
checks every command against that user's role.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from suite.domain.alarms.model import Priority
from suite.settings import SettingsError, TuiSettings, load_settings
from tui.annunciator import SoundMode, SoundPlan


@click.command("tui")
@click.option("--user", required=True, help="Your user name on the service (it knows your role).")
@click.option("--mqtt-url", default=None, help="Broker URL (default: the configured mqtt_url).")
@click.option("--site", default=None, help="Site name (default: the configured site).")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the dashboard's own log here (the screen is the terminal).",
)
@click.option(
    "--sound",
    type=click.Choice([m.value for m in SoundMode]),
    default=None,
    help="Sound unacknowledged alarms with the terminal bell, the sound commands, or not at "
    "all (default: the configured tui.sound, bell).",
)
@click.option(
    "--sound-command",
    "sound_commands",
    multiple=True,
    metavar="PRIORITY=COMMAND",
    help="The command to run for a priority's sound, e.g. 'high=aplay /srv/high.wav' "
    "(repeatable; implies --sound command).",
)
@click.pass_context
def tui_command(
    ctx: click.Context,
    user: str,
    mqtt_url: str | None,
    site: str | None,
    log_file: Path | None,
    sound: str | None,
    sound_commands: tuple[str, ...],
) -> None:
    """The terminal dashboard: suite board, cases, vitals and alarms, integration."""
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    try:
        settings = obj.get("settings") or load_settings(obj.get("config"))
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    plan = sound_plan(settings.tui, sound=sound, commands=sound_commands)
    if log_file is not None:
        logging.basicConfig(filename=log_file, level=settings.log_level)
    from tui.app import SuiteApp
    from tui.mqtt_client import MqttSuiteClient

    try:
        client = MqttSuiteClient(
            mqtt_url or settings.mqtt_url,
            site=site or settings.site,
            user=user,
            username=settings.tui.username,
            password=settings.tui.password,
            reply_timeout_s=settings.tui.reply_timeout_s,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    SuiteApp(client, stale_after_s=settings.tui.stale_after_s, sound=plan).run()


def sound_plan(tui: TuiSettings, *, sound: str | None, commands: tuple[str, ...]) -> SoundPlan:
    """The dashboard's sounds from its settings, the command line winning."""
    by_priority = {Priority(p): c for p, c in tui.sound_commands.items()}
    for given in commands:
        name, sep, line = given.partition("=")
        if not sep or name.strip().lower() not in {p.value for p in Priority} or not line.strip():
            raise click.BadParameter(
                f"{given!r}: expected PRIORITY=COMMAND, PRIORITY high, medium or low",
                param_hint="--sound-command",
            )
        by_priority[Priority(name.strip().lower())] = line.strip()
    mode = SoundMode(sound or ("command" if commands else tui.sound))
    return SoundPlan(
        mode=mode,
        repeat_s={Priority(p): s for p, s in tui.repeat_s.items()},
        commands=by_priority,
        timeout_s=tui.sound_timeout_s,
    )
