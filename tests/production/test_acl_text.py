"""`procsuite broker acl`: names that would widen the ACL are refused, in words."""

from __future__ import annotations

import pytest

from adapters.mqtt.security import SecurityConfigError, acl_text
from procsuite.cli import main
from suite.settings import Role


@pytest.mark.parametrize(
    ("users", "devices", "error"),
    [
        ({"+": Role.NURSE}, {}, "user '\\+' cannot be a broker user name"),
        ({"a/b": Role.NURSE}, {}, "user 'a/b' cannot be a broker user name"),
        ({}, {"mon-1": "#"}, "room '#' cannot be a broker user name"),
        ({"mon-1": Role.NURSE}, {"mon-1": "IR1"}, "'mon-1' is both a user and a device"),
        ({"procsuite": Role.ADMIN}, {}, "'procsuite' is both a service user and a user"),
    ],
)
def test_names_that_would_widen_the_acl_are_refused(
    users: dict[str, Role], devices: dict[str, str], error: str
) -> None:
    with pytest.raises(SecurityConfigError, match=error):
        acl_text(root="procsuite/t", users=users, devices=devices, service_users=["procsuite"])


def test_the_cli_prints_the_acl_of_the_configuration_and_refuses_one_without_service_user(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROCSUITE_SITE", "t")
    monkeypatch.setenv("PROCSUITE_USERS", '{"nurse1": "nurse"}')
    monkeypatch.setenv("PROCSUITE_MQTT__DEVICES", '{"mon-1": "IR2"}')
    assert main(["broker", "acl"]) == 2
    assert "no service user" in capsys.readouterr().err
    monkeypatch.setenv("PROCSUITE_MQTT__USERNAME", "svc")
    assert main(["broker", "acl"]) == 0
    text = capsys.readouterr().out
    assert "user svc\ntopic readwrite procsuite/t/#\n" in text
    assert "user mon-1\ntopic write procsuite/t/rooms/IR2/vitals/mon-1\n" in text
    assert (
        "user nurse1\ntopic write procsuite/t/cmd/nurse1\ntopic read procsuite/t/reply/nurse1\n"
        in text
    )
