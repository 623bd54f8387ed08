"""scripts/stack-up end to end: the production stack from Debian packages on loopback (TLS
broker with ACLs, PostgreSQL, a PACS, two instances owning two rooms each). An HL7 order to
each instance schedules a case in its room; a monitor of that room sends low SpO2 over TLS
with its own credentials; the alarm comes back from the instance that owns the room."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from tests.hl7 import samples
from tests.hl7.conftest import send
from tests.peers import missing, mosquitto_binary, postgres_bin

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
FAST = {"limits": {"spo2": {"low": 90, "delay_s": 2}}, "clock_skew_s": 3600}

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto, pytest.mark.postgres]


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    if mosquitto_binary() is None:
        missing("mosquitto (Debian package mosquitto)")
    if postgres_bin() is None:
        missing("PostgreSQL (Debian package postgresql)")
    # Not pytest's tmp_path: run as root, the stack's PostgreSQL runs as the postgres user,
    # which cannot enter pytest's private directories.
    base = Path(tempfile.mkdtemp(prefix="procsuite-stack-"))
    base.chmod(0o755)
    where = base / "stack"
    env = {
        **os.environ,
        "PROCSUITE_ALARMS__CONFIG": json.dumps(FAST),
        "PROCSUITE_WORKFLOW__RECOVERY_STABLE_VITALS_S": "1",
    }
    up = subprocess.run(
        [str(SCRIPTS / "stack-up"), str(where)], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        assert "procsuite-a rooms IR1 IR2" in up.stdout
        found = read_env(where / "stack.env")
        credentials = Path(found["STACK_CREDENTIALS"]).read_text().splitlines()
        yield found | {f"password:{n}": pw for n, pw in (x.split(" ", 1) for x in credentials)}
    finally:
        down = subprocess.run(
            [str(SCRIPTS / "stack-down"), str(where)], capture_output=True, text=True, timeout=120
        )
        assert down.returncode == 0, down.stderr
        assert not (where / "stack.env").exists()
        shutil.rmtree(base)


@pytest.mark.asyncio
@pytest.mark.timeout(240)
async def test_stack_up_runs_an_order_and_an_alarm_through_each_instance(
    stack: dict[str, str],
) -> None:
    port = int(stack["STACK_MQTT_PORT"])
    tls = ssl.create_default_context(cafile=stack["STACK_CA_FILE"])
    root = f"procsuite/{stack['STACK_SITE']}"

    def client(user: str) -> aiomqtt.Client:
        return aiomqtt.Client(
            "127.0.0.1", port, username=user, password=stack[f"password:{user}"], tls_context=tls,
            identifier=f"test-{user}", timeout=10,
        )  # fmt: skip

    for instance, room in (("A", "IR1"), ("B", "IR3")):
        accession = f"ACC-STACK-{room}"
        acks = await send(
            int(stack[f"STACK_{instance}_HL7_PORT"]),
            samples.adt("A04", mrn=f"MRN-{room}"),
            samples.orm(accession=accession, mrn=f"MRN-{room}", room=f"IR^{room}^1^HOSP"),
            wait_s=30,
        )
        assert all(b"MSA|AA" in a for a in acks), acks

    async with client("nurse1") as nurse:
        await nurse.subscribe(f"{root}/alarms/+", qos=1)
        raised: dict[str, dict[str, object]] = {}
        for room in ("IR1", "IR3"):
            device = f"mon-{room.lower()}"
            async with client(device) as monitor:
                t0 = datetime.now(UTC)
                for seq, (dt, spo2) in enumerate([(0, 97), (1, 85), (3.5, 84)], start=1):
                    ts = (t0 + timedelta(seconds=dt)).isoformat(timespec="milliseconds")
                    sample = {"ts": ts.replace("+00:00", "Z"), "seq": seq, "values": {"spo2": spo2}}
                    await monitor.publish(
                        f"{root}/rooms/{room}/vitals/{device}", json.dumps(sample), qos=1
                    )
        async with asyncio.timeout(60):
            async for m in nurse.messages:
                body = json.loads(m.payload if isinstance(m.payload, bytes) else b"{}")
                if m.topic.matches(f"{root}/alarms/+") and body.get("event") == "raised":
                    raised[str(body["room"])] = body
                if set(raised) >= {"IR1", "IR3"}:
                    break
    for room in ("IR1", "IR3"):
        assert raised[room]["priority"] == "high"
        assert raised[room]["message"]


@pytest.mark.asyncio
@pytest.mark.timeout(300)
async def test_the_demo_case_runs_through_the_stack_with_tls_and_acls(
    stack: dict[str, str],
) -> None:
    """A kyphoplasty ordered over HL7, monitored by a simulated monitor and logged step by step
    by the technologist, the nurse and the radiologist, each with their own broker account
    over TLS, from check-in to discharge, in a room of instance B. The services run on real
    time, so the case runs at 3 % of its usual pace (the stack's recovery time is 1 s)."""
    port = int(stack["STACK_MQTT_PORT"])
    site = stack["STACK_SITE"]
    accession = "ACC-STACK-E2E"
    acks = await send(
        int(stack["STACK_B_HL7_PORT"]),
        samples.adt("A04", mrn="MRN-E2E"),
        samples.orm(accession=accession, mrn="MRN-E2E", room="IR^IR4^1^HOSP"),
        wait_s=30,
    )
    assert all(b"MSA|AA" in a for a in acks), acks
    env = {**os.environ, "SSL_CERT_FILE": stack["STACK_CA_FILE"]}
    procsuite = [sys.executable, "-m", "procsuite.cli"]
    monitor = subprocess.Popen(  # noqa: ASYNC220  (runs beside the test, not awaited)
        [*procsuite, "simulate", "monitor", "--room", "IR4", "--device", "mon-ir4",
         "--mqtt-url", f"mqtts://mon-ir4:{stack['password:mon-ir4']}@127.0.0.1:{port}",
         "--site", site, "--duration", "600"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [*procsuite, "simulate", "case", "--accession", accession,
             "--procedure", "kyphoplasty", "--levels", "T12,L1",
             "--mqtt-url", f"mqtts://127.0.0.1:{port}", "--site", site,
             "--credentials", stack["STACK_CREDENTIALS"], "--user-rad", "dr1",
             "--pace", "0.03", "--speed", "4", "--recovery-s", "1"],
            env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
    finally:
        monitor.terminate()
        monitor.wait(timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step, user in (("check-in", "nurse1"), ("time-out", "dr1"), ("sedation", "nurse1"),
                       ("cement", "tech1"), ("imaging-check", "dr1"), ("discharge", "nurse1")):  # fmt: skip
        assert any(step in line and f"by {user}" in line for line in out.splitlines()), (step, out)
    assert "-> discharged" in out, out
    # Without its password a role is refused by the broker: the ACL path is really in use.
    refused = await asyncio.to_thread(
        subprocess.run,
        [*procsuite, "simulate", "case", "--accession", accession, "--procedure", "kyphoplasty",
         "--levels", "T12,L1", "--mqtt-url", f"mqtts://127.0.0.1:{port}", "--site", site],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0
