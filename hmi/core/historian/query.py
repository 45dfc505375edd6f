"""Reading history: trends (decimated), raw samples, current values, exports.

Safe from any thread: every call checks a connection out of the SQLAlchemy pool
(WAL: readers never wait for the writer). Aggregation runs inside SQLite
(``GROUP BY`` on the bucket number), so a decimated read returns at most a few
thousand rows to Python whatever the range.
"""

from __future__ import annotations

import heapq
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np
import sqlalchemy as sa

from hmi.core.historian.model import (
    BAD,
    GOOD,
    UNCERTAIN,
    CurrentValue,
    ExportRow,
    HistorianError,
    HistoryData,
    RawData,
)
from hmi.core.historian.schema import ROLLUPS

_RAW_AGG = (
    "SELECT ts / ?1 AS g, min(value), max(value), total(value), count(value), count(*), "
    f"sum(quality < {GOOD}), sum(quality < {UNCERTAIN}) FROM samples "
    "WHERE tag_id = ?2 AND ts BETWEEN ?3 AND ?4 GROUP BY g ORDER BY g"
)
# with a single max() aggregate SQLite takes the bare columns from the row holding the maximum
_RAW_LAST = "SELECT ts / ?1 AS g, max(ts), value, quality, ts FROM samples WHERE tag_id = ?2 AND ts BETWEEN ?3 AND ?4 GROUP BY g ORDER BY g"
_ROLL_AGG = (
    "SELECT bucket / ?1 AS g, min(vmin), max(vmax), total(vsum), sum(nval), sum(n), sum(nongood), sum(nbad) "
    "FROM {t} WHERE tag_id = ?2 AND bucket BETWEEN ?3 AND ?4 GROUP BY g ORDER BY g"
)
_ROLL_LAST = "SELECT bucket / ?1 AS g, max(bucket), vlast, qlast, tlast FROM {t} WHERE tag_id = ?2 AND bucket BETWEEN ?3 AND ?4 GROUP BY g ORDER BY g"


def to_ms(t: float) -> int:
    """Unix seconds -> integer milliseconds (as stored)."""
    return int(round(t * 1000.0))


class Reader:
    """Read side of the historian."""

    def __init__(self, engine: sa.Engine, path: Path) -> None:
        self.engine = engine
        self.path = path
        self._ids: dict[str, int] = {}

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A pooled read connection; SQLite errors become HistorianError naming the file."""
        try:
            proxy = self.engine.raw_connection()
        except sa.exc.DBAPIError as exc:
            raise HistorianError(f"cannot read history database {self.path}: {exc.orig}") from None
        try:
            yield cast(sqlite3.Connection, proxy.driver_connection)
        except sqlite3.Error as exc:
            raise HistorianError(f"cannot read history database {self.path}: {exc}") from None
        finally:
            proxy.close()

    def tag_id(self, db: sqlite3.Connection, name_or_id: str | int) -> int | None:
        """Id of a tag name (ints pass through); None when the tag has no history."""
        if not isinstance(name_or_id, str):
            return int(name_or_id)
        tid = self._ids.get(name_or_id)
        if tid is None:
            row = db.execute("SELECT id FROM tags WHERE name = ?", (name_or_id,)).fetchone()
            if row is None:
                return None
            tid = self._ids[name_or_id] = int(row[0])
        return tid

    def tag_names(self) -> dict[str, int]:
        """Every tag the database knows: name -> id."""
        with self._db() as db:
            return {
                name: tid for tid, name in db.execute("SELECT id, name FROM tags ORDER BY name")
            }

    # ------------------------------------------------------------------ trends
    def query(
        self, name_or_id: str | int, start: float, end: float, points: int | None = None
    ) -> HistoryData:
        """See :meth:`hmi.core.historian.Historian.query`."""
        if points is not None and points < 2:
            raise ValueError(f"points must be at least 2, not {points}")
        s, e = to_ms(start), to_ms(end)
        with self._db() as db:
            tid = self.tag_id(db, name_or_id)
            if tid is None or e < s:
                return HistoryData.empty()
            if points is not None:
                n = db.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM samples WHERE tag_id = ? AND ts BETWEEN ? AND ? LIMIT ?)",
                    (tid, s, e, points + 1),
                ).fetchone()[0]
                if n > points:
                    return self._decimated(db, tid, s, e, points)
            raw = self._raw(db, tid, s, e)
        bad = raw.quality < UNCERTAIN
        v = raw.value
        v.flags.writeable = False  # shared by min/max/avg/last
        return HistoryData(
            raw.ts, v, v, v, v, np.ones(len(v), np.int64), _worst(raw.quality), bad, "raw", 0.0
        )

    def _decimated(
        self, db: sqlite3.Connection, tid: int, s: int, e: int, points: int
    ) -> HistoryData:
        # bucket width: buckets aligned to multiples of w since the epoch; w >= span/(points-1)
        # guarantees that [s, e] touches at most `points` of them
        w = max(1, math.ceil((e - s + 1) / (points - 1)))
        res, table, label = 1, "", "raw"
        for r, t, lab in reversed(ROLLUPS):  # coarsest first
            if r <= w:
                res, table, label = r, t, lab
                break
        w = math.ceil(w / res) * res
        pieces: list[tuple[list[Any], list[Any]]] = []
        if not table:
            pieces.append(self._piece(db, _RAW_AGG, _RAW_LAST, w, tid, s, e))
        else:
            # whole rollup buckets inside [s, e] from the rollup table, the partial ones at the
            # edges from raw samples, so that the envelope holds exactly the range's samples
            first = -(-s // res) * res
            end_full = (e + 1) // res * res
            if first >= end_full:
                pieces.append(self._piece(db, _RAW_AGG, _RAW_LAST, w, tid, s, e))
            else:
                if s < first:
                    pieces.append(self._piece(db, _RAW_AGG, _RAW_LAST, w, tid, s, first - 1))
                # the bucket of the tag's newest sample may still be open (its row missing or
                # stale, see .rollup): from there on, the next finer table, then raw samples
                newest = db.execute(
                    "SELECT max(ts) FROM samples WHERE tag_id = ?", (tid,)
                ).fetchone()[0]
                cur = first
                for r, t, _lab in reversed(ROLLUPS):
                    if r > res:
                        continue
                    stop = (e + 1) // r * r
                    if newest is not None:
                        stop = min(stop, newest - newest % r)
                    if stop > cur:
                        pieces.append(
                            self._piece(
                                db,
                                _ROLL_AGG.format(t=t),
                                _ROLL_LAST.format(t=t),
                                w,
                                tid,
                                cur,
                                stop - r,
                            )
                        )
                        cur = stop
                if cur <= e:
                    pieces.append(self._piece(db, _RAW_AGG, _RAW_LAST, w, tid, cur, e))
        return _combine(pieces, w, label)

    @staticmethod
    def _piece(
        db: sqlite3.Connection, agg: str, last: str, w: int, tid: int, lo: int, hi: int
    ) -> tuple[list[Any], list[Any]]:
        params = (w, tid, lo, hi)
        return db.execute(agg, params).fetchall(), db.execute(last, params).fetchall()

    # ------------------------------------------------------------------ raw, current, export
    def raw(self, name_or_id: str | int, start: float, end: float) -> RawData:
        """Stored samples of a numeric tag in [start, end] (NaN where BAD)."""
        with self._db() as db:
            tid = self.tag_id(db, name_or_id)
            if tid is None:
                return RawData(np.empty(0), np.empty(0), np.empty(0, np.uint8))
            return self._raw(db, tid, to_ms(start), to_ms(end))

    @staticmethod
    def _raw(db: sqlite3.Connection, tid: int, s: int, e: int) -> RawData:
        rows = db.execute(
            "SELECT ts, value, quality FROM samples WHERE tag_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
            (tid, s, e),
        ).fetchall()
        a = np.array(rows, dtype=np.float64).reshape(-1, 3)  # NULL (None) -> NaN
        return RawData(a[:, 0] / 1000.0, a[:, 1].copy(), a[:, 2].astype(np.uint8))

    def raw_text(
        self, name_or_id: str | int, start: float, end: float
    ) -> list[tuple[float, str | None, int]]:
        """Stored samples of a string tag in [start, end]: (ts, text or None, quality)."""
        with self._db() as db:
            tid = self.tag_id(db, name_or_id)
            if tid is None:
                return []
            rows = db.execute(
                "SELECT ts, value, quality FROM samples_text WHERE tag_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
                (tid, to_ms(start), to_ms(end)),
            ).fetchall()
        return [(ts / 1000.0, v, q) for ts, v, q in rows]

    def latest(self) -> dict[str, CurrentValue]:
        """The ``current`` table: tag name -> latest (ts, value, quality, reason)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT t.name, c.ts, c.value, c.text, c.quality, c.reason FROM current c JOIN tags t ON t.id = c.tag_id ORDER BY t.name"
            ).fetchall()
        return {
            name: CurrentValue(
                ts / 1000.0,
                text if text is not None else (math.nan if value is None else value),
                q,
                reason or "",
            )
            for name, ts, value, text, q, reason in rows
        }

    def export_rows(
        self, names: Sequence[str], start: float, end: float, chunk: int = 5000
    ) -> Iterator[ExportRow]:
        """Every stored sample of ``names`` in [start, end], in time order (streamed, merged per tag)."""
        s, e = to_ms(start), to_ms(end)
        with self._db() as db:
            streams: list[Iterable[ExportRow]] = []
            for name in dict.fromkeys(names):
                tid = self.tag_id(db, name)
                if tid is not None:
                    streams.append(_stream(db, "samples", tid, name, s, e, chunk))
                    streams.append(_stream(db, "samples_text", tid, name, s, e, chunk))
            yield from heapq.merge(*streams, key=lambda r: r.ts)


def _stream(
    db: sqlite3.Connection, table: str, tid: int, name: str, s: int, e: int, chunk: int
) -> Iterator[ExportRow]:
    cur = db.execute(
        f"SELECT ts, value, quality FROM {table} WHERE tag_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
        (tid, s, e),
    )
    try:
        while rows := cur.fetchmany(chunk):
            for ts, v, q in rows:
                yield ExportRow(ts / 1000.0, name, v, q)
    finally:
        cur.close()


def _worst(quality: np.ndarray) -> np.ndarray:
    """Quality codes folded to 192 / 64 / 0."""
    return np.where(quality >= GOOD, GOOD, np.where(quality >= UNCERTAIN, UNCERTAIN, BAD)).astype(
        np.uint8
    )


def _combine(pieces: list[tuple[list[Any], list[Any]]], w: int, label: str) -> HistoryData:
    """Merge per-piece group aggregates (a group can span two pieces) into HistoryData."""
    agg_rows = [r for agg, _ in pieces for r in agg]
    last_rows = [r for _, last in pieces for r in last]
    if not agg_rows:
        return HistoryData.empty(label, w / 1000.0)
    a = np.array(agg_rows, dtype=np.float64)  # g, min, max, sum, nval, n, nongood, nbad
    lr = np.array(last_rows, dtype=np.float64)  # g, key, vlast, qlast, tlast
    if len(pieces) > 1:
        a = a[np.argsort(a[:, 0], kind="stable")]
        g, start = np.unique(a[:, 0], return_index=True)
        with np.errstate(invalid="ignore"):
            a = np.column_stack(
                [g, np.fmin.reduceat(a[:, 1], start), np.fmax.reduceat(a[:, 2], start)]
                + [np.add.reduceat(a[:, k], start) for k in range(3, 8)]
            )
        lr = lr[np.lexsort((lr[:, 4], lr[:, 0]))]
        lr = lr[np.append(lr[1:, 0] != lr[:-1, 0], True)]  # the latest of each group
    g, vmin, vmax, vsum, nval, n, nongood, nbad = a.T
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(nval > 0, vsum / np.where(nval > 0, nval, 1), np.nan)
    vlast, qlast, tlast = lr[:, 2], lr[:, 3], lr[:, 4]
    quality = np.where(nbad > 0, BAD, np.where(nongood > 0, UNCERTAIN, GOOD)).astype(np.uint8)
    ts = g * (w / 1000.0)
    # gap rows: the bucket ends in a BAD sample but has values, so the line must break after it
    gap = (qlast < UNCERTAIN) & (nval > 0)
    rows = {
        "ts": ts,
        "min": vmin,
        "max": vmax,
        "avg": avg,
        "last": vlast,
        "count": n.astype(np.int64),
        "quality": quality,
        "bad": nbad > 0,
    }
    if gap.any():
        k = int(np.count_nonzero(gap))
        nan = np.full(k, np.nan)
        extra = {
            "ts": tlast[gap] / 1000.0,
            "min": nan,
            "max": nan,
            "avg": nan,
            "last": nan,
            "count": np.zeros(k, np.int64),
            "quality": np.zeros(k, np.uint8),
            "bad": np.ones(k, bool),
        }
        order = np.lexsort((np.r_[np.zeros(len(ts)), np.ones(k)], np.r_[ts, extra["ts"]]))
        rows = {key: np.concatenate([rows[key], extra[key]])[order] for key in rows}
    return HistoryData(**rows, source=label, bucket=w / 1000.0)
