"""The settings of a `procsuite` command line: read once per invocation, shared by every group."""

from __future__ import annotations

from typing import Any

import click

from suite.settings import Settings, SettingsError, load_settings


class ConfigurationError(click.ClickException):
    """A setting that cannot work: one line naming it ("Error: invalid setting ..."), exit 2,
    no usage text and no traceback."""

    exit_code = 2


def settings_of(ctx: click.Context) -> Settings:
    """The settings for this invocation (from `--config` on the root group and the
    environment), loaded on first use; a bad value is a usage error naming the setting."""
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = loaded = load_settings(obj.get("config"))
            if loaded.db_url is None:  # the default database lives in data_dir: make it
                from suite.startup import check_data_dir

                check_data_dir(loaded)
        except SettingsError as exc:
            raise ConfigurationError(str(exc)) from None
    settings: Settings = obj["settings"]
    return settings


def preflighted(settings: Settings) -> Settings:
    """`settings` once suite/startup.py found nothing wrong; a usage error (exit 2, one line
    naming the setting) otherwise."""
    from suite.startup import preflight

    try:
        preflight(settings)
    except SettingsError as exc:
        raise ConfigurationError(str(exc)) from None
    return settings
