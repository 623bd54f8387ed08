"""A whole service (MQTT on a real mosquitto, HL7 MLLP and DICOM on free loopback ports,
SQLite) for the attack tests, and `alive()`: the check every attack ends with.

`alive()` proves what issue 19 asks after (and during) each attack: a good MQTT client gets
its reply, a good HL7 sender (python-hl7's asyncio MLLP client) gets AA, a good modality
(dcmtk `echoscu`) gets its C-ECHO answered, each within `GOOD_CLIENT_S` (2 s; multiply with
PROCSUITE_TEST_SLACK on a slow machine), and a desaturation in the attacked room raises its
SpO2 alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hl7
import hl7.mllp

from adapters.dicom.component import DicomAdapter
from adapters.hl7.listener import Hl7Listener
from tests.hl7 import samples
from tests.mqtt.conftest import Broker, Running, Watcher, pub, running, settings_for, watching
from tests.mqtt.test_end_to_end import open_case, vitals
from tests.peers import missing, run_mosquitto

GOOD_CLIENT_S = 2.0 * float(os.environ.get("PROCSUITE_TEST_SLACK", "1"))
ECHOSCU = "/usr/bin/echoscu"
FINDSCU = "/usr/bin/findscu"
STORESCU = "/usr/bin/storescu"
ROOT = "procsuite/t"
MODALITY_AE = "FLUORO1"
_ids = itertools.count(1)


def installed(tool: str) -> bool:
    """Whether the peer program at `tool` (a full path) is there to run."""
    return os.access(tool, os.X_OK)


@dataclass
class Stack:
    broker: Broker
    run: Running
    watch: Watcher
    case_id: str

    @property
    def hl7_port(self) -> int:
        return next(c for c in self.run.ctx.components if isinstance(c, Hl7Listener)).port

    @property
    def hl7(self) -> Hl7Listener:
        return next(c for c in self.run.ctx.components if isinstance(c, Hl7Listener))

    @property
    def dicom(self) -> DicomAdapter:
        return next(c for c in self.run.ctx.components if isinstance(c, DicomAdapter))


def hostile_settings(broker: Broker, tmp_path: Path, **overrides: Any) -> Any:
    hl7_opts = {"time_zone": "UTC", **overrides.pop("hl7", {})}
    dicom_opts = {
        "ae_title": "PROCSUITE",
        "host": "127.0.0.1",
        "stations": {"IR1": MODALITY_AE, "IR2": "FLUORO2"},
        "timezone": "UTC",
        "timeout_s": 10.0,
        **overrides.pop("dicom", {}),
    }
    return settings_for(
        broker, tmp_path, hl7_port=0, dicom_port=0, hl7=hl7_opts, dicom=dicom_opts, **overrides
    )


@contextlib.asynccontextmanager
async def hostile_stack(tmp_path: Path, **overrides: Any) -> AsyncIterator[Stack]:
    if shutil.which("mosquitto") is None and not installed("/usr/sbin/mosquitto"):
        missing("mosquitto")
    with run_mosquitto() as mosq:
        broker = Broker("mosquitto", mosq.port, mosq)
        settings = hostile_settings(broker, tmp_path, **overrides)
        async with running(settings) as run, watching(broker) as watch:
            case_id = await open_case(run)
            yield Stack(broker, run, watch, case_id)


async def mqtt_answers(stack: Stack) -> None:
    reply = await stack.watch.send(
        "nurse1", {"id": f"alive-{next(_ids)}", "action": "resync"}, within_s=GOOD_CLIENT_S
    )
    assert reply["ok"] is True, reply


async def hl7_answers(stack: Stack) -> None:
    """A good ADT over MLLP with python-hl7's asyncio client is answered AA."""
    message = hl7.parse(samples.adt("A04", mrn=f"GOOD{next(_ids)}"))
    async with asyncio.timeout(GOOD_CLIENT_S):
        reader, writer = await hl7.mllp.open_hl7_connection("127.0.0.1", stack.hl7_port)
        try:
            writer.writemessage(message)
            await writer.drain()
            ack = await reader.readmessage()
        finally:
            writer.close()
    assert str(ack.segment("MSA")[1]) == "AA", str(ack)


async def dicom_answers(stack: Stack, *, calling: str = MODALITY_AE) -> None:
    if not installed(ECHOSCU):
        missing("dcmtk echoscu")
    process = await asyncio.create_subprocess_exec(
        ECHOSCU, "-aet", calling, "-aec", "PROCSUITE", "127.0.0.1", str(stack.dicom.port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(GOOD_CLIENT_S + 1):  # + the start of a process
        out, _ = await process.communicate()
    assert process.returncode == 0, out.decode(errors="replace")


async def desaturation_alarms(stack: Stack, room: str = "IR1", device: str = "mon-good") -> None:
    """SpO2 97 then 84 for longer than the limit's delay: the SpO2 alarm is raised."""
    topic = f"{ROOT}/rooms/{room}/vitals/{device}"
    t0 = datetime.now(UTC)
    seq = next(_ids) * 10
    await pub(stack.broker.port, topic, vitals(t0, seq, spo2=97, hr=72))
    await pub(stack.broker.port, topic, vitals(t0 + timedelta(seconds=1), seq + 1, spo2=85))
    await pub(stack.broker.port, topic, vitals(t0 + timedelta(seconds=3.5), seq + 2, spo2=84))
    await stack.watch.wait_for(
        lambda t, b: (
            t == f"{ROOT}/alarms/{room}"
            and isinstance(b, dict)
            and b.get("event") == "raised"
            and b.get("source", {}).get("parameter") == "spo2"
        ),
        within_s=15,
    )


async def alive(stack: Stack, *, desaturation: bool = True) -> None:
    """Every good client is answered; the attacked room still alarms."""
    await mqtt_answers(stack)
    await hl7_answers(stack)
    await dicom_answers(stack)
    if desaturation:
        await desaturation_alarms(stack)
    assert not stack.run.service.ready.is_set() or stack.run.ctx is not None
