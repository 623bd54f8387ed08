"""The settings of a `procsuite` command line: read once per invocation, shared by every group."""

from __future__ import annotations

from typing import Any

import click

from suite.settings import Settings, SettingsError, load_settings


def settings_of(ctx: click.Context) -> Settings:
    """The settings for this invocation (from `--config` on the root group and the
    environment), loaded on first use; a bad value is a usage error naming the setting."""
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config"))
        except SettingsError as exc:
            raise click.UsageError(str(exc)) from None
    settings: Settings = obj["settings"]
    return settings
