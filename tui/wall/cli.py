"""`procsuite web`: the read-only wall display (board and vitals) for a browser."""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, datetime
from typing import Any

import click

from suite.settings import SettingsError, load_settings


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on; beyond this machine a token is required.")  # fmt: skip
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--token", default=None,
              help="Access token browsers must present (default: PROCSUITE_WEB_TOKEN).")  # fmt: skip
@click.option("--mqtt-url", default=None, help="Broker URL (default: the configured mqtt_url).")
@click.option("--site", default=None, help="Site name (default: the configured site).")
@click.pass_context
def web_command(
    ctx: click.Context,
    host: str,
    port: int,
    token: str | None,
    mqtt_url: str | None,
    site: str | None,
) -> None:
    """Serve the suite board and the vitals to browsers, read-only: open
    http://HOST:PORT/ (add ?token=... when a token is set). Nothing can be changed from it."""
    from tui.wall.feed import WallFeed
    from tui.wall.server import Wall, WallConfigError, check_binding, serve

    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    try:
        settings = obj.get("settings") or load_settings(obj.get("config"))
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    token = token or os.environ.get("PROCSUITE_WEB_TOKEN") or None
    try:
        check_binding(host, token)
        feed = WallFeed(
            mqtt_url or settings.mqtt_url,
            site=site or settings.site,
            username=settings.tui.username,
            password=settings.tui.password,
            stale_after_s=settings.tui.stale_after_s,
        )
    except (WallConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    wall = Wall(feed, token=token, tz=datetime.now().astimezone().tzinfo,
                clock=lambda: datetime.now(UTC))  # fmt: skip

    def listening() -> None:
        click.echo(
            f"wall display on http://{host}:{port}/" + ("  (token required)" if token else "")
        )

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(wall, host=host, port=port, on_ready=listening))
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None
