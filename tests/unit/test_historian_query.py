"""Trend queries: raw vs decimated, resolution choice, exact envelopes, BAD periods as gaps."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hmi.config.schema import HistorianConfig
from hmi.core.historian import BAD, GOOD, UNCERTAIN, Historian

END = float(int(time.time()) // 3600 * 3600 - 3600)
START = END - 3 * 86400
OUT1, OUT2 = START + 86400 + 1000, START + 86400 + 1600  # 10-min comm outage on day 2


@pytest.fixture(scope="module")
def hist(tmp_path_factory):
    """Three days of 1 s data for 'p' (one outage), plus an on-change tag 'c' with a lone BAD sample."""
    path = tmp_path_factory.mktemp("hq") / "history.db"
    rng = np.random.default_rng(11)
    ts = np.arange(START, END, 1.0)
    v = 0.4 + 0.05 * np.sin(ts / 5000.0) + rng.normal(0, 0.01, len(ts))
    q = np.full(len(ts), GOOD, np.uint8)
    q[(ts >= OUT1) & (ts < OUT2)] = BAD
    q[rng.random(len(ts)) < 0.001] = UNCERTAIN
    h = Historian(path, HistorianConfig())
    h.bulk_load("p", ts, v, q)
    # on-change tag: a value every 10 s, then BAD once, then silence for 2 h, then values again
    c_ts = np.r_[
        np.arange(START, START + 3600, 10.0),
        START + 3600,
        np.arange(START + 3 * 3600, START + 4 * 3600, 10.0),
    ]
    c_q = np.full(len(c_ts), GOOD, np.uint8)
    c_q[360] = BAD
    h.bulk_load("c", c_ts, np.ones(len(c_ts)), c_q)
    yield h, (ts, np.where(q < UNCERTAIN, np.nan, v), q)
    h.close()


def _reference(ts, v, q, start, end, w):
    """Per-bucket min/max/count over the samples in [start, end], buckets of w seconds."""
    s_ms, e_ms, w_ms = round(start * 1000), round(end * 1000), round(w * 1000)
    t_ms = np.rint(ts * 1000).astype(np.int64)
    m = (t_ms >= s_ms) & (t_ms <= e_ms)
    g = t_ms[m] // w_ms
    out = {}
    for k in np.unique(g):
        sel = g == k
        vals = v[m][sel]
        out[int(k)] = (
            np.nanmin(vals) if np.isfinite(vals).any() else np.nan,
            np.nanmax(vals) if np.isfinite(vals).any() else np.nan,
            int(sel.sum()),
            bool((q[m][sel] < UNCERTAIN).any()),
        )
    return out


@pytest.mark.parametrize(
    ("span", "points", "source", "decimated"),
    [
        (600.0, 2000, "raw", False),  # 600 samples <= points: raw samples
        (7200.0, 500, "raw", True),  # buckets of ~14 s: finer than a minute, from raw
        (86400.0, 500, "1min", True),  # buckets of 3 min: from 1-minute rollups
        (3 * 86400.0 - 100, 50, "1h", True),  # buckets of 2 h: from 1-hour rollups
    ],
)
def test_resolution_choice_and_exact_envelope(hist, span, points, source, decimated):
    h, (ts, v, q) = hist
    end = END - 1234.567  # unaligned edges: partial rollup buckets come from raw samples
    start = end - span
    d = h.query("p", start, end, points)
    assert d.source == source and d.decimated == decimated
    assert d.buckets <= points
    if not decimated:
        m = (ts >= start) & (ts <= end)
        np.testing.assert_allclose(d.min, v[m])
        return
    assert (
        d.bucket * 1000 % (3_600_000 if source == "1h" else 60_000 if source == "1min" else 1) == 0
    )
    ref = _reference(ts, v, q, start, end, d.bucket)
    rows = d.count > 0
    got_keys = np.rint(d.ts[rows] * 1000).astype(np.int64) // round(d.bucket * 1000)
    assert got_keys.tolist() == sorted(ref)
    want = np.array([ref[k][:3] for k in got_keys.tolist()], dtype=float)
    np.testing.assert_allclose(d.min[rows], want[:, 0])
    np.testing.assert_allclose(d.max[rows], want[:, 1])
    np.testing.assert_array_equal(d.count[rows], want[:, 2])
    assert d.bad[rows].tolist() == [ref[k][3] for k in got_keys.tolist()]
    assert d.count.sum() == ((ts >= start) & (ts <= end)).sum()


def test_bucket_count_never_exceeds_points(hist):
    h, _ = hist
    rng = np.random.default_rng(2)
    for _ in range(25):
        a, b = np.sort(rng.uniform(START - 3600, END + 3600, 2))
        points = int(rng.integers(2, 3000))
        d = h.query("p", a, b, points)
        assert d.buckets <= points, (a, b, points)
        assert len(d) - d.buckets == int(np.count_nonzero(d.count == 0))


@pytest.mark.parametrize(
    ("span", "points"), [(6 * 3600.0, 3000), (6 * 3600.0, 300), (2 * 86400.0, 400)]
)
def test_comm_outage_stays_a_gap_at_every_zoom(hist, span, points):
    h, _ = hist
    start = OUT1 - span / 2
    d = h.query("p", start, start + span, points)
    finite = np.isfinite(d.min)
    inside = (d.ts >= OUT1 - d.bucket) & (d.ts < OUT2)
    # a trend drawing with connect="finite" breaks the line somewhere in the outage
    assert (~finite & inside).any(), d.source
    assert d.bad[inside].any() and not d.bad[d.ts > OUT2 + d.bucket].any()
    # the rows around the outage still carry values (the outage does not hide good data)
    assert finite[d.ts < OUT1 - d.bucket].all() and finite[d.ts > OUT2 + d.bucket].all()


def test_lone_bad_sample_breaks_the_line_until_the_next_good_one(hist):
    h, _ = hist
    bad_t = START + 3600
    for points, source in ((None, "raw"), (200, "1min"), (4, "1h")):
        d = h.query("c", START, START + 5 * 3600, points)
        assert d.source == source and (points is None or d.buckets <= points)
        # rows (samples or whole buckets) between the BAD sample and the next GOOD one: all NaN
        between = (d.ts >= bad_t) & (d.ts + max(d.bucket, 1.0) <= START + 3 * 3600)
        assert between.any() and np.isnan(d.min[between]).all(), points
        assert np.isfinite(d.min[d.ts + d.bucket < bad_t]).all()


def test_short_outage_inside_a_bucket_is_flagged_not_hidden(hist):
    h, _ = hist
    d = h.query("p", START, END, 10)  # buckets of ~8 h: the 10-min outage is inside one
    k = np.flatnonzero((d.ts <= OUT1) & (d.ts + d.bucket > OUT2))
    assert len(k) == 1 and d.bad[k[0]] and np.isfinite(d.min[k[0]]) and d.quality[k[0]] == BAD
    assert d.quality[d.count > 0].min() == BAD and set(d.quality.tolist()) <= {0, 64, 192}


def test_unknown_tag_and_empty_ranges(hist):
    h, _ = hist
    assert len(h.query("nope", START, END, 100)) == 0
    assert len(h.query("p", END + 10, END + 20, 100)) == 0
    assert len(h.query("p", END, START, 100)) == 0
    with pytest.raises(ValueError):
        h.query("p", START, END, 1)
