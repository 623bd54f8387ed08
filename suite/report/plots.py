"""The report's plots as SVG text (matplotlib, no display): the vitals over the case with
the phase bands, the sedation and each level's cement injection marked, and the cumulative
reference air kerma with the dose levels."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("svg")  # no display; before pyplot is imported
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable, selectable

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from suite.domain.alarms.parameters import PARAMETERS, Param  # noqa: E402
from suite.report.data import PhaseBand  # noqa: E402
from suite.store.vitals import StoredSample  # noqa: E402

PLOTTED = (Param.HR, Param.SPO2, Param.NIBP_SYS, Param.NIBP_MAP, Param.RR, Param.ETCO2)
# Bands alternate two light greys; a phase's name is written at its band's top.
BAND_COLOURS = ("#f0f0f0", "#e0e6ee")


def _num(at: datetime) -> float:
    return float(mdates.date2num(at))  # type: ignore[no-untyped-call]


def _hhmm() -> Any:
    return mdates.DateFormatter("%H:%M")  # type: ignore[no-untyped-call]


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline in HTML: without the XML prologue


def _bands(ax: Axes, bands: list[PhaseBand], *, label: bool) -> None:
    for i, band in enumerate(bands):
        if band.end <= band.start:
            continue
        ax.axvspan(_num(band.start), _num(band.end), color=BAND_COLOURS[i % 2], zorder=0)
        if label:
            ax.text(
                _num(band.start), 1.0, band.phase.replace("_", " "), transform=ax.get_xaxis_transform(),
                rotation=90, va="top", ha="left", fontsize=6, color="#555555",
            )  # fmt: skip


def _markers(ax: Axes, markers: list[tuple[datetime, str]]) -> None:
    for at, _what in markers:
        ax.axvline(_num(at), color="#aa3300", linewidth=0.8, linestyle="--")


def vitals_svg(
    samples: list[StoredSample],
    *,
    bands: list[PhaseBand],
    markers: list[tuple[datetime, str]],
    limits: dict[str, tuple[float | None, float | None]] | None = None,
) -> str:
    """One panel per parameter over the case, phase bands behind, markers (sedation, cement
    on each level) as dashed lines named in the top panel, alarm limits as dotted lines."""
    fig, axes = plt.subplots(len(PLOTTED), 1, sharex=True, figsize=(10, 1.5 * len(PLOTTED)))
    for n, (ax, param) in enumerate(zip(axes, PLOTTED, strict=True)):
        points = [(s.at, s.values.get(param)) for s in samples]
        xs = [at for at, v in points if v is not None]
        ys = [v for _, v in points if v is not None]
        _bands(ax, bands, label=n == 0)
        _markers(ax, markers)
        ax.plot(xs, ys, linewidth=1.0, color="#1f4e79")
        info = PARAMETERS[param]
        ax.set_ylabel(f"{info.label}\n{info.unit}", fontsize=8)
        for bound in (limits or {}).get(param.value, (None, None)):
            if bound is not None:
                ax.axhline(bound, color="#cc0000", linewidth=0.7, linestyle=":")
        ax.tick_params(labelsize=7)
    for at, text in markers:
        axes[-1].annotate(
            text, (_num(at), 0), xycoords=("data", "axes fraction"),
            xytext=(2, -28), textcoords="offset points", rotation=30, fontsize=6, color="#aa3300",
        )  # fmt: skip
    axes[-1].xaxis.set_major_formatter(_hhmm())
    fig.suptitle(
        "Vital signs over the case (bands: phases; dashed: sedation and cement;"
        " dotted red: alarm limits)"
    )
    return _svg(fig)


def kerma_svg(
    points: list[tuple[datetime, float]],
    *,
    bands: list[PhaseBand],
    levels_mgy: list[float],
) -> str:
    """The cumulative reference air kerma (mGy) as it was reported, stepwise, with the
    notification levels it reached or came near as horizontal lines."""
    fig, ax = plt.subplots(figsize=(10, 2.6))
    _bands(ax, bands, label=True)
    if points:
        xs = [_num(p[0]) for p in points]
        ys = [p[1] for p in points]
        if bands and bands[-1].end > points[-1][0]:  # the total holds to the end of the case
            xs.append(_num(bands[-1].end))
            ys.append(ys[-1])
        ax.step(xs, ys, where="post", color="#7a1f5c")
        ax.set_ylim(bottom=0)
        top = max(p[1] for p in points)
        for level in levels_mgy:
            if level <= top * 1.5:
                ax.axhline(level, color="#cc0000", linewidth=0.8, linestyle=":")
                ax.text(_num(points[0][0]), level, f" {level / 1000:g} Gy", fontsize=7, va="bottom")
    else:
        ax.text(0.5, 0.5, "no dose reported", transform=ax.transAxes, ha="center")
    ax.set_ylabel("Ka,r mGy", fontsize=8)
    ax.xaxis.set_major_formatter(_hhmm())
    ax.tick_params(labelsize=7)
    fig.suptitle("Cumulative reference air kerma")
    return _svg(fig)
