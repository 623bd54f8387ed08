"""The vitals of each room since this terminal connected, thinned for plots over a case.

The model's trends keep the last two minutes at full rate (the sparklines); this keeps up to
`keep_s` (two hours, longer than a case) at one point per `resolution_s`, so a trend plot can
show the whole case from when the terminal connected (the procedure report has all of it).
"""

from __future__ import annotations

from bisect import insort
from datetime import datetime, timedelta


class VitalsHistory:
    def __init__(self, *, resolution_s: float = 5.0, keep_s: float = 2 * 3600.0) -> None:
        self.resolution = timedelta(seconds=resolution_s)
        self.keep = timedelta(seconds=keep_s)
        self._points: dict[tuple[str, str], list[tuple[datetime, float]]] = {}

    def add(self, room: str, param: str, at: datetime, value: float) -> None:
        points = self._points.setdefault((room, param), [])
        if points and abs(at - points[-1][0]) < self.resolution:
            return  # one point per resolution step is enough for a plot
        if points and at < points[-1][0]:
            insort(points, (at, value))
        else:
            points.append((at, value))
        horizon = points[-1][0] - self.keep
        while points and points[0][0] < horizon:
            del points[0]

    def series(
        self, room: str, param: str, *, since: datetime | None = None
    ) -> list[tuple[datetime, float]]:
        points = self._points.get((room, param), [])
        return [p for p in points if since is None or p[0] >= since]
