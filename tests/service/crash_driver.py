"""A real `Service` that drives one kyphoplasty and prints its start time, then each committed event's sequence number.

Run as `python -m tests.service.crash_driver DATA_DIR`; once cement is going into T12 it keeps
logging notes until it is killed, so a SIGKILL lands with writes in flight.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from procsuite.bootstrap import Service
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.settings import load_settings
from tests.scenarios import full_case, schedule


async def drive(service: Service, start: datetime) -> None:
    assert service.ctx is not None
    cases = service.ctx.cases

    def report(records: list) -> None:
        for r in records:
            print(f"committed {r.seq} {type(r.event).__name__}", flush=True)

    report(await cases.execute("crash1", schedule(start), actor="his", source=Source.HL7))
    at = start
    for command in full_case(start):
        at = command.at
        report(await cases.execute("crash1", command, actor="tech", source=Source.TUI))
        if isinstance(command, c.InjectCement):
            break
    n = 0
    while True:
        n += 1
        at = at + timedelta(milliseconds=1)
        report(
            await cases.execute(
                "crash1",
                c.AddNote(at=at, kind="note", text=f"n{n}"),
                actor="tech",
                source=Source.TUI,
            )
        )


async def main(data_dir: Path) -> None:
    settings = load_settings(data_dir=data_dir)
    service = Service(settings)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(service.run(stop))
        await service.ready.wait()
        start = datetime.now(UTC) - timedelta(hours=2)
        print(f"start {start.isoformat()}", flush=True)  # the test replays the script from it
        await drive(service, start)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
