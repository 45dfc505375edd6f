"""Incremental 1-minute and 1-hour rollups, with the *open* bucket of each tag in memory.

The writer never re-scans stored samples to maintain rollups. For every batch it
inserts, it aggregates the *newly stored* samples per (tag, bucket) with NumPy
(:func:`aggregate_arrays`) and merges those partial aggregates: min/max combine with
``min``/``max``, sums and counts add up, and the "last sample" is whichever of the two
has the later time. Because every sample is merged exactly once (duplicates are
rejected before, see :mod:`.store`), the result is identical to aggregating all samples
of the bucket at once, whatever the order they arrive in.

Where the merge happens (:class:`Rollups`): the bucket holding a tag's newest stored
sample is its *open* bucket, kept in NumPy arrays indexed by tag id; samples for it are
folded in memory. The row of a bucket is written (``INSERT OR REPLACE``, exact) when it
closes, i.e. in the same transaction as the first sample of a later bucket; samples for
older buckets (late, out of order) and buckets a batch opens and closes at once go to
the table with one UPSERT each. Hence, in every committed state, every rollup row of a
bucket *older than the tag's newest sample* is exact; only the open bucket's row may be
missing or stale. Readers therefore take the open bucket from finer data (see
:mod:`.query`), :meth:`Rollups.checkpoint` writes the open rows (periodically and on
stop), and :meth:`Rollups.rebuild` recomputes them at start from the finer table and raw
samples, which makes a crash lose nothing.

The in-memory state changes only after the transaction commits: :meth:`Rollups.merge`
returns the changes and :meth:`Rollups.apply` applies them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np

from hmi.core.historian.model import GOOD, UNCERTAIN
from hmi.core.historian.schema import ROLLUPS

_COLUMNS = "tag_id, bucket, vmin, vmax, vsum, nval, n, nongood, nbad, vlast, qlast, tlast"
_AGG_COLUMNS = "vmin, vmax, vsum, nval, n, nongood, nbad, vlast, qlast, tlast"
NONE = np.iinfo(np.int64).min  # "no open bucket" (no sample stored since the state was built)

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
_REPLACE = "INSERT OR REPLACE INTO {table} (" + _COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
# newest stored time of every tag (one index probe per tag); materialized and joined first so
# that each tag costs one index range of the joined table
_NEWEST = "SELECT id AS tid, (SELECT max(ts) FROM samples WHERE tag_id = tags.id) AS m FROM tags"

Agg = list[
    np.ndarray
]  # vmin, vmax, vsum (float), nval, n, nongood, nbad (int), vlast (float), qlast, tlast (int)
_FLOAT = (0, 1, 2, 7)


def aggregate_arrays(
    tag: np.ndarray, ts: np.ndarray, value: np.ndarray, quality: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, Agg]:
    """Per (tag, bucket) partial aggregates of samples sorted by (tag, ts); ``value`` NaN where unusable."""
    n = len(ts)
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
    agg = [
        vmin,
        vmax,
        np.add.reduceat(np.where(usable, value, 0.0), idx),
        np.add.reduceat(usable.astype(np.int64), idx),
        np.diff(np.append(idx, n)),
        np.add.reduceat((quality < GOOD).astype(np.int64), idx),
        np.add.reduceat((quality < UNCERTAIN).astype(np.int64), idx),
        value[ends],
        quality[ends].astype(np.int64),
        ts[ends].astype(np.int64),
    ]
    return tag[idx].astype(np.int64), bucket[idx], agg


def aggregate(
    tag: np.ndarray, ts: np.ndarray, value: np.ndarray, quality: np.ndarray, width: int
) -> list[tuple[Any, ...]]:
    """Partial rollup rows (tuples in the column order of the rollup tables, NaN binds as NULL)."""
    if len(ts) == 0:
        return []
    t, b, agg = aggregate_arrays(tag, ts, value, quality, width)
    return _rows(t, b, agg)


def _rows(tag: np.ndarray, bucket: np.ndarray, agg: Agg) -> list[tuple[Any, ...]]:
    return list(zip(tag.tolist(), bucket.tolist(), *(a.tolist() for a in agg), strict=True))


def _take(agg: Agg, sel: Any) -> Agg:
    return [a[sel] for a in agg]


def _combine(a: Agg, b: Agg) -> Agg:
    """Aggregate of two disjoint sample sets (element-wise)."""
    newer = b[9] >= a[9]
    return [
        np.fmin(a[0], b[0]),
        np.fmax(a[1], b[1]),
        a[2] + b[2],
        a[3] + b[3],
        a[4] + b[4],
        a[5] + b[5],
        a[6] + b[6],
        np.where(newer, b[7], a[7]),
        np.where(newer, b[8], a[8]),
        np.maximum(a[9], b[9]),
    ]


def _reduce(tag: np.ndarray, agg: Agg) -> tuple[np.ndarray, Agg]:
    """Combine rows sorted by (tag, time) into one per tag (the last row holds the latest sample)."""
    start = np.flatnonzero(np.r_[True, tag[1:] != tag[:-1]])
    last = np.append(start[1:], len(tag)) - 1
    with np.errstate(invalid="ignore"):
        out = [np.fmin.reduceat(agg[0], start), np.fmax.reduceat(agg[1], start)]
    out += [np.add.reduceat(agg[k], start) for k in range(2, 7)]
    out += [agg[k][last] for k in (7, 8, 9)]
    return tag[start], out


class OpenBuckets:
    """The open bucket of every tag for one rollup table (arrays indexed by tag id)."""

    def __init__(self, width: int, table: str) -> None:
        self.width = width
        self.table = table
        self.bucket = np.empty(0, np.int64)
        self.agg: Agg = [np.empty(0, np.float64 if k in _FLOAT else np.int64) for k in range(10)]
        self.dirty = np.empty(0, bool)  # changed since its row was last written

    def grow(self, size: int) -> None:
        """Room for tag ids below ``size`` (new entries have no open bucket)."""
        old = len(self.bucket)
        if size <= old:
            return
        size = max(size, old * 2, 1024)
        self.bucket = np.concatenate([self.bucket, np.full(size - old, NONE, np.int64)])
        self.agg = [np.concatenate([a, np.zeros(size - old, a.dtype)]) for a in self.agg]
        self.dirty = np.concatenate([self.dirty, np.zeros(size - old, bool)])

    def get(self, tags: np.ndarray) -> Agg:
        """Copies of the open aggregates of ``tags``."""
        return [a[tags] for a in self.agg]

    def set(self, tags: np.ndarray, bucket: np.ndarray, agg: Agg, dirty: bool) -> None:
        """Replace the open buckets of ``tags``."""
        if len(tags):
            self.grow(int(tags.max()) + 1)
            self.bucket[tags] = bucket
            for a, v in zip(self.agg, agg, strict=True):
                a[tags] = v
            self.dirty[tags] = dirty


Change = tuple[OpenBuckets, np.ndarray, np.ndarray, Agg, bool]


class Rollups:
    """The open buckets of every rollup table, and how samples and checkpoints reach the tables."""

    def __init__(self) -> None:
        self.open = [OpenBuckets(width, table) for width, table, _label in ROLLUPS]

    # ------------------------------------------------------------------ rebuild at start
    @classmethod
    def rebuild(cls, cur: sqlite3.Cursor) -> Rollups:
        """Recompute the open bucket of every tag exactly and write its rows (inside ``cur``'s transaction).

        The finest open bucket comes from raw samples, each coarser one from the closed
        (hence exact) buckets of the next finer table plus that table's open bucket.
        """
        self = cls()
        fine = self.open[0]
        w0 = fine.width
        rows = cur.execute(
            f"WITH t AS MATERIALIZED ({_NEWEST}) SELECT s.tag_id, s.ts, s.value, s.quality FROM t CROSS JOIN samples s ON s.tag_id = t.tid "
            "WHERE t.m IS NOT NULL AND s.ts >= t.m - t.m % ? ORDER BY s.tag_id, s.ts",
            (w0,),
        ).fetchall()
        if not rows:
            return self
        a = np.array(rows, dtype=np.float64).reshape(-1, 4)  # NULL value -> NaN
        tag = a[:, 0].astype(np.int64)
        ts = a[:, 1].astype(np.int64)
        t, b, agg = aggregate_arrays(tag, ts, a[:, 2], a[:, 3].astype(np.uint8), w0)
        fine.set(t, b, agg, dirty=True)
        for finer, ob in zip(self.open, self.open[1:], strict=False):
            if ob.width % finer.width:
                raise ValueError(f"rollup width {ob.width} is not a multiple of {finer.width}")
            closed = cur.execute(
                f"WITH t AS MATERIALIZED ({_NEWEST}) SELECT r.tag_id, r.bucket, {_AGG_COLUMNS} FROM t CROSS JOIN {finer.table} r ON r.tag_id = t.tid "
                "WHERE t.m IS NOT NULL AND r.bucket >= t.m - t.m % ?1 AND r.bucket < t.m - t.m % ?2 ORDER BY r.tag_id, r.bucket",
                (ob.width, finer.width),
            ).fetchall()
            c = np.array(closed, dtype=np.float64).reshape(-1, 12)
            ctag = np.r_[c[:, 0].astype(np.int64), t]
            cagg = [
                np.r_[c[:, 2 + k].astype(fine.agg[k].dtype), finer.agg[k][t]] for k in range(10)
            ]
            order = np.lexsort(
                (np.r_[c[:, 1].astype(np.int64), finer.bucket[t]], ctag)
            )  # the open bucket sorts last
            t2, agg2 = _reduce(ctag[order], _take(cagg, order))
            ob.set(t2, finer.bucket[t2] - finer.bucket[t2] % ob.width, agg2, dirty=True)
        for change in self.checkpoint(cur)[1]:
            self.apply([change])
        return self

    # ------------------------------------------------------------------ per batch
    def merge(
        self,
        cur: sqlite3.Cursor,
        tag: np.ndarray,
        ts: np.ndarray,
        value: np.ndarray,
        quality: np.ndarray,
    ) -> tuple[int, list[Change]]:
        """Merge newly stored samples (sorted by tag, ts): rows written and the in-memory changes."""
        if len(ts) == 0:
            return 0, []
        written = 0
        changes: list[Change] = []
        for ob in self.open:
            tr, br, agg = aggregate_arrays(tag, ts, value, quality, ob.width)
            ob.grow(int(tr.max()) + 1)  # only adds empty entries: harmless if the transaction fails
            obt = ob.bucket[tr]
            last = np.r_[tr[1:] != tr[:-1], True]
            fold = br == obt  # into the open bucket, at most one row per tag
            opens = last & (br > obt)  # a later bucket becomes the tag's open bucket
            direct = ~(fold | opens)  # late samples, and buckets this batch opens and closes
            if direct.any():
                d = np.flatnonzero(direct)
                cur.executemany(_UPSERT.format(table=ob.table), _rows(tr[d], br[d], _take(agg, d)))
                written += len(d)
            tf = tr[fold]
            folded = _combine(ob.get(tf), _take(agg, fold))
            closing = opens & (obt != NONE)
            if closing.any():  # write the rows of the buckets that close, folded samples included
                tc = tr[closing]
                state = ob.get(tc)
                pos = np.minimum(np.searchsorted(tf, tc), max(len(tf) - 1, 0))
                hit = np.flatnonzero(tf[pos] == tc) if len(tf) else np.empty(0, np.int64)
                for s, f in zip(state, folded, strict=True):
                    s[hit] = f[pos[hit]]
                cur.executemany(_REPLACE.format(table=ob.table), _rows(tc, ob.bucket[tc], state))
                written += len(tc)
            to, bo, ago = tr[opens], br[opens], _take(agg, opens)
            fresh = np.flatnonzero(obt[opens] == NONE)
            for (
                i
            ) in fresh.tolist():  # a row can exist only if its raw samples were deleted (retention)
                row = cur.execute(
                    f"SELECT {_AGG_COLUMNS} FROM {ob.table} WHERE tag_id = ? AND bucket = ?",
                    (int(to[i]), int(bo[i])),
                ).fetchone()
                if row is not None:
                    old = [
                        np.array([np.nan if x is None else x], a.dtype)
                        for x, a in zip(row, ago, strict=True)
                    ]
                    new = _combine(old, [a[i : i + 1] for a in ago])
                    for a, v in zip(ago, new, strict=True):
                        a[i] = v[0]
            changes.append((ob, tf, ob.bucket[tf], folded, True))
            changes.append((ob, to, bo, ago, True))
        return written, changes

    @staticmethod
    def apply(changes: list[Change]) -> None:
        """Apply the changes of a committed transaction, in order."""
        for ob, tags, bucket, agg, dirty in changes:
            ob.set(tags, bucket, agg, dirty)

    def checkpoint(self, cur: sqlite3.Cursor) -> tuple[int, list[Change]]:
        """Write the rows of the open buckets changed since last written; the changes mark them clean."""
        written = 0
        changes: list[Change] = []
        for ob in self.open:
            t = np.flatnonzero(ob.dirty & (ob.bucket != NONE))
            if len(t):
                agg = ob.get(t)
                cur.executemany(_REPLACE.format(table=ob.table), _rows(t, ob.bucket[t], agg))
                written += len(t)
                changes.append((ob, t, ob.bucket[t], agg, False))
        return written, changes
