"""Reading history for analytics: time-weighted means on a time grid, totalizer volumes.

The historian stores a tag on change (beyond a deadband) and at least every
``max_interval`` seconds, so a stored value *holds* until the next sample. Means here
are therefore time-weighted with sample-and-hold, which is exact for such data and
does not over-weight busy periods the way a plain average of samples would. A value
holds for at most ``hold`` seconds (a tag's history interval with margin): past that,
or after a BAD sample, the time counts as "no data" (``coverage`` < 1), never as a
plausible number.

Totalizers (flow-computer forward totals) are unwrapped across rollover and resets and
interpolated at the grid edges, so hourly volumes add up exactly to the daily volume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hmi.config.schema import StationConfig
from hmi.core.historian import Historian

DEFAULT_HOLD = 900.0
#: s: a totalizer outage up to this long is bridged by interpolation (flagged "estimated")
BRIDGE = 6 * 3600.0


def hold_for(cfg: StationConfig | None) -> Callable[[str], float]:
    """How long (s) a stored value of each tag holds: 2.5 x its history interval (min 120 s)."""
    tags = cfg.tag_map() if cfg is not None else {}

    def hold(name: str) -> float:
        t = tags.get(name)
        if t is None:
            return DEFAULT_HOLD
        h = t.history
        return max(120.0, 2.5 * (h.interval if h.mode == "periodic" else h.max_interval))

    return hold


@dataclass(frozen=True, slots=True)
class Grid:
    """Time-weighted means of one tag over consecutive buckets ``[edges[k], edges[k+1])``."""

    edges: np.ndarray
    mean: np.ndarray  # NaN where the bucket has no usable value
    coverage: np.ndarray  # 0..1: share of the bucket with a usable value

    @property
    def start(self) -> np.ndarray:
        """Bucket start times."""
        return self.edges[:-1]


def _segments(
    ts: np.ndarray, value: np.ndarray, hold: float, end: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hold segments [s, e) with finite values, sorted and non-overlapping."""
    if len(ts) == 0:
        e = np.empty(0)
        return e, e, e
    nxt = np.append(ts[1:], max(end, ts[-1]))
    seg_end = np.minimum(nxt, ts + hold)
    ok = np.isfinite(value) & (seg_end > ts)
    return ts[ok], seg_end[ok], value[ok]


def _integral(
    s: np.ndarray, e: np.ndarray, v: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """∫ value dt and ∫ 1 dt over the segments, from -inf to each x."""
    if len(s) == 0:
        z = np.zeros(len(x))
        return z, z.copy()
    length = e - s
    cum_a = np.concatenate(([0.0], np.cumsum(v * length)))
    cum_l = np.concatenate(([0.0], np.cumsum(length)))
    j = np.searchsorted(s, x, side="right") - 1  # segment starting at or before x
    jj = np.clip(j, 0, len(s) - 1)
    part = np.where(j >= 0, np.clip(np.minimum(x, e[jj]) - s[jj], 0.0, None), 0.0)
    base = np.where(j >= 0, jj, 0)
    a = cum_a[base] + part * v[jj]
    ln = cum_l[base] + part
    return np.where(j >= 0, a, 0.0), np.where(j >= 0, ln, 0.0)


def grid_mean(hist: Historian, tag: str, edges: np.ndarray, hold: float = DEFAULT_HOLD) -> Grid:
    """Time-weighted (sample-and-hold) mean of ``tag`` over each bucket between ``edges``."""
    edges = np.asarray(edges, dtype=np.float64)
    raw = hist.raw(tag, float(edges[0]) - hold, float(edges[-1]))
    s, e, v = _segments(raw.ts, raw.value, hold, float(edges[-1]))
    a, ln = _integral(s, e, v, edges)
    da, dl = np.diff(a), np.diff(ln)
    width = np.diff(edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(dl > 1e-9, da / np.where(dl > 0, dl, 1.0), np.nan)
    return Grid(edges, mean, np.clip(dl / width, 0.0, 1.0))


def values_at(
    hist: Historian, tag: str, times: np.ndarray, hold: float = DEFAULT_HOLD
) -> np.ndarray:
    """The stored value of ``tag`` in effect at each of ``times`` (NaN past ``hold`` or when BAD)."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) == 0:
        return np.empty(0)
    raw = hist.raw(tag, float(times.min()) - hold, float(times.max()))
    if len(raw) == 0:
        return np.full(len(times), np.nan)
    j = np.searchsorted(raw.ts, times, side="right") - 1
    jj = np.clip(j, 0, len(raw.ts) - 1)
    ok = (j >= 0) & (times - raw.ts[jj] <= hold)
    return np.where(ok, raw.value[jj], np.nan)


def window_mean(
    hist: Historian, tag: str, start: float, end: float, hold: float = DEFAULT_HOLD
) -> tuple[float, float]:
    """(time-weighted mean, coverage) of ``tag`` over [start, end)."""
    g = grid_mean(hist, tag, np.array([start, end]), hold)
    return float(g.mean[0]), float(g.coverage[0])


def sum_of_means(
    hist: Historian, tags: list[str], edges: np.ndarray, hold: Callable[[str], float]
) -> Grid:
    """Sum of several tags' bucket means (e.g. flows of parallel runs); NaN if any is missing."""
    total = np.zeros(len(edges) - 1)
    cover = np.ones(len(edges) - 1)
    for name in tags:
        g = grid_mean(hist, name, edges, hold(name))
        total = total + g.mean
        cover = np.minimum(cover, g.coverage)
    return Grid(np.asarray(edges, np.float64), total, cover)


# --------------------------------------------------------------------------- totalizers
def unwrap_total(values: np.ndarray, rollover: float, ts: np.ndarray | None = None) -> np.ndarray:
    """Cumulative volume from totalizer readings, across rollovers and resets.

    A falling reading is either a rollover (the count passed ``rollover`` and went on
    from 0: the increment is ``rollover - prev + new``) or a reset of the flow computer
    (it counts from 0 again: the increment is ``new``; what it counted between the last
    reading and the reset is lost). With reading times ``ts`` the one whose increment is
    closer to the usual rate wins; without them, a drop of more than half the range is a
    rollover.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return v.copy()
    d = np.diff(v)
    neg = d < 0
    as_wrap = d + rollover
    as_reset = v[1:]
    wrap = neg & (-d > rollover / 2.0)
    if ts is not None and neg.any() and np.isfinite(rollover):
        dt = np.diff(np.asarray(ts, dtype=np.float64))
        ok = (~neg) & (dt > 0)
        if ok.sum() >= 2:
            rate = float(np.median(d[ok] / dt[ok]))
            expected = rate * dt
            wrap = neg & (np.abs(as_wrap - expected) < np.abs(as_reset - expected))
    d = np.where(wrap, as_wrap, np.where(neg, as_reset, d))
    return np.concatenate(([v[0]], v[0] + np.cumsum(d)))


@dataclass(frozen=True, slots=True)
class Volumes:
    """Volume of a totalizer in each bucket between ``edges`` (NaN: no reading around an edge)."""

    edges: np.ndarray
    volume: np.ndarray
    estimated: np.ndarray  # bool: an edge fell in a gap longer than max_gap (spread linearly)
    first: float  # the totalizer index at the first / last edge (interpolated, in its own range)
    last: float


def total_volumes(
    hist: Historian,
    tag: str,
    edges: np.ndarray,
    rollover: float,
    hold: float = DEFAULT_HOLD,
    max_gap: float | None = None,
    extend: float = 0.0,
) -> Volumes:
    """Rollover-safe volumes per bucket from a totalizer tag, interpolated at the edges.

    An edge between two readings is interpolated (the totalizer counts evenly between
    them); readings up to :data:`BRIDGE` seconds around the range are used, and an edge in
    a gap longer than ``max_gap`` marks its buckets ``estimated``. An edge outside the
    readings gives NaN for the buckets next to it, except
    that the last edge may lie up to ``extend`` seconds after the last reading (a live
    window ending "now"): the totalizer is then carried on at its latest rate.
    """
    edges = np.asarray(edges, dtype=np.float64)
    max_gap = 2.0 * hold if max_gap is None else max_gap
    # look a while past both ends so an edge inside an outage still has readings around it
    around = max(hold, BRIDGE)
    raw = hist.raw(tag, float(edges[0]) - around, float(edges[-1]) + around)
    ok = np.isfinite(raw.value)
    t, v = raw.ts[ok], raw.value[ok]
    n = len(edges) - 1
    if len(t) == 0:
        return Volumes(edges, np.full(n, np.nan), np.zeros(n, bool), float("nan"), float("nan"))
    cum = unwrap_total(v, rollover, t)
    at = np.interp(edges, t, cum)
    outside = (edges < t[0] - 0.001) | (edges > t[-1] + 0.001)  # stored times are whole ms
    if extend > 0 and len(t) >= 2 and t[-1] < edges[-1] <= t[-1] + extend:
        rate = (cum[-1] - cum[-2]) / max(t[-1] - t[-2], 1e-9)
        at[-1] = cum[-1] + rate * (edges[-1] - t[-1])
        outside[-1] = False
    at[outside] = np.nan
    # exact reading at or just around an edge: how long is the gap the edge falls in?
    j = (
        np.clip(np.searchsorted(t, edges, side="right"), 1, len(t) - 1)
        if len(t) > 1
        else np.zeros(len(edges), int)
    )
    gap = (t[j] - t[j - 1]) if len(t) > 1 else np.zeros(len(edges))
    est_edge = (gap > max_gap) & ~outside
    vol = np.diff(at)
    estimated = est_edge[:-1] | est_edge[1:]
    index = np.mod(at, rollover) if np.isfinite(rollover) else at
    return Volumes(edges, vol, estimated, float(index[0]), float(index[-1]))


def linear_slope(t: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    """Least-squares slope of y over t (per unit of t), its standard error and the point count."""
    ok = np.isfinite(y) & np.isfinite(t)
    t, y = t[ok], y[ok]
    n = len(t)
    if n < 3:
        return float("nan"), float("nan"), n
    tc = t - t.mean()
    sxx = float(np.dot(tc, tc))
    if sxx <= 0:
        return float("nan"), float("nan"), n
    slope = float(np.dot(tc, y - y.mean()) / sxx)
    resid = y - y.mean() - slope * tc
    se = float(np.sqrt(np.dot(resid, resid) / max(n - 2, 1) / sxx))
    return slope, se, n
