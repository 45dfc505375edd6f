"""Rollups (1 min, 1 h) kept incrementally by the writer equal NumPy over the same samples."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest

from hmi.config.schema import HistorianConfig
from hmi.core.historian import BAD, GOOD, UNCERTAIN, Historian

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
        f"SELECT bucket, vmin, vmax, vsum, nval, n, nongood, nbad, vlast, qlast, tlast FROM {table} WHERE tag_id = ?", (tid,)
    ).fetchall()
    con.close()
    return {r[0]: r[1:] for r in rows}


def _assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for b, w in want.items():
        g = got[b]
        assert g[0:2] == pytest.approx(w[0:2]) if w[0] is not None else g[0:2] == (None, None), b
        assert g[2] == pytest.approx(w[2]) and g[3:7] == w[3:7], b
        assert (g[7] == pytest.approx(w[7]) if w[7] is not None else g[7] is None) and g[8:] == w[8:], b


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
    _assert_same(_table(tmp_path / "h.db", "rollup_1h", int(tid)), _expected(ts_ms, vv, q, 3_600_000))


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
