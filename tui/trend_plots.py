"""The vitals screen's trend plots (textual-plotext): each parameter over the case, with its
alarm limits as horizontal lines and the case's moments as vertical ones: the sedation and
each level's cement injection, so a fall during an injection is seen at a glance.

Time runs in minutes from the case's start (its time-out, else its first phase, else the
first point shown); "cement T12 @20" in a title is the injection on T12 at minute 20. Markers are also named in each plot's title line, since a terminal plot
has no room for labels on the lines.
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Container
from textual_plotext import PlotextPlot

from tui import labels
from tui.model import SuiteModel
from tui.views import CaseView

PLOTTED = ("hr", "spo2", "nibp_sys", "rr", "etco2")


def case_start(case: CaseView | None) -> datetime | None:
    if case is None:
        return None
    if case.time_out_at is not None:
        return case.time_out_at
    return case.phase_history[0][1] if case.phase_history else None


def case_markers(case: CaseView | None) -> list[tuple[datetime, str]]:
    """The sedation and each level's cement injections, in time order."""
    if case is None:
        return []
    found = [(at, "sedation") for phase, at in case.phase_history if phase == "sedation" and at]
    for level in case.level_views:
        found += [(i.at, f"cement {level.level}") for i in level.injections if i.at is not None]
    return sorted(found)


class TrendPlots(Container):
    """One plot per parameter of `PLOTTED`, two abreast; `show` redraws them from the model."""

    DEFAULT_CSS = """
    TrendPlots { height: 3fr; layout: grid; grid-size: 2; grid-rows: 1fr; }
    TrendPlots PlotextPlot { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        for param in PLOTTED:
            yield PlotextPlot(id=f"plot-{param}")

    def show(self, model: SuiteModel, room: str, now: datetime) -> None:
        state = model.rooms.get(room)
        case = state.case if state else None
        start = case_start(case)
        markers = case_markers(case)
        for param in PLOTTED:
            series = model.history.series(room, param, since=start)
            origin = start or (series[0][0] if series else now)
            widget = self.query_one(f"#plot-{param}", PlotextPlot)
            plt = widget.plt
            plt.clear_data()
            plt.clear_figure()
            xs = [(at - origin).total_seconds() / 60 for at, _ in series]
            ys = [v for _, v in series]
            limit = state.limits.get(param) if state else None
            title = f"{labels.label(param)} {labels.unit(param)}"
            if limit is not None:
                title += f" limits {labels.limits(param, limit.low, limit.high).strip()}"
                for bound in (limit.low, limit.high):
                    if bound is not None:
                        plt.hline(bound, "red")
            if xs:
                plt.plot(xs, ys, marker="braille", color="cyan")
                plt.xlim(min(0.0, xs[0]), max(xs[-1], (now - origin).total_seconds() / 60))
            else:
                title += " (no readings yet)"
            named = []
            for at, what in markers:
                x = (at - origin).total_seconds() / 60
                plt.vline(x, "orange")
                named.append(f"{what} @{x:.0f}")
            room_for = max(10, (widget.size.width or 80) - 2)
            full = f"{title} | {', '.join(named)}" if named else title
            # A narrow plot drops the markers' names from its title, then the limits.
            short = f"{labels.label(param)} | {', '.join(named)}" if named else title
            for shown in (full, short, title, labels.label(param)):
                if len(shown) <= room_for:
                    break
            plt.title(shown)
            widget.refresh()
