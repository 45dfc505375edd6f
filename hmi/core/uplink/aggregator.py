"""Windowed aggregates of one business route: min / max / avg / last per tag and window.

Windows are aligned to multiples of their length on the uplink clock (a 5 min window
ends at :00, :05, ...). A tag enters the aggregate with its first reported value and
stays in every later window: a window in which it did not change repeats its last value
(``count`` 0), so a thin link still sees every tag of the route once per window. ``avg``
is the mean of the values reported in the window (the tag table's report by exception,
deadband applied). BAD samples are not numbers: they count in ``bad`` and set the
window's quality to the worst one seen. The open window lives in memory only; closed
windows become outbox rows like any other telemetry.
"""

from __future__ import annotations

import math
from typing import Any

from hmi.core.tagtable import BAD

#: row entry of one tag: [name, min, max, avg, last, count, bad, quality, ts_ms of last]
AggEntry = list[Any]


class _Acc:
    __slots__ = ("min", "max", "sum", "count", "bad", "last", "quality", "cur_q", "ts_ms")

    def __init__(self) -> None:
        self.min = math.inf
        self.max = -math.inf
        self.sum = 0.0
        self.count = 0
        self.bad = 0
        self.last: Any = None
        self.quality = 192  # worst quality seen in the window
        self.cur_q = 192  # quality of the latest sample
        self.ts_ms = 0

    def reset(self) -> None:
        self.min, self.max, self.sum, self.count, self.bad = math.inf, -math.inf, 0.0, 0, 0
        self.quality = self.cur_q


class Aggregator:
    """Accumulates the values of one route and closes its windows."""

    def __init__(self, window: float, stats: list[str]) -> None:
        self.window = float(window)
        self.stats = list(stats)
        self._acc: dict[str, _Acc] = {}
        self._start: float | None = None

    def window_start(self, now: float) -> float:
        """Start of the window that contains ``now``."""
        return math.floor(now / self.window) * self.window

    def add(self, entries: list[list[Any]], now: float) -> None:
        """Take value entries ``[name, value, quality, ts_ms, reason]`` reported at ``now``."""
        if self._start is None:
            self._start = self.window_start(now)
        for name, value, q, ts_ms, _reason in entries:
            acc = self._acc.get(name)
            if acc is None:
                acc = self._acc[name] = _Acc()
            acc.cur_q = int(q)
            if q == BAD or value is None or isinstance(value, str):
                acc.bad += q == BAD
                acc.quality = min(acc.quality, int(q))
                if isinstance(value, str):
                    acc.last = value
                continue
            f = float(value)
            acc.min = min(acc.min, f)
            acc.max = max(acc.max, f)
            acc.sum += f
            acc.count += 1
            acc.last = value
            acc.quality = min(acc.quality, int(q))
            acc.ts_ms = int(ts_ms)

    def due(self, now: float) -> list[tuple[float, list[AggEntry]]]:
        """(window start, entries) of every window that ended by ``now`` (usually 0 or 1)."""
        if self._start is None or now < self._start + self.window:
            return []
        start = self._start
        self._start = self.window_start(now)
        entries: list[AggEntry] = []
        for name, acc in self._acc.items():
            mn: float | None
            mx: float | None
            avg: float | None
            if acc.count:
                mn, mx, avg = acc.min, acc.max, acc.sum / acc.count
            elif isinstance(acc.last, int | float) and not isinstance(acc.last, bool):
                mn = mx = avg = float(acc.last)  # unchanged through the window
            else:
                mn = mx = avg = None
            entries.append(
                [name, mn, mx, avg, acc.last, acc.count, acc.bad, acc.quality, acc.ts_ms]
            )
            acc.reset()
        return [(start, entries)] if entries else []
