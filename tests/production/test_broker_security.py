"""The broker's ACL and credentials, proved against a real mosquitto with the generated files:
who can connect, who can publish where, and procsuite working through it over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from adapters.mqtt.tls import TlsSettingsError, client_tls_context
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.settings import MqttSettings
from tests.mqtt.conftest import Broker, running, settings_for
from tests.production.conftest import AUDITOR, PASSWORDS, ROOT, SERVICE, SecuredBroker
from tests.scenarios import schedule

pytestmark = [pytest.mark.asyncio, pytest.mark.mosquitto, pytest.mark.timeout(60)]


@dataclass
class Seen:
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    new: asyncio.Event = field(default_factory=asyncio.Event)

    def topics(self) -> list[str]:
        return [t for t, _ in self.messages]

    async def until(self, topic: str, *, within_s: float = 10.0) -> bytes:
        async with asyncio.timeout(within_s):
            while True:
                for t, body in self.messages:
                    if t == topic:
                        return body
                self.new.clear()
                await self.new.wait()


@contextlib.asynccontextmanager
async def auditing(secured: SecuredBroker, pattern: str = f"{ROOT}/#") -> AsyncIterator[Seen]:
    """A full-rights subscriber that records everything the broker let through."""
    seen = Seen()
    async with secured.client(AUDITOR, identifier="auditor") as client:
        await client.subscribe(pattern, qos=1)

        async def collect() -> None:
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                seen.messages.append((m.topic.value, m.payload))
                seen.new.set()

        task = asyncio.create_task(collect())
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_an_anonymous_client_is_refused(secured: SecuredBroker) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with secured.client(None):
            pass


async def test_a_wrong_password_is_refused(secured: SecuredBroker) -> None:
    client = aiomqtt.Client(
        "127.0.0.1", secured.tls_port, username="nurse1", password="guess",
        tls_context=secured.tls(), timeout=5,
    )  # fmt: skip
    with pytest.raises(aiomqtt.MqttError):
        async with client:
            pass


async def test_a_client_without_tls_is_refused_on_the_tls_listener(
    secured: SecuredBroker,
) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with secured.client("nurse1", tls=False):
            pass


async def test_procsuite_trusts_the_broker_only_through_its_configured_ca(
    secured: SecuredBroker,
) -> None:
    # (A plain TLS handshake: paho leaks its socket when a handshake fails.)
    async def handshake(settings: MqttSettings) -> None:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", secured.tls_port, ssl=client_tls_context(settings),
            server_hostname="127.0.0.1",
        )  # fmt: skip
        writer.close()
        await writer.wait_closed()

    await handshake(MqttSettings(ca_file=secured.ca_file))
    with pytest.raises(ssl.SSLCertVerificationError):
        await handshake(MqttSettings())  # the system's CAs did not sign the private CA
    with pytest.raises(TlsSettingsError, match="mqtt.ca_file: .* is not a readable file"):
        client_tls_context(MqttSettings(ca_file=secured.certs / "missing.crt"))


async def test_a_monitor_cannot_publish_as_another_room_or_device(
    secured: SecuredBroker,
) -> None:
    own = f"{ROOT}/rooms/IR1/vitals/mon-ir1"
    async with auditing(secured) as seen, secured.client("mon-ir1") as monitor:
        for forged in (
            f"{ROOT}/rooms/IR2/vitals/mon-ir1",  # another room
            f"{ROOT}/rooms/IR1/vitals/mon-ir2",  # another device of the same room
            f"{ROOT}/rooms/IR2/devices/mon-ir2/status",
            f"{ROOT}/alarms/IR1",
        ):
            await monitor.publish(forged, b'{"forged": true}', qos=1)
        await monitor.publish(f"{ROOT}/rooms/IR1/devices/mon-ir1/status", b"online", qos=1)
        await monitor.publish(own, b'{"seq": 1}', qos=1)
        # mosquitto delivers one client's messages in order: once the last is seen, the
        # forged ones would have arrived before it.
        assert await seen.until(own) == b'{"seq": 1}'
    assert seen.topics() == [f"{ROOT}/rooms/IR1/devices/mon-ir1/status", own]


async def test_a_user_cannot_send_commands_as_another_user_or_publish_alarms(
    secured: SecuredBroker,
) -> None:
    own = f"{ROOT}/cmd/nurse1"
    async with auditing(secured) as seen, secured.client("nurse1") as nurse:
        await nurse.publish(f"{ROOT}/cmd/tech1", b'{"id": "x", "action": "resync"}', qos=1)
        await nurse.publish(f"{ROOT}/reply/tech1", b'{"id": "x", "ok": true}', qos=1)
        await nurse.publish(f"{ROOT}/alarms/IR1", b'{"event": "cleared"}', qos=1)
        await nurse.publish(f"{ROOT}/rooms/IR1/state", b"{}", qos=1)
        await nurse.publish(f"{ROOT}/rooms/IR1/vitals/mon-ir1", b"{}", qos=1)
        await nurse.publish(own, b'{"id": "y", "action": "resync"}', qos=1)
        await seen.until(own)
    assert seen.topics() == [own]


async def test_a_user_reads_its_own_replies_and_its_roles_topics_only(
    secured: SecuredBroker,
) -> None:
    async with secured.client("it1") as it, secured.client(SERVICE, identifier="svc") as svc:
        await it.subscribe(f"{ROOT}/reply/it1", qos=1)
        await it.subscribe(f"{ROOT}/reply/nurse1", qos=1)  # someone else's
        await it.subscribe(f"{ROOT}/rooms/+/vitals/+", qos=1)  # IT does not follow patients
        await it.subscribe(f"{ROOT}/alarms/+", qos=1)  # alarm events carry readings
        await it.subscribe(f"{ROOT}/rooms/+/state", qos=1)  # vitals and names: not for IT
        await it.subscribe(f"{ROOT}/rooms/+/state/it", qos=1)  # the redacted state is
        await svc.publish(f"{ROOT}/reply/nurse1", b"theirs", qos=1)
        await svc.publish(f"{ROOT}/rooms/IR1/vitals/mon-ir1", b"spo2", qos=1)
        await svc.publish(f"{ROOT}/alarms/IR1", b"alarm", qos=1)
        await svc.publish(f"{ROOT}/rooms/IR1/state", b"full", qos=1)
        await svc.publish(f"{ROOT}/rooms/IR1/state/it", b"redacted", qos=1)
        await svc.publish(f"{ROOT}/reply/it1", b"mine", qos=1)
        got: list[tuple[str, bytes]] = []
        async with asyncio.timeout(10):
            async for m in it.messages:
                assert isinstance(m.payload, bytes)
                got.append((m.topic.value, m.payload))
                if m.payload == b"mine":
                    break
    assert got == [(f"{ROOT}/rooms/IR1/state/it", b"redacted"), (f"{ROOT}/reply/it1", b"mine")]


async def test_the_service_connects_with_its_credentials_over_tls_and_alarms(
    secured: SecuredBroker, tmp_path: Path
) -> None:
    broker = Broker("mosquitto", secured.tls_port)
    settings = settings_for(
        broker,
        tmp_path,
        mqtt_url=f"mqtts://127.0.0.1:{secured.tls_port}",
        mqtt={"username": SERVICE, "password": PASSWORDS[SERVICE], "ca_file": secured.ca_file},
    )
    alarm_topic = f"{ROOT}/alarms/IR1"
    async with auditing(secured, f"{ROOT}/alarms/#") as seen, running(settings) as run:
        now = datetime.now(UTC)
        case_id = run.ctx.cases.new_case_id()
        await run.ctx.cases.execute(
            case_id, schedule(now - timedelta(minutes=5), room="IR1", accession="ACC-TLS"),
            actor="his", source=Source.HL7,
        )  # fmt: skip
        await run.ctx.cases.execute(case_id, c.CheckIn(at=now), actor="tech1", source=Source.TUI)
        async with secured.client("mon-ir1", identifier="mon-ir1") as monitor:
            for seq, (dt, spo2) in enumerate([(0, 97), (1, 85), (3.5, 84)], start=1):
                ts = (now + timedelta(seconds=dt)).isoformat(timespec="milliseconds")
                body = {"ts": ts.replace("+00:00", "Z"), "seq": seq, "values": {"spo2": spo2}}
                await monitor.publish(f"{ROOT}/rooms/IR1/vitals/mon-ir1", json.dumps(body), qos=1)
        raised = json.loads(await seen.until(alarm_topic, within_s=15))
    assert raised["event"] == "raised"
    assert raised["case_id"] == case_id
    assert raised["priority"] == "high"


async def test_the_dashboard_connects_over_tls_with_its_user_and_the_site_ca(
    secured: SecuredBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dashboard verifies the broker with the system's trust store; a site CA is added
    # with OpenSSL's SSL_CERT_FILE (docs/operations.md).
    from tui.mqtt_client import MqttSuiteClient
    from tui.views import ConnectionStatus, Link

    monkeypatch.setenv("SSL_CERT_FILE", str(secured.ca_file))
    client = MqttSuiteClient(
        f"mqtts://127.0.0.1:{secured.tls_port}", site="t", user="nurse1",
        username="nurse1", password=PASSWORDS["nurse1"], reconnect_min_s=0.2,
    )  # fmt: skip
    task = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(15):
            async for status in client.inbox.links:
                if isinstance(status, ConnectionStatus) and status.link is Link.CONNECTED:
                    break
                assert not (isinstance(status, ConnectionStatus) and status.attempt > 3), status
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
