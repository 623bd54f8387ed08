"""The simulated PCD-01 gateway against the service (both styles), then `procsuite devices`
and `procsuite simulate pcd01` at the terminal."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from procsuite.cli import main
from simulators.clock import SimClock
from simulators.monitor_model import MonitorModel
from simulators.pcd01_gateway import Pcd01Gateway
from simulators.scenarios import parse_all
from suite.store import devices as device_store
from tests.devices.conftest import device_settings, eventually, listener, serving


@pytest.mark.asyncio
async def test_the_gateway_simulator_feeds_both_rooms_and_the_cli_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = device_settings(
        tmp_path, pcd01={"enabled": True, "port": 0, "location_map": {"ANGIO^2": "IR2"}}
    )
    async with serving(settings) as service:
        assert service.ctx is not None
        port = listener(service).port
        stop = asyncio.Event()
        runs = []
        for style, location, scenario in (("ge", "IR^IR1^1", "oversedation@2"),
                                          ("mindray", "ANGIO^2^1", "stable")):  # fmt: skip
            clock = SimClock(speed=50)
            model = MonitorModel(start_at=clock.now(), scenarios=parse_all([scenario]),
                                 rate_hz=1 / 5)  # fmt: skip
            gw = Pcd01Gateway(model, host="127.0.0.1", port=port, location=location,
                              device=f"{style}-mon", clock=clock, style=style)  # fmt: skip
            runs.append(gw.run(duration_s=60, stop=stop))
        stats = await asyncio.gather(*runs)
        assert [(s.sent, s.accepted, s.failures) for s in stats] == [(12, 12, 0), (12, 12, 0)]
        ingest = service.ctx.samples
        assert ingest.devices[("IR1", "ge-mon")].samples == 12
        assert ingest.devices[("IR2", "mindray-mon")].samples == 12

        async def journal() -> int:
            async with service.ctx.db.session() as s:
                return len(await device_store.list_pcd01(s, limit=100))

        await eventually(lambda: _equals(journal(), 24))
        # The IT view's `devices` section of the service status
        section = await service.ctx.status_sections["devices"](service.ctx.components)
        assert section["pcd01-listener"]["received"] == 24
        assert section["pcd01-listener"]["accepted"] == 24
        assert section["pcd01-listener"]["samples"] == 24
        limits = section["pcd01-listener"]["monitor_limits"]
        assert limits["IR1"]["ge-mon"]["spo2"] == [90.0, 100.0]
        assert limits["IR2"]["mindray-mon"]["hr"] == [50.0, 120.0]
    monkeypatch.setenv("PROCSUITE_DATA_DIR", str(tmp_path / "var"))
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["devices", "log", "--room", "IR2", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(
        "ANGIO^2^1" in x and "-> IR2" in x and " AA " in x for x in lines
    )
    assert await asyncio.to_thread(main, ["devices", "show", "1"]) == 0
    assert "MSH|^~\\&|GE_GW" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["devices", "limits", "--room", "IR1"]) == 0
    limits = capsys.readouterr().out.splitlines()
    assert "IR1    ge-mon       SpO2      monitor 90..100      procsuite 90..- %" in limits
    assert await asyncio.to_thread(main, ["devices", "alerts"]) == 0
    assert "0 waiting" in capsys.readouterr().out


async def _equals(value, expected) -> bool:
    return await value == expected


@pytest.mark.asyncio
async def test_simulate_pcd01_at_the_terminal(tmp_path: Path) -> None:
    settings = device_settings(tmp_path, pcd01={"enabled": True, "port": 0})
    async with serving(settings) as service:
        port = listener(service).port
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "procsuite.cli", "simulate", "pcd01", "--room", "IR1",
            "--port", str(port), "--every", "2", "--speed", "20", "--duration", "20",
            "--style", "mindray", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "10 sent, 10 accepted (AA), 0 AE/AR" in out.decode()
