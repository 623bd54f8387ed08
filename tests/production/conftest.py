"""A secured mosquitto as production runs it: TLS listener, password file and the ACL that
`procsuite broker acl` generates, with the Debian tools (openssl, mosquitto_passwd)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from adapters.mqtt.security import acl_text, set_password
from suite.settings import Role
from tests.peers import Mosquitto, free_port, missing, run_mosquitto, wait_port

ROOT = "procsuite/t"
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
USERS = {"nurse1": Role.NURSE, "tech1": Role.TECHNOLOGIST, "it1": Role.IT}
DEVICES = {"mon-ir1": "IR1", "mon-ir2": "IR2"}
SERVICE = "procsuite"
AUDITOR = "auditor"  # a second service-class user: full rights, to see what got through
PASSWORDS = {name: f"pw-{name}-secret" for name in [SERVICE, AUDITOR, *USERS, *DEVICES]}


@dataclass
class SecuredBroker:
    mosquitto: Mosquitto
    tls_port: int
    certs: Path

    @property
    def plain_port(self) -> int:
        return self.mosquitto.port

    @property
    def ca_file(self) -> Path:
        return self.certs / "ca.crt"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, user: str | None, *, tls: bool = True, **kw: object) -> aiomqtt.Client:
        """A client of `user` (None: anonymous) on the TLS listener (or, tls=False, on it
        without TLS)."""
        return aiomqtt.Client(
            "127.0.0.1",
            self.tls_port,
            username=user,
            password=PASSWORDS.get(user or ""),
            tls_context=self.tls() if tls else None,
            timeout=5,
            **kw,  # type: ignore[arg-type]
        )


def make_certs(into: Path) -> Path:
    if shutil.which("openssl") is None:
        missing("openssl (Debian package openssl)")
    subprocess.run(
        [str(SCRIPTS / "make-certs"), str(into)], check=True, capture_output=True, timeout=60
    )
    return into


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    work = tmp_path_factory.mktemp("secured")
    certs = make_certs(work / "certs")
    passwd = work / "passwd"
    for name, password in PASSWORDS.items():
        set_password(passwd, name, password)
    acl = work / "acl"
    acl.write_text(
        acl_text(root=ROOT, users=USERS, devices=DEVICES, service_users=[SERVICE, AUDITOR])
    )
    tls_port = free_port()
    extra = (
        "allow_anonymous false\n"
        f"password_file {passwd}\n"
        f"acl_file {acl}\n"
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {certs / 'ca.crt'}\n"
        f"certfile {certs / 'server.crt'}\n"
        f"keyfile {certs / 'server.key'}\n"
        "tls_version tlsv1.2\n"
    )
    with run_mosquitto(extra_config=extra) as mosq:
        wait_port(tls_port, proc=mosq.proc)
        yield SecuredBroker(mosq, tls_port, certs)


@pytest.fixture
def mosquitto_peer() -> Iterator[Mosquitto]:
    """A plain private mosquitto (no TLS, no ACL) for the fault and lease tests."""
    with run_mosquitto() as broker:
        yield broker
