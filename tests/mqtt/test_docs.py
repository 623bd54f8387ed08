"""docs/mqtt.md tells the truth: its parameter table is the one in code, and its example
commands work against a running service."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from adapters.mqtt.parameter_table import render
from tests.mqtt.conftest import Broker, eventually, running, settings_for
from tests.peers import free_port, missing

DOC = Path(__file__).parents[2] / "docs" / "mqtt.md"


def block(name: str) -> str:
    text = DOC.read_text()
    found = re.search(
        rf"<!-- examples: {name} -->\n```sh\n(.*?)```\n<!-- /examples -->", text, re.S
    )
    assert found, f"docs/mqtt.md has no tested examples block {name!r}"
    return found.group(1)


def test_the_parameter_table_is_the_one_in_code() -> None:
    text = DOC.read_text()
    table = text.split("<!-- parameter-table -->\n")[1].split("\n<!-- /parameter-table -->")[0]
    assert table == render()


async def run_example(script: str, port: int) -> str:
    bash = shutil.which("bash")
    if bash is None or shutil.which("mosquitto_pub") is None:
        missing("bash and mosquitto_pub (Debian package mosquitto-clients)")
    assert bash
    script = script.replace("-p 1883", f"-p {port}")
    proc = await asyncio.create_subprocess_exec(
        bash,
        "-euo",
        "pipefail",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()
    return out.decode()


@pytest.mark.asyncio
async def test_the_documented_mosquitto_pub_examples_work(tmp_path: Path) -> None:
    broker = Broker("embedded", free_port())
    settings = settings_for(broker, tmp_path, site="main")
    async with running(settings) as run:
        await run_example(block("vitals"), broker.port)
        ingest = run.runner.ingest.samples
        await eventually(lambda: ingest.accepted == 2 and ingest.devices[("IR1", "mon-1")].online)
        assert dict(ingest.totals) == {}
        replies = await run_example(block("commands"), broker.port)
        assert '"id":"c-1","ok":true' in replies
