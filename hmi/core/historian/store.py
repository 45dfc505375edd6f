"""Everything that writes to ``history.db``: one DBAPI connection, one lock, explicit transactions.

Duplicate timestamps: ``samples`` holds one row per (tag, millisecond). When a second
sample arrives for a key already stored (a replay after a reconnect, a clock stepping
back), the **first one stored wins** and the newcomer is counted in ``duplicates``.
History is append-only: what a trend showed yesterday does not change today, and the
rollups (which merge every stored sample exactly once) stay exact.

To keep that cheap, the store remembers the newest stored time per tag. Samples newer
than that (the normal case: time moves forward) are inserted in one ``executemany``.
Older ("late") samples are inserted one by one with ``INSERT OR IGNORE`` so that each
one's fate is known before it is merged into the rollups.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from hmi.core.historian import rollup
from hmi.core.historian.model import UNCERTAIN, HistorianError

log = logging.getLogger(__name__)

_INSERT = "INSERT OR IGNORE INTO samples (tag_id, ts, value, quality) VALUES (?,?,?,?)"
_UNKNOWN = -2  # newest stored ts of a tag not looked up yet (-1: the tag has no sample)
_INSERT_TEXT = "INSERT OR IGNORE INTO samples_text (tag_id, ts, value, quality) VALUES (?,?,?,?)"
_UPSERT_CURRENT = (
    "INSERT INTO current (tag_id, ts, value, text, quality, reason) VALUES (?,?,?,?,?,?) "
    "ON CONFLICT (tag_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, text = excluded.text, "
    "quality = excluded.quality, reason = excluded.reason WHERE excluded.ts >= current.ts"
)


@dataclass(slots=True)
class Numeric:
    """Aligned numeric samples: tag ids, ms timestamps, values (NaN = no value), qualities."""

    tag: np.ndarray  # int64
    ts: np.ndarray  # int64 ms
    value: np.ndarray  # float64
    quality: np.ndarray  # uint8

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def concat(cls, parts: Sequence[Numeric]) -> Numeric:
        """One array set from many (in the given order)."""
        if len(parts) == 1:
            return parts[0]
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("tag", "ts", "value", "quality")
            )
        )


@dataclass(slots=True)
class WriteCounts:
    """What one transaction stored."""

    samples: int = 0
    duplicates: int = 0
    text: int = 0
    current: int = 0
    rollup_rows: int = 0


class SampleStore:
    """Writes samples, text samples, current values and tag ids; keeps rollups up to date.

    All methods are thread-safe (one re-entrant lock around the single write connection).
    """

    def __init__(self, engine: sa.Engine, path: Path) -> None:
        self.engine = engine
        self.path = Path(path)
        self.lock = threading.RLock()
        self._proxy: Any = None  # pooled DBAPI connection, opened on first use
        # tag id -> newest stored ts (ms); _UNKNOWN until looked up, -1 when none is stored.
        # An array, not a dict: a write of 10,000 tags reads and updates it in a few NumPy
        # operations instead of 10,000 dictionary steps (tag ids are the small integers of
        # the tags table)
        self._newest = np.full(0, _UNKNOWN, dtype=np.int64)
        self._rollups: rollup.Rollups | None = None  # open buckets, rebuilt on first write
        self.ids: dict[str, int] = {}
        self.names: dict[int, str] = {}
        with self.lock:
            self._load_tags()

    # ------------------------------------------------------------------ connection
    @property
    def db(self) -> sqlite3.Connection:
        """The write connection (autocommit mode: transactions are explicit)."""
        if self._proxy is None:
            self._proxy = self.engine.raw_connection()
            self._proxy.driver_connection.isolation_level = None
        conn: sqlite3.Connection = self._proxy.driver_connection
        return conn

    def close(self) -> None:
        """Give the write connection back (reopened on next use)."""
        with self.lock:
            if self._proxy is not None:
                self._proxy.driver_connection.isolation_level = ""
                self._proxy.close()
                self._proxy = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """BEGIN IMMEDIATE ... COMMIT under the lock; ROLLBACK and re-raise on any error."""
        with self.lock:
            db = self.db
            cur = db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    try:
                        cur.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.debug("rollback failed", exc_info=True)
                raise
            finally:
                cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the write connection (autocommit); returns its rows."""
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ tags
    def _load_tags(self) -> None:
        for tid, name in self.execute("SELECT id, name FROM tags"):
            self.ids[name] = tid
            self.names[tid] = name

    def tag_ids(self, names: Sequence[str]) -> np.ndarray:
        """Stable ids of ``names`` (int32), creating the missing ones."""
        with self.lock:
            missing = list(
                dict.fromkeys(n for n in names if n not in self.ids)
            )  # ids in order of appearance
            if missing:
                now = int(time.time() * 1000)
                try:
                    with self.transaction() as cur:
                        cur.executemany(
                            "INSERT OR IGNORE INTO tags (name, created) VALUES (?, ?)",
                            [(n, now) for n in missing],
                        )
                    self._load_tags()
                except sqlite3.Error as exc:
                    raise HistorianError(
                        f"cannot add {len(missing)} tag(s) to history database {self.path}: {exc}"
                    ) from None
            return np.array([self.ids[n] for n in names], dtype=np.int32)

    def forget_current(self, ids: np.ndarray) -> int:
        """Delete the ``current`` rows of ``ids``; how many there were."""
        if not len(ids):
            return 0
        try:
            with self.transaction() as cur:
                cur.executemany(
                    "DELETE FROM current WHERE tag_id = ?", [(int(i),) for i in ids.tolist()]
                )
                return int(cur.rowcount)
        except sqlite3.Error as exc:
            raise HistorianError(
                f"cannot clear the last values of {len(ids)} tag(s) in history database "
                f"{self.path}: {exc}"
            ) from None

    # ------------------------------------------------------------------ writes
    def write(
        self,
        num: Numeric | None,
        text: list[tuple[Any, ...]] | None,
        current: list[tuple[Any, ...]] | None,
    ) -> WriteCounts:
        """Store one batch in one transaction; nothing is kept if it fails (the error is raised)."""
        counts = WriteCounts()
        newest: list[tuple[np.ndarray, np.ndarray]] = []  # (tag ids, newest ts) once committed
        changes: list[rollup.Change] = []
        with self.lock:  # held until the in-memory state follows the commit
            with self.transaction() as cur:
                rollups = (
                    self._rollups if self._rollups is not None else rollup.Rollups.rebuild(cur)
                )
                if num is not None and len(num):
                    changes = self._insert_numeric(cur, num, counts, newest, rollups)
                if text:
                    cur.executemany(_INSERT_TEXT, text)
                    counts.text = max(cur.rowcount, 0)
                    counts.duplicates += len(text) - counts.text
                if current:
                    cur.executemany(_UPSERT_CURRENT, current)
                    counts.current = len(current)
            # only once committed
            for utag, mx in newest:
                self._newest[utag] = np.maximum(self._newest[utag], mx)
            self._rollups = rollups
            rollups.apply(changes)
        return counts

    def open_rollups(self) -> None:
        """Rebuild the open rollup buckets from stored data now (else on the first write).

        Writes their rows exactly, which repairs what a crash left (rows of open buckets
        are otherwise written when the bucket closes, on :meth:`checkpoint` and on stop).
        """
        with self.lock:
            if self._rollups is None:
                with self.transaction() as cur:
                    rollups = rollup.Rollups.rebuild(cur)
                self._rollups = rollups

    def checkpoint(self) -> int:
        """Write the rows of the open rollup buckets changed since last written; returns rows written."""
        with self.lock:
            if self._rollups is None:
                return 0
            with self.transaction() as cur:
                written, changes = self._rollups.checkpoint(cur)
            self._rollups.apply(changes)
            return written

    def _insert_numeric(
        self,
        cur: sqlite3.Cursor,
        num: Numeric,
        counts: WriteCounts,
        newest: list[tuple[np.ndarray, np.ndarray]],
        rollups: rollup.Rollups,
    ) -> list[rollup.Change]:
        tag, ts, value, quality = num.tag, num.ts, num.value, num.quality
        n = len(ts)
        # sort by (tag, ts) unless already strictly ordered: sorted keys make B-tree inserts
        # sequential, and equal keys adjacent
        if n > 1:
            same = tag[1:] == tag[:-1]
            ordered = bool(np.all((tag[1:] > tag[:-1]) | (same & (ts[1:] > ts[:-1]))))
            if not ordered:
                order = np.lexsort(
                    (ts, tag)
                )  # stable: among equal keys the first written stays first
                tag, ts, value, quality = tag[order], ts[order], value[order], quality[order]
                first = np.ones(n, dtype=bool)
                first[1:] = (tag[1:] != tag[:-1]) | (ts[1:] != ts[:-1])
                if not first.all():
                    counts.duplicates += int(n - np.count_nonzero(first))
                    tag, ts, value, quality = tag[first], ts[first], value[first], quality[first]
        # newest stored time of each tag in the batch, per row
        utag, start = np.unique(tag, return_index=True)
        known = self._newest_of(cur, utag)
        counts_per_tag = np.diff(np.append(start, len(tag)))
        late = ts <= np.repeat(known, counts_per_tag)
        keep = ~late
        fresh_rows = zip(
            tag[keep].tolist(),
            ts[keep].tolist(),
            value[keep].tolist(),
            quality[keep].tolist(),
            strict=True,
        )
        nfresh = int(np.count_nonzero(keep))
        if nfresh:
            cur.executemany(_INSERT, fresh_rows)
            if cur.rowcount != nfresh:  # only if another process writes this database
                log.warning(
                    "historian: %d of %d new samples were already stored in %s",
                    nfresh - cur.rowcount,
                    nfresh,
                    self.path,
                )
        if late.any():
            for i in np.flatnonzero(late).tolist():
                cur.execute(_INSERT, (int(tag[i]), int(ts[i]), float(value[i]), int(quality[i])))
                if cur.rowcount == 1:
                    keep[i] = True
                else:
                    counts.duplicates += 1
        if not keep.all():
            tag, ts, value, quality = tag[keep], ts[keep], value[keep], quality[keep]
        counts.samples += len(ts)
        written, changes = rollups.merge(cur, tag, ts, value, quality)
        counts.rollup_rows += written
        if len(ts):
            utag, start = np.unique(tag, return_index=True)
            newest.append((utag, np.maximum.reduceat(ts, start).astype(np.int64)))
        return changes

    def _newest_of(self, cur: sqlite3.Cursor, utag: np.ndarray) -> np.ndarray:
        """Newest stored ts (ms, -1: none) of each of the distinct tag ids ``utag``."""
        if int(utag.min()) < 0:
            raise ValueError(f"historian: tag id {int(utag.min())} is not one of the tags table")
        top = int(utag.max())
        if top >= len(self._newest):  # a tag id not seen yet: grow (amortised)
            grown = np.full(max(top + 1, 2 * len(self._newest)), _UNKNOWN, dtype=np.int64)
            grown[: len(self._newest)] = self._newest
            self._newest = grown
        known: np.ndarray = self._newest[utag]
        miss = known == _UNKNOWN
        if miss.any():  # first write of these tags in this process: ask the database once
            for t in utag[miss].tolist():
                row = cur.execute("SELECT max(ts) FROM samples WHERE tag_id = ?", (t,)).fetchone()
                self._newest[t] = -1 if row[0] is None else int(row[0])
            known = self._newest[utag]
        return known

    def forget_newest(self) -> None:
        """Drop the cached newest times (after deleting samples they are only upper bounds)."""
        with self.lock:
            self._newest[:] = _UNKNOWN

    # ------------------------------------------------------------------ bulk
    def bulk(self, num: Numeric, chunk: int = 500_000) -> WriteCounts:
        """Store a large numeric series in transactions of ``chunk`` samples (raw + rollups)."""
        total = WriteCounts()
        for i in range(0, len(num), chunk):
            part = Numeric(
                num.tag[i : i + chunk],
                num.ts[i : i + chunk],
                num.value[i : i + chunk],
                num.quality[i : i + chunk],
            )
            c = self.write(part, None, None)
            total.samples += c.samples
            total.duplicates += c.duplicates
            total.rollup_rows += c.rollup_rows
        return total

    def used_bytes(self) -> int:
        """Bytes of pages in use (the file minus its free list)."""
        with self.lock:
            page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * page_size)


def numeric(ids: np.ndarray, ts_ms: np.ndarray, values: np.ndarray, quality: np.ndarray) -> Numeric:
    """Numeric samples as stored: BAD values become NaN (stored as NULL, never a plausible number)."""
    values = np.where(quality < UNCERTAIN, np.nan, values)
    return Numeric(ids.astype(np.int64), ts_ms, values, quality)
