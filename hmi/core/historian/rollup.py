"""Incremental 1-minute and 1-hour rollups.

The writer never re-scans stored samples to maintain rollups. For every batch it
inserts, it aggregates the *newly stored* samples per (tag, bucket) with NumPy and
merges those partial aggregates into the rollup rows with one UPSERT each:
min/max combine with ``min``/``max``, sums and counts add up, and the "last sample"
is whichever of the two has the later time. Because every sample is merged exactly
once (duplicates are rejected before, see :mod:`.store`), the result is identical to
aggregating all samples of the bucket at once, whatever the order they arrive in.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from hmi.core.historian.model import GOOD, UNCERTAIN
from hmi.core.historian.schema import ROLLUPS

_COLUMNS = "tag_id, bucket, vmin, vmax, vsum, nval, n, nongood, nbad, vlast, qlast, tlast"

# SQLite's two-argument min()/max() return NULL if either side is NULL: coalesce keeps
# the side that has a value. Every SET expression sees the row's old values.
_UPSERT = (
    "INSERT INTO {table} (" + _COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (tag_id, bucket) DO UPDATE SET "
    "vmin = coalesce(min(vmin, excluded.vmin), vmin, excluded.vmin), "
    "vmax = coalesce(max(vmax, excluded.vmax), vmax, excluded.vmax), "
    "vsum = vsum + excluded.vsum, nval = nval + excluded.nval, n = n + excluded.n, "
    "nongood = nongood + excluded.nongood, nbad = nbad + excluded.nbad, "
    "vlast = CASE WHEN excluded.tlast >= tlast THEN excluded.vlast ELSE vlast END, "
    "qlast = CASE WHEN excluded.tlast >= tlast THEN excluded.qlast ELSE qlast END, "
    "tlast = max(tlast, excluded.tlast)"
)


def aggregate(tag: np.ndarray, ts: np.ndarray, value: np.ndarray, quality: np.ndarray, width: int) -> list[tuple]:
    """Partial rollup rows of samples sorted by (tag, ts); ``value`` is NaN where unusable.

    Returns tuples in the column order of the rollup tables (NaN binds as NULL).
    """
    n = len(ts)
    if n == 0:
        return []
    bucket = ts - ts % width
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(tag[1:], tag[:-1], out=start[1:])
    start[1:] |= bucket[1:] != bucket[:-1]
    idx = np.flatnonzero(start)
    ends = np.append(idx[1:], n) - 1
    usable = ~np.isnan(value)
    with np.errstate(invalid="ignore"):
        vmin = np.fmin.reduceat(value, idx)  # NaN only when the whole bucket is unusable
        vmax = np.fmax.reduceat(value, idx)
    vsum = np.add.reduceat(np.where(usable, value, 0.0), idx)
    nval = np.add.reduceat(usable.astype(np.int64), idx)
    count = np.diff(np.append(idx, n))
    nongood = np.add.reduceat((quality < GOOD).astype(np.int64), idx)
    nbad = np.add.reduceat((quality < UNCERTAIN).astype(np.int64), idx)
    return list(
        zip(
            tag[idx].tolist(),
            bucket[idx].tolist(),
            vmin.tolist(),
            vmax.tolist(),
            vsum.tolist(),
            nval.tolist(),
            count.tolist(),
            nongood.tolist(),
            nbad.tolist(),
            value[ends].tolist(),
            quality[ends].tolist(),
            ts[ends].tolist(),
            strict=True,
        )
    )


def merge(cur: sqlite3.Cursor, tag: np.ndarray, ts: np.ndarray, value: np.ndarray, quality: np.ndarray) -> int:
    """Merge newly stored samples (sorted by tag, ts) into every rollup table; returns rows touched."""
    touched = 0
    for width, table, _label in ROLLUPS:
        rows = aggregate(tag, ts, value, quality, width)
        if rows:
            cur.executemany(_UPSERT.format(table=table), rows)
            touched += len(rows)
    return touched
