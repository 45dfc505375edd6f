"""One pen's data: history fetched from the historian plus live values appended after it.

Qt-free (NumPy only), so it is tested and benchmarked without a display. Rows are either
raw samples or decimated buckets (:class:`~hmi.core.historian.model.HistoryData`); live
values are samples. A BAD value is NaN, so a line drawn with ``connect="finite"`` breaks
there, and a time nobody knows about (between the end of the fetched history and the
moment the live feed started) is bridged by a NaN row, never by a line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivers.base import Quality

GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)
#: columns of the combined row table
_COLS = ("t0", "x", "avg", "min", "max", "last", "q", "count", "bucket", "bad")


@dataclass(frozen=True, slots=True)
class Readout:
    """A pen's value at one time (the cursor): a sample, a bucket, or a held value."""

    ts: float  # time of the sample or start of the bucket
    value: float  # NaN when there is no usable value
    vmin: float
    vmax: float
    quality: int  # worst quality of the row: 192, 64 or 0
    bucket: float  # bucket width (s), 0 for a sample
    count: int  # samples in the bucket (1 for a sample)
    bad: bool  # the row holds a BAD sample
    held: bool = False  # the time is after the row: its value still held

    @property
    def partly_bad(self) -> bool:
        """A bucket with usable values that also saw BAD samples (a short outage)."""
        return self.bad and not math.isnan(self.value)


def _empty() -> dict[str, np.ndarray]:
    f = np.empty(0)
    return {
        "t0": f,
        "x": f,
        "avg": f,
        "min": f,
        "max": f,
        "last": f,
        "q": np.empty(0, np.uint8),
        "count": np.empty(0, np.int64),
        "bucket": f,
        "bad": np.empty(0, bool),
    }


class Series:
    """History of one tag over a fetched range, then its live values.

    ``live_since``: from this time on the series receives every change of the tag (the
    live feed), so the live part is continuous from there to now.
    """

    def __init__(self, live_since: float, capacity: int = 200_000) -> None:
        self.live_since = float(live_since)
        self.capacity = capacity
        self.start = math.nan  # fetched history range
        self.end = math.nan
        self.bucket = 0.0  # bucket width of the fetched history (0: raw samples)
        self.source = ""
        self._h = _empty()
        self._lt = np.empty(1024)
        self._lv = np.empty(1024)
        self._lq = np.empty(1024, np.uint8)
        self._n = 0
        self.version = 0
        self._cache: tuple[int, dict[str, np.ndarray]] | None = None

    # ------------------------------------------------------------------ input
    def set_history(self, data: Any, start: float, end: float) -> None:
        """Replace the history with a :class:`HistoryData` fetched for [start, end]."""
        b = float(data.bucket)
        t0 = np.asarray(data.ts, np.float64)
        count = np.asarray(data.count, np.int64)
        if b > 0 and len(t0):
            # buckets drawn at their middle; a gap row stays after its bucket
            x = np.maximum.accumulate(np.where(count > 0, t0 + b / 2.0, t0))
        else:
            x = t0
        self._h = {
            "t0": t0,
            "x": x,
            "avg": np.asarray(data.avg if b > 0 else data.last, np.float64),
            "min": np.asarray(data.min, np.float64),
            "max": np.asarray(data.max, np.float64),
            "last": np.asarray(data.last, np.float64),
            "q": np.asarray(data.quality, np.uint8),
            "count": count,
            "bucket": np.where(count > 0, b, 0.0) if b > 0 else np.zeros(len(t0)),
            "bad": np.asarray(data.bad, bool),
        }
        self.start, self.end, self.bucket, self.source = (
            float(start),
            float(end),
            b,
            str(data.source),
        )
        self.version += 1

    def clear_history(self) -> None:
        """Forget the fetched history (the live part stays)."""
        self._h = _empty()
        self.start = self.end = math.nan
        self.bucket = 0.0
        self.version += 1

    def append(self, ts: float, value: float, quality: int) -> None:
        """One live value (NaN stored when BAD). Out-of-order values are dropped."""
        if self._n and ts <= self._lt[self._n - 1]:
            return
        if self._n == len(self._lt):
            if self._n >= self.capacity:  # drop the oldest half; the live part now starts later
                keep = self._n // 2
                for a in (self._lt, self._lv, self._lq):
                    a[:keep] = a[self._n - keep : self._n]
                self._n = keep
                self.live_since = max(self.live_since, float(self._lt[0]))
            else:
                grow = min(2 * len(self._lt), self.capacity)
                self._lt = np.resize(self._lt, grow)
                self._lv = np.resize(self._lv, grow)
                self._lq = np.resize(self._lq, grow)
        q = int(quality)
        self._lt[self._n] = ts
        self._lv[self._n] = value if q >= UNCERTAIN else math.nan
        self._lq[self._n] = GOOD if q >= GOOD else (UNCERTAIN if q >= UNCERTAIN else BAD)
        self._n += 1
        self.version += 1

    @property
    def live_count(self) -> int:
        """Live values held."""
        return self._n

    def latest(self) -> tuple[float, float, int] | None:
        """(ts, value, quality) of the newest live value, or None."""
        if not self._n:
            return None
        k = self._n - 1
        return float(self._lt[k]), float(self._lv[k]), int(self._lq[k])

    # ------------------------------------------------------------------ combined rows
    def rows(self) -> dict[str, np.ndarray]:
        """History rows, a NaN break where nothing is known, then live rows after the history."""
        if self._cache is not None and self._cache[0] == self.version:
            return self._cache[1]
        h = self._h
        lt, lv, lq = self._lt[: self._n], self._lv[: self._n], self._lq[: self._n]
        if len(h["t0"]) and not math.isnan(self.end):
            k = int(np.searchsorted(lt, self.end, side="right"))
            lt, lv, lq = lt[k:], lv[k:], lq[k:]
        parts = [h]
        if len(lt):
            if len(h["t0"]) and self.end < self.live_since - 1.0:
                parts.append(
                    self._row(self.end, math.nan, UNCERTAIN, 0, False)
                )  # unknown time: break
            n = len(lt)
            parts.append(
                {
                    "t0": lt,
                    "x": lt,
                    "avg": lv,
                    "min": lv,
                    "max": lv,
                    "last": lv,
                    "q": lq,
                    "count": np.ones(n, np.int64),
                    "bucket": np.zeros(n),
                    "bad": lq < UNCERTAIN,
                }
            )
        out = (
            parts[0]
            if len(parts) == 1
            else {c: np.concatenate([p[c] for p in parts]) for c in _COLS}
        )
        self._cache = (self.version, out)
        return out

    @staticmethod
    def _row(t: float, v: float, q: int, count: int, bad: bool) -> dict[str, np.ndarray]:
        a = np.array([v])
        return {
            "t0": np.array([t]),
            "x": np.array([t]),
            "avg": a,
            "min": a,
            "max": a,
            "last": a,
            "q": np.array([q], np.uint8),
            "count": np.array([count], np.int64),
            "bucket": np.zeros(1),
            "bad": np.array([bad]),
        }

    def line(self, step: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the line: bucket averages or sample values, NaN where it must break.

        ``step``: hold each value until the next one (discrete tags)."""
        r = self.rows()
        x, y = r["x"], r["avg"]
        if step and len(x) > 1:
            x = np.repeat(x, 2)[1:]
            y = np.repeat(y, 2)[:-1]
        return x, y

    def envelope(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(start, width, min, max) of the decimated buckets that hold usable values
        (empty when the history is raw samples)."""
        r = self.rows()
        keep = (r["count"] > 1) & (r["bucket"] > 0) & np.isfinite(r["min"])
        return r["t0"][keep], r["bucket"][keep], r["min"][keep], r["max"][keep]

    def hold(self) -> tuple[float, float] | None:
        """(x, y) of the last drawn point when the newest value is usable (drawn on to now)."""
        r = self.rows()
        if not len(r["x"]):
            return None
        y = float(r["last"][-1])
        latest = self.latest()
        if latest is not None and latest[0] > float(r["t0"][-1]):
            y = latest[1]
        if math.isnan(y):
            return None
        return float(r["x"][-1]), y

    # ------------------------------------------------------------------ reading back
    def known(self, t: float, now: float) -> bool:
        """True when ``t`` lies in the fetched history or in the live part."""
        in_hist = not math.isnan(self.start) and self.start <= t <= self.end
        return in_hist or (self.live_since <= t <= now)

    def value_at(self, t: float, now: float) -> Readout | None:
        """The pen's reading at time ``t`` (None where nothing is known)."""
        r = self.rows()
        if not len(r["t0"]) or not self.known(t, now):
            return None
        i = int(np.searchsorted(r["t0"], t, side="right")) - 1
        if i < 0:
            return None
        b = float(r["bucket"][i])
        q, bad = int(r["q"][i]), bool(r["bad"][i])
        if b > 0 and t < r["t0"][i] + b:
            return Readout(
                float(r["t0"][i]),
                float(r["avg"][i]),
                float(r["min"][i]),
                float(r["max"][i]),
                q,
                b,
                int(r["count"][i]),
                bad,
            )
        last = float(r["last"][i])
        if math.isnan(last):
            q, bad = BAD, True
        return Readout(
            float(r["t0"][i]), last, last, last, q, 0.0, 1, bad, held=b > 0 or t > r["t0"][i]
        )

    def rows_between(self, x0: float, x1: float) -> dict[str, np.ndarray]:
        """The rows whose time lies in [x0, x1] (export of the visible data)."""
        r = self.rows()
        lo = int(np.searchsorted(r["t0"], x0, side="left"))
        hi = int(np.searchsorted(r["t0"], x1, side="right"))
        return {c: r[c][lo:hi] for c in _COLS}
