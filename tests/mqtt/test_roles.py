"""Who may do what over the command channel (suite/roles.py)."""

from __future__ import annotations

import pytest

from suite.app.roles import PermissionDenied, Permissions
from suite.settings import Role, load_settings

USERS = {
    "n": Role.NURSE,
    "t": Role.TECHNOLOGIST,
    "r": Role.RADIOLOGIST,
    "i": Role.IT,
    "a": Role.ADMIN,
}


@pytest.mark.parametrize(
    ("user", "action", "step", "allowed"),
    [
        ("n", "ack_alarm", None, True),
        ("t", "ack_alarm", None, False),
        ("r", "adjust_limit", None, False),
        ("t", "log_step", "trocar", True),
        ("n", "log_step", "sedation", True),
        ("t", "log_step", "time-out", False),
        ("r", "log_step", "time-out", True),
        ("t", "log_step", "imaging-check", False),
        ("i", "log_step", "trocar", False),
        ("i", "resync", None, True),
        ("a", "ack_alarm", None, True),
        ("a", "log_step", "time-out", True),
    ],
)
def test_the_default_table(user: str, action: str, step: str | None, allowed: bool) -> None:
    perms = Permissions.with_overrides({})
    if allowed:
        assert perms.check(user, USERS, action, step=step) is USERS[user]
    else:
        with pytest.raises(PermissionDenied) as info:
            perms.check(user, USERS, action, step=step)
        assert info.value.rule == "permission"


def test_the_refusal_names_who_what_and_which_roles_may() -> None:
    with pytest.raises(PermissionDenied) as info:
        Permissions.with_overrides({}).check("t", USERS, "log_step", step="time-out")
    assert (
        info.value.message
        == "log_step time-out is not allowed for t (technologist); it needs admin or radiologist"
    )


def test_unknown_users_and_actions_are_refused_in_words() -> None:
    perms = Permissions.with_overrides({})
    with pytest.raises(PermissionDenied, match="user 'eve' is not configured") as info:
        perms.check("eve", USERS, "ack_alarm")
    assert info.value.rule == "unknown-user"
    with pytest.raises(PermissionDenied, match="unknown action 'launch'"):
        perms.check("n", USERS, "launch")


def test_a_site_overrides_a_row_from_settings() -> None:
    settings = load_settings(mqtt={"permissions": {"ack_alarm": ["nurse", "technologist"]}})
    perms = Permissions.with_overrides(settings.mqtt.permissions)
    assert perms.check("t", USERS, "ack_alarm") is Role.TECHNOLOGIST
    with pytest.raises(PermissionDenied):
        perms.check("r", USERS, "ack_alarm")
