"""`procsuite broker acl` and `procsuite broker passwd`: the mosquitto files for the site.

Both read the configured `users` (name → role), `mqtt.devices` (monitor → room) and the
service users (`mqtt.service_users`, default `mqtt.username`), so the broker's view of who
may do what is generated from the same configuration the service checks commands against.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from adapters.mqtt.security import PasswdError, SecurityConfigError, acl_text, set_password
from suite.cli_settings import settings_of as _settings
from suite.settings import Settings


def service_users(settings: Settings) -> list[str]:
    """The broker users of the site's procsuite instances."""
    m = settings.mqtt
    return list(m.service_users) or ([m.username] if m.username else [])


@click.group("broker")
def broker_group() -> None:
    """The MQTT broker's access control (mosquitto ACL and password file)."""


@broker_group.command("acl")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@click.pass_context
def acl_command(ctx: click.Context, output: Path | None) -> None:
    """Print the mosquitto ACL for the configured users, devices and service users."""
    settings = _settings(ctx)
    try:
        text = acl_text(
            root=settings.topic_root,
            users=settings.users,
            devices=settings.mqtt.devices,
            service_users=service_users(settings),
        )
    except SecurityConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


@broker_group.command("passwd")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("names", nargs=-1)
@click.option(
    "--generate",
    is_flag=True,
    help="Give each name a new random password and print 'name password' lines.",
)
@click.pass_context
def passwd_command(ctx: click.Context, file: Path, names: tuple[str, ...], generate: bool) -> None:
    """Set passwords in the mosquitto password FILE (default: every configured name).

    Uses Debian's mosquitto_passwd; without --generate it asks for each password.
    """
    settings = _settings(ctx)
    known = [*service_users(settings), *settings.users, *settings.mqtt.devices]
    chosen = list(names) or known
    if not chosen:
        raise click.UsageError("no users, devices or service user configured")
    for name in chosen:
        if generate:
            password = secrets.token_urlsafe(18)
        else:
            password = click.prompt(
                f"password for {name}", hide_input=True, confirmation_prompt=True
            )
        try:
            set_password(file, name, password)
        except (PasswdError, SecurityConfigError) as exc:
            raise click.ClickException(str(exc)) from None
        if generate:
            click.echo(f"{name} {password}")
    file.chmod(0o600)
