"""The case screen's report key: ask the service to write the case's procedure report.

The report is built where the data is (the service reads its store; the dashboard never does)
and written under the service's data directory; the line under the case says where."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from tui.views import CaseView
from tui.widgets import ResultLine

if TYPE_CHECKING:
    from tui.app import SuiteApp


def request_report(app: SuiteApp, line: ResultLine, case: CaseView | None) -> None:
    """Send `report` for `case`; the line shows the file the service wrote, or why not."""
    if case is None:
        line.problem("no case in this room to report on")
        return
    what = f"procedure report of {case.accession or case.case_id}"
    line.pending(what)

    async def send() -> None:
        reply = await app.client.send("report", case_id=case.case_id)
        if not line.is_mounted:
            return
        line.show_reply(what, reply)
        if reply.ok:
            line.update(Text(f"DONE {what}: written on the service to {reply.result.get('path')}"))

    app.run_worker(send(), group="commands")
