"""Write docs/first-minute.svg: the dashboard of `procsuite demo` at the default speed, as a
newcomer sees it about 40 real seconds after it opens (160x48), and the vitals screen's trend
plots of IR1 (docs/first-minute-trends.svg).

    .venv/bin/python scripts/first-minute-svg.py [--seconds 40] [--speed 10]

It runs the real demo (service, broker, simulators) in this process on free ports and drives
the real dashboard headless (Textual's run_test); nothing is drawn by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import datetime
from pathlib import Path

from procsuite.demo import Demo
from procsuite.demo_cli import demo_settings, free_port
from simulators.clock import SimClock
from simulators.demo_day import day_start

DOCS = Path(__file__).resolve().parent.parent / "docs"


async def main(seconds: float, speed: float) -> None:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    data = Path(tempfile.mkdtemp(prefix="procsuite-first-minute-"))
    ports = {"mqtt": free_port(), "dicom": free_port(), "hl7": free_port(), "his": free_port()}
    settings = demo_settings({}, data_dir=data, speed=speed, ports=ports, user="admin1")
    clock = SimClock(start=day_start(datetime.now(zone).date(), zone), speed=speed)
    demo = Demo(settings, clock=clock, zone=zone, his_port=ports["his"], write=print,
                headless=False)  # fmt: skip

    async def ui(stop: asyncio.Event) -> None:
        from tui.app import SuiteApp
        from tui.mqtt_client import MqttSuiteClient

        client = MqttSuiteClient(settings.mqtt_url, site=settings.site, user="admin1", clock=clock)
        app = SuiteApp(client, clock=clock, tz=zone, stale_after_s=60.0)
        app.sub_title = f"demo at {speed:g}x simulated time, as admin1"
        async with app.run_test(size=(160, 48)) as pilot:
            await asyncio.sleep(seconds)
            app.save_screenshot(str(DOCS / "first-minute.svg"))
            await pilot.press("v")
            await asyncio.sleep(1.0)
            await pilot.press("t")
            await asyncio.sleep(3.0)
            app.save_screenshot(str(DOCS / "first-minute-trends.svg"))
        stop.set()

    await demo.run(asyncio.Event(), ui=ui)
    print(f"wrote {DOCS / 'first-minute.svg'} and {DOCS / 'first-minute-trends.svg'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--speed", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.speed))
