"""History for trends, fetched off the GUI thread: planned, parallel, stale results dropped.

:func:`plan` turns a visible time range and a plot width into a historian request whose
buckets are *aligned* (start on a multiple of the bucket width) and whose width is a
multiple of a rollup resolution once a bucket is at least half of it. So the historian
reads 1-minute or 1-hour rollups instead of aggregating millions of raw rows, and panning
keeps the same bucket boundaries (the envelope does not shimmer).

:class:`Fetcher` runs one :meth:`Historian.query` per pen on Qt's thread pool (the pens of
a request run in parallel), and delivers the request's results together on the GUI thread.
Each pen remembers its newest request: a job whose pen was asked again meanwhile skips its
query, and a late result of an older request is dropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from hmi.core.historian.schema import ROLLUPS
from hmi.ui.tasks import run_in_pool

log = logging.getLogger(__name__)

#: rollup resolutions in seconds, finest first (1 min, 1 h)
RESOLUTIONS = tuple(r / 1000.0 for r, _t, _l in ROLLUPS)
#: a bucket is widened to a rollup resolution once it reaches this fraction of it (1 min
#: from 30 s, 1 h from 21 min): reading 60x fewer rows is worth a bucket of up to 2-2.5 px
SNAP = (0.5, 0.35)


@dataclass(frozen=True, slots=True)
class Plan:
    """A historian request: [start, end] (s, aligned), ``points`` and the bucket ``width`` (s)."""

    start: float
    end: float
    points: int
    width: float


def bucket_width(span: float, pixels: int) -> float:
    """Bucket width (s) for ``span`` seconds on ``pixels`` pixels: about one bucket per
    pixel, widened to a whole number of 1-minute / 1-hour rollups when close to one."""
    target = max(span, 1e-3) / max(int(pixels), 16)
    for res, snap in reversed(list(zip(RESOLUTIONS, SNAP, strict=True))):  # coarsest first
        if target >= snap * res:
            return math.ceil(target / res) * res
    if target >= 1.0:
        return float(math.ceil(target))
    return math.ceil(target * 1000.0) / 1000.0


def plan(start: float, end: float, width: float) -> Plan:
    """The aligned request covering [start, end] with buckets of ``width`` seconds.

    The historian computes its width as ceil(span_ms / (points - 1)); with the span an
    exact multiple of ``width`` that is ``width`` itself, so the choice made here holds.
    """
    w_ms = max(1, int(round(width * 1000.0)))
    s = math.floor(start * 1000.0 / w_ms) * w_ms
    n = max(1, math.ceil((end * 1000.0 - s) / w_ms))
    return Plan(s / 1000.0, (s + n * w_ms - 1) / 1000.0, n + 1, w_ms / 1000.0)


@dataclass
class _Request:
    rid: int
    plan: Plan
    names: list[str]
    remaining: int
    results: dict[str, Any] = field(default_factory=dict)


class Fetcher(QObject):
    """Queries the historian for several pens on the thread pool."""

    sigFetched = Signal(int, object, object)  # request id, {pen: HistoryData}, Plan
    sigError = Signal(str)

    def __init__(self, historian: Any = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.historian = historian
        self.wanted: dict[str, int] = {}  # pen -> newest request id (read by workers)
        self._rid = 0
        self._open: dict[int, _Request] = {}
        self._error = ""

    @property
    def busy(self) -> bool:
        """True while a request is running."""
        return bool(self._open)

    def fetch(self, names: Sequence[str], p: Plan) -> int:
        """Start a request for ``names``; returns its id (-1 without a historian or pens)."""
        hist = self.historian
        if hist is None or not names:
            return -1
        self._rid += 1
        rid = self._rid
        req = _Request(rid, p, list(dict.fromkeys(names)), 0)
        req.remaining = len(req.names)
        self._open[rid] = req
        for name in req.names:
            self.wanted[name] = rid
        for name in req.names:
            self._start(hist, rid, name, p)
        return rid

    def _start(self, hist: Any, rid: int, name: str, p: Plan) -> None:
        def job() -> Any:
            return self._query(hist, rid, name, p)

        def done(result: Any, error: BaseException | None) -> None:
            self._done(rid, name, result, error)

        run_in_pool(job, done)

    def forget(self, name: str) -> None:
        """A pen was removed: drop what is still coming for it."""
        self.wanted.pop(name, None)

    def _query(self, hist: Any, rid: int, name: str, p: Plan) -> Any:
        """Worker thread: skip when the pen was asked again meanwhile."""
        if self.wanted.get(name) != rid:
            return None
        return hist.query(name, p.start, p.end, p.points)

    def _done(self, rid: int, name: str, result: Any, error: BaseException | None) -> None:
        if not shiboken6.isValid(self):  # the plot was closed meanwhile
            return
        req = self._open.get(rid)
        if req is None:
            return
        req.remaining -= 1
        if error is not None:
            text = f"{name}: {error}"
            if text != self._error:  # a broken database is reported once, not on every pan
                log.warning("trend history query failed: %s", text)
                self._error = text
            self.sigError.emit(text)
        elif result is not None:
            req.results[name] = result
        if req.remaining > 0:
            return
        del self._open[rid]
        fresh = {n: d for n, d in req.results.items() if self.wanted.get(n) == rid}
        if fresh:
            self._error = ""
        self.sigFetched.emit(rid, fresh, req.plan)
