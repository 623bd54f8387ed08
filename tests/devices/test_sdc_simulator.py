"""`procsuite simulate sdc-monitor`: a provider whose metrics follow the physiology scenarios,
read by procsuite's SDC consumer."""

from __future__ import annotations

import asyncio
import sys

import pytest
from click.testing import CliRunner

from simulators.cli import simulate
from suite.domain.alarms.parameters import Param
from tests.devices.sdc_peers import eventually
from tests.devices.test_sdc_consumer import consuming
from tests.peers import free_port


@pytest.mark.asyncio
async def test_the_simulated_sdc_monitor_sends_every_parameter_of_the_scenario() -> None:
    port, epr = free_port(), "urn:uuid:5e0c0c6e-3b0a-4c43-9a6f-5dc0de000003"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "procsuite.cli", "simulate", "--log-level", "WARNING",
        "sdc-monitor", "--port", str(port), "--epr", epr, "--rate", "1", "--speed", "5",
        "--duration", "300",  # the first cuff measurement completes at 30 s simulated
        "--nibp-interval", "2", "--seed", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        spec = {"device": "sim", "room": "IR1", "address": f"http://127.0.0.1:{port}/{epr}"}
        async with consuming([spec]) as (consumer, samples, alarms):
            wanted = {Param.HR, Param.SPO2, Param.RR, Param.ETCO2, Param.TEMP, Param.NIBP_SYS}
            await eventually(
                lambda: wanted <= {p for d in samples.accepted for p in d.sample.values},
                within_s=30,
            )
            hr = [v for v in samples.values(Param.HR) if v is not None]
            assert all(30 < v < 200 for v in hr)
            assert all(80 <= v <= 100 for v in samples.values(Param.SPO2) if v is not None)
    finally:
        process.terminate()
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert b"metric updates published" in out


def test_a_bad_location_is_refused_in_words() -> None:
    result = CliRunner().invoke(simulate, ["sdc-monitor", "--location", "ward=3"])
    assert result.exit_code == 2
    assert "'ward=3' is not KEY=VALUE" in result.output
