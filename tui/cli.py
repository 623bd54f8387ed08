"""`procsuite tui --user NAME`: the dashboard, connected to the service over MQTT only.

Several terminals may watch one suite; each sends commands as its user, and the service
checks every command against that user's role.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from suite.settings import SettingsError, load_settings


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
@click.pass_context
def tui_command(
    ctx: click.Context, user: str, mqtt_url: str | None, site: str | None, log_file: Path | None
) -> None:
    """The terminal dashboard: suite board, cases, vitals and alarms, integration."""
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    try:
        settings = obj.get("settings") or load_settings(obj.get("config"))
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
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
    SuiteApp(client, stale_after_s=settings.tui.stale_after_s).run()
