"""Issue 16: `r` in the case screen has the service write the case's procedure report (the
dashboard never reads the store); the line under the case says where it was written.
Real mosquitto and a real service, as in test_with_service.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import shows, until
from tests.tui.running_service import mosquitto, running, service_settings, terminal
from tests.tui.test_with_service import open_case

pytestmark = pytest.mark.mosquitto


@pytest.mark.asyncio
async def test_the_report_key_writes_the_case_report_on_the_service(tmp_path: Path) -> None:
    with mosquitto() as broker:
        settings = service_settings(broker, tmp_path)
        async with running(settings) as service:
            case_id = await open_case(service, accession="ACC-REP-KEY", check_in=True)
            async with terminal(broker, "tech1") as (app, pilot):
                await pilot.press("enter")  # IR1's case
                await shows(pilot, "ACC-REP-KEY")
                await pilot.press("r")
                await shows(pilot, "DONE procedure report of ACC-REP-KEY: written on the service")
                reports = tmp_path / "var" / "reports"
                await until(pilot, lambda: any(reports.glob("*.html")), what="the report file")
                written = next(reports.glob(f"report-{case_id}-*.html"))
                page = written.read_text(encoding="utf-8")
                assert "ACC-REP-KEY" in page and page.count("<svg") == 2
