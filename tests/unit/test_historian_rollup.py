"""Rollups (1 min, 1 h) kept incrementally by the writer equal NumPy over the same samples."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from hmi.config.schema import HistorianConfig
from hmi.core.historian import BAD, GOOD, UNCERTAIN, Historian
from tests.helpers import wait_until

NOW = float(int(time.time()) // 3600 * 3600)


def _expected(ts_ms: np.ndarray, v: np.ndarray, q: np.ndarray, width: int) -> dict[int, tuple]:
    """Straightforward per-bucket aggregates (the reference)."""
    out = {}
    usable_all = (q >= UNCERTAIN) & ~np.isnan(v)
    for b in np.unique(ts_ms - ts_ms % width):
        m = (ts_ms >= b) & (ts_ms < b + width)
        u = m & usable_all
        last = np.flatnonzero(m)[np.argmax(ts_ms[m])]
        out[int(b)] = (
            float(v[u].min()) if u.any() else None,
            float(v[u].max()) if u.any() else None,
            float(v[u].sum()),
            int(u.sum()),
            int(m.sum()),
            int((q[m] < GOOD).sum()),
            int((q[m] < UNCERTAIN).sum()),
            None if q[last] < UNCERTAIN or np.isnan(v[last]) else float(v[last]),
            int(q[last]),
            int(ts_ms[last]),
        )
    return out


def _table(path, table: str, tid: int) -> dict[int, tuple]:
    con = sqlite3.connect(path)
    rows = con.execute(
        f"SELECT bucket, vmin, vmax, vsum, nval, n, nongood, nbad, vlast, qlast, tlast FROM {table} WHERE tag_id = ?",
        (tid,),
    ).fetchall()
    con.close()
    return {r[0]: r[1:] for r in rows}


def _assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for b, w in want.items():
        g = got[b]
        assert g[0:2] == pytest.approx(w[0:2]) if w[0] is not None else g[0:2] == (None, None), b
        assert g[2] == pytest.approx(w[2]) and g[3:7] == w[3:7], b
        assert (g[7] == pytest.approx(w[7]) if w[7] is not None else g[7] is None) and g[8:] == w[
            8:
        ], b


def _data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # irregular times over ~3 h, crossing many minute and a few hour boundaries
    ts = NOW - 3 * 3600 - 30 + np.cumsum(rng.uniform(0.2, 9.0, n))
    v = rng.normal(0.4, 0.05, n)
    q = rng.choice(np.array([GOOD, GOOD, GOOD, GOOD, UNCERTAIN, BAD], np.uint8), n)
    v[rng.random(n) < 0.02] = np.nan  # a GOOD NaN is not a usable value either
    return ts, v, q


def test_incremental_rollups_match_numpy_across_boundaries(tmp_path):
    rng = np.random.default_rng(3)
    ts, v, q = _data(rng, 2500)
    with Historian(tmp_path / "h.db", HistorianConfig(flush_interval=0.05)) as h:
        (tid,) = h.tag_ids(["p"])
        # many small writes in shuffled chunks: buckets are merged over several transactions,
        # some samples arrive late (older than what is stored)
        order = np.arange(len(ts))
        chunks = np.array_split(order, 40)
        rng.shuffle(chunks)
        for c in chunks:
            h.write(np.full(len(c), tid), ts[c], v[c], q[c])
            if rng.random() < 0.5:
                assert h.flush()
        assert h.flush()
        assert h.stats()["transactions"] > 10
    ts_ms = np.rint(ts * 1000).astype(np.int64)
    vv = np.where(q < UNCERTAIN, np.nan, v)
    _assert_same(_table(tmp_path / "h.db", "rollup_1m", int(tid)), _expected(ts_ms, vv, q, 60_000))
    _assert_same(
        _table(tmp_path / "h.db", "rollup_1h", int(tid)), _expected(ts_ms, vv, q, 3_600_000)
    )


def test_bulk_load_builds_the_same_rollups(tmp_path):
    rng = np.random.default_rng(5)
    ts, v, q = _data(rng, 3000)
    with Historian(tmp_path / "h.db", HistorianConfig()) as h:
        assert h.bulk_load("p", ts, v, q) == 3000
        tid = h.tag_names()["p"]
        assert h.bulk_load("p", ts[:10], v[:10], q[:10]) == 0  # loading again changes nothing
    ts_ms = np.rint(ts * 1000).astype(np.int64)
    vv = np.where(q < UNCERTAIN, np.nan, v)
    _assert_same(_table(tmp_path / "h.db", "rollup_1m", tid), _expected(ts_ms, vv, q, 60_000))
    _assert_same(_table(tmp_path / "h.db", "rollup_1h", tid), _expected(ts_ms, vv, q, 3_600_000))


_CRASH = """
import os, sys, time
import numpy as np
from hmi.config.schema import HistorianConfig
from hmi.core.historian import Historian
d = np.load(sys.argv[2])
h = Historian(sys.argv[1], HistorianConfig(flush_interval=0.05))
h.start()
(tid,) = h.tag_ids(["p"])
parts = np.array_split(np.arange(len(d["ts"])), 30)
for k, c in enumerate(parts):
    h.write(np.full(len(c), tid), d["ts"][c], d["v"][c], d["q"][c])
    if k == 20:
        assert h.flush()  # open rows written once, then stale
deadline = time.monotonic() + 60
while h.stats()["rows_written"] < len(d["ts"]) and time.monotonic() < deadline:
    time.sleep(0.02)
assert h.stats()["rows_written"] == len(d["ts"])
os._exit(0)  # a crash: no stop(), the open buckets' rows are not written
"""


def _queries(h: Historian) -> list:
    # 1-min rollups (points 200, 50) and 1-h rollups (points 3) over ranges ending in the open buckets
    return [
        h.query("p", NOW - 4 * 3600 + k * 7, NOW + 3600, p) for p in (200, 50, 3) for k in (0, 1)
    ]


def _assert_same_queries(a: list, b: list) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.source == y.source and len(x.ts) == len(y.ts)
        for f in ("ts", "min", "max", "last", "count", "quality"):
            np.testing.assert_array_equal(getattr(x, f), getattr(y, f))
        np.testing.assert_allclose(x.avg, y.avg, rtol=1e-12)


def test_queries_are_exact_while_buckets_are_open(tmp_path):
    rng = np.random.default_rng(7)
    ts, v, q = _data(rng, 2500)
    with Historian(tmp_path / "h.db", HistorianConfig(flush_interval=0.05)) as h:
        (tid,) = h.tag_ids(["p"])
        for c in np.array_split(np.arange(len(ts)), 25):
            h.write(np.full(len(c), tid), ts[c], v[c], q[c])
        wait_until(lambda: h.stats()["rows_written"] == len(ts), what="samples committed")
        before = _queries(h)  # open buckets not written yet: taken from finer data
        assert {r.source for r in before} == {"1min", "1h"}
        assert h.flush()  # writes the open buckets' rows
        _assert_same_queries(before, _queries(h))


def test_open_buckets_are_rebuilt_exactly_after_a_crash(tmp_path):
    rng = np.random.default_rng(11)
    ts, v, q = _data(rng, 2500)
    order = rng.permutation(len(ts))  # out of order, late samples included
    np.savez(tmp_path / "d.npz", ts=ts[order], v=v[order], q=q[order])
    path = tmp_path / "h.db"
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH, str(path), str(tmp_path / "d.npz")],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    ts_ms = np.rint(ts * 1000).astype(np.int64)
    vv = np.where(q < UNCERTAIN, np.nan, v)
    want_1m, want_1h = _expected(ts_ms, vv, q, 60_000), _expected(ts_ms, vv, q, 3_600_000)
    h = Historian(path, HistorianConfig())
    try:
        tid = h.tag_names()["p"]
        # the crash left the open buckets' rows stale; reads do not depend on them
        assert _table(path, "rollup_1h", tid) != want_1h
        stale = _queries(h)
        h.start()  # rebuilds the open buckets from raw samples and the 1-min table
        _assert_same(_table(path, "rollup_1m", tid), want_1m)
        _assert_same(_table(path, "rollup_1h", tid), want_1h)
        _assert_same_queries(stale, _queries(h))
        # and keeps merging on top of the rebuilt state
        h.write(
            np.array([tid]), np.array([ts.max() + 1.0]), np.array([0.5]), np.array([GOOD], np.uint8)
        )
        assert h.flush()
    finally:
        h.close()
    ts_ms = np.r_[ts_ms, np.rint((ts.max() + 1.0) * 1000)].astype(np.int64)
    vv, q2 = np.r_[vv, 0.5], np.r_[q, GOOD].astype(np.uint8)
    _assert_same(_table(path, "rollup_1h", tid), _expected(ts_ms, vv, q2, 3_600_000))
