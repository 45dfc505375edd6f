"""The station historian: SQLite (WAL) through SQLAlchemy Core, one writer thread.

Write side (any thread, never blocks on the database): :meth:`Historian.write`,
:meth:`write_text`, :meth:`write_current` queue NumPy arrays; the ``historian-writer``
thread stores them in batched transactions and keeps the 1-minute / 1-hour rollups up
to date incrementally. Read side (any thread): :meth:`query` for trends, :meth:`raw`,
:meth:`latest`, :meth:`export_rows`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from hmi.config.schema import HistorianConfig
from hmi.core.historian.model import (
    GOOD,
    UNCERTAIN,
    CurrentValue,
    ExportRow,
    HistorianError,
    HistoryData,
    RawData,
)
from hmi.core.historian.query import Reader
from hmi.core.historian.retention import Retention
from hmi.core.historian.schema import open_engine
from hmi.core.historian.store import SampleStore, numeric
from hmi.core.historian.writer import Writer, as_rows

log = logging.getLogger(__name__)


class Historian:
    """Local history of one station in ``path`` (normally ``<data-dir>/history.db``).

    ``max_queued`` bounds the samples held in memory while the database cannot be
    written (oldest dropped first, counted in ``stats()["dropped"]``);
    ``maintenance_interval`` is how often (s) retention and the disk budget run on the
    writer thread; ``busy_timeout`` how long (s) a write waits for another program's lock;
    ``create=False`` (tools that only read) refuses to create a missing database.
    Opening raises :class:`~hmi.core.historian.model.HistorianError` naming the file and
    the cause when the database cannot be used.
    """

    def __init__(
        self,
        path: Path | str,
        config: HistorianConfig | None = None,
        *,
        max_queued: int = 2_000_000,
        maintenance_interval: float = 600.0,
        busy_timeout: float = 5.0,
        create: bool = True,
    ) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise HistorianError(f"no history database at {self.path}")
        self.config = config or HistorianConfig()
        self._engine = open_engine(self.path, busy_timeout)
        self._store = SampleStore(self._engine, self.path)
        self._writer = Writer(
            self._store,
            self.config,
            Retention(self._store, self.config),
            max_queued,
            maintenance_interval,
        )
        self._reader = Reader(self._engine, self.path)
        self._closed = False
        self._bad_ts_logged = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the writer thread ``historian-writer``."""
        self._writer.start()

    def stop(self, flush: bool = True, timeout: float = 10.0) -> None:
        """Stop the writer; with ``flush`` first write everything queued (up to ``timeout`` s
        of retries if the database fails). Reads keep working; writes queue for a restart."""
        self._writer.stop(flush, timeout)
        self._store.close()

    def close(self) -> None:
        """Stop (with flush) and release every connection."""
        if self._closed:
            return
        self.stop(flush=True)
        self._engine.dispose()
        self._closed = True

    def __enter__(self) -> Historian:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ tags
    def tag_ids(self, names: Sequence[str]) -> np.ndarray:
        """Stable integer ids (int32) of tag names, created on first use and kept forever."""
        return self._store.tag_ids(list(names))

    def forget_current(self, ids: np.ndarray | Sequence[int]) -> int:
        """Delete the last values (``current`` rows) of tags that are not stored any more
        (history mode ``none`` since an edit): a snapshot must not show a value from before
        the change as if it were the latest. Blocking; how many rows went."""
        return self._store.forget_current(np.asarray(ids, dtype=np.int64))

    def tag_names(self) -> dict[str, int]:
        """Every tag with history: name -> id."""
        return self._reader.tag_names()

    # ------------------------------------------------------------------ writes (non-blocking)
    def write(
        self,
        ids: np.ndarray,
        ts: np.ndarray,
        values: np.ndarray,
        quality: np.ndarray,
        text: np.ndarray | None = None,
    ) -> None:
        """Queue samples: aligned arrays of tag ids (:meth:`tag_ids`), Unix seconds,
        float64 values (NaN allowed) and quality codes (192 GOOD, 64 UNCERTAIN, 0 BAD).

        ``text`` is the tag table's text column (:class:`~hmi.core.tagtable.TagUpdate`):
        rows where it holds a string are string tags and go to the text table.
        Thread-safe and non-blocking; the arrays are copied. Values of BAD samples are
        stored as NULL. One sample per tag and millisecond: the first one stored wins.
        """
        if text is not None:
            strings = _text_rows(text)
            if strings.any():
                ids, ts, quality = np.asarray(ids), np.asarray(ts), np.asarray(quality)
                self.write_text(ids[strings], ts[strings], text[strings], quality[strings])
                num = ~strings
                if not num.any():
                    return
                ids, ts, quality = ids[num], ts[num], quality[num]
                values = np.asarray(values)[num].astype(np.float64)
        ids_a, ts_ms, q, keep = self._common(ids, ts, quality, values)
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(ts_ms):
            self._writer.put("num", numeric(ids_a, ts_ms, v if keep is None else v[keep], q))

    def write_text(
        self, ids: np.ndarray, ts: np.ndarray, texts: Sequence[Any], quality: np.ndarray
    ) -> None:
        """Queue samples of string tags (stored in their own table)."""
        ids_a, ts_ms, q, keep = self._common(ids, ts, quality, texts)
        texts = (
            list(texts)
            if keep is None
            else [t for t, k in zip(texts, keep.tolist(), strict=True) if k]
        )
        vals = [
            None if qq < UNCERTAIN or t is None else str(t)
            for t, qq in zip(texts, q.tolist(), strict=True)
        ]
        if len(ts_ms):
            self._writer.put("text", as_rows(ids_a, ts_ms, vals, q))

    def write_current(
        self,
        ids: np.ndarray,
        ts: np.ndarray,
        values: np.ndarray | Sequence[Any],
        quality: np.ndarray,
        reasons: Sequence[str],
        text: np.ndarray | None = None,
    ) -> None:
        """Queue the latest value of tags for the ``current`` table (upsert, newest time wins).

        ``values`` may be a float array or an object array (strings for string tags), or
        float values plus the tag table's ``text`` column (a string where the tag is one).
        ``reasons`` says why a value is not GOOD ("" otherwise); may be empty for all-GOOD.
        """
        reasons = list(reasons) if len(reasons) else [""] * len(values)
        if len(reasons) != len(values):
            raise ValueError(f"reasons has {len(reasons)} entries for {len(values)} values")
        ids_a, ts_ms, q, keep = self._common(ids, ts, quality, values)
        vals = values.tolist() if isinstance(values, np.ndarray) else list(values)
        texts = text.tolist() if text is not None else None
        if keep is not None:
            kept = keep.tolist()
            vals = [v for v, k in zip(vals, kept, strict=True) if k]
            reasons = [r for r, k in zip(reasons, kept, strict=True) if k]
            texts = [t for t, k in zip(texts, kept, strict=True) if k] if texts else texts
        numeric = isinstance(values, np.ndarray) and values.dtype.kind == "f"
        num, strs = _current_columns(vals, texts, numeric)
        # a BAD value is never kept as a plausible number
        bad = (q < UNCERTAIN).tolist()
        num = [None if b else v for v, b in zip(num, bad, strict=True)]
        strs = [None if b else v for v, b in zip(strs, bad, strict=True)]
        if len(ts_ms):
            self._writer.put("cur", as_rows(ids_a, ts_ms, num, strs, q, reasons))

    def _common(
        self, ids: Any, ts: Any, quality: Any, values: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Check alignment, convert ts to ms, drop rows with a non-finite time (logged once).

        Returns ids, ts (ms), quality and the mask of kept rows (None: all kept)."""
        ids_a = np.array(ids, dtype=np.int64).reshape(-1)
        ts_a = np.asarray(ts, dtype=np.float64).reshape(-1)
        q = np.array(quality, dtype=np.uint8).reshape(-1)
        if not (len(ids_a) == len(ts_a) == len(q) == len(values)):
            raise ValueError(
                f"misaligned samples: {len(ids_a)} ids, {len(ts_a)} times, {len(values)} values, {len(q)} qualities"
            )
        keep = None
        finite = np.isfinite(ts_a)
        if not finite.all():
            if not self._bad_ts_logged:
                log.warning(
                    "historian: dropping samples without a valid timestamp (first of tag id %d)",
                    int(ids_a[~finite][0]),
                )
                self._bad_ts_logged = True
            keep = finite
            ids_a, ts_a, q = ids_a[finite], ts_a[finite], q[finite]
        return ids_a, np.rint(ts_a * 1000.0).astype(np.int64), q, keep

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far now, and the rows of the open rollup buckets; True once
        committed (False on timeout/failure)."""
        return self._writer.flush(timeout)

    def bulk_load(
        self, name: str, ts: np.ndarray, values: np.ndarray, quality: np.ndarray | None = None
    ) -> int:
        """Store a long series of one tag synchronously (raw + rollups), as fast as SQLite allows.

        For generators, imports and benchmarks; safe while the writer runs (both take the
        store's lock). Returns the number of samples stored (duplicates are skipped).
        """
        tid = self.tag_ids([name])[0]
        ts_a = np.asarray(ts, dtype=np.float64)
        q = (
            np.full(len(ts_a), GOOD, np.uint8)
            if quality is None
            else np.asarray(quality, dtype=np.uint8)
        )
        ids = np.full(len(ts_a), tid, np.int64)
        try:
            counts = self._store.bulk(
                numeric(
                    ids, np.rint(ts_a * 1000.0).astype(np.int64), np.asarray(values, np.float64), q
                )
            )
        except sqlite3.Error as exc:
            raise HistorianError(
                f"cannot bulk-load {name} into history database {self.path}: {exc}"
            ) from None
        return counts.samples

    def maintain(self, now: float | None = None) -> dict[str, Any]:
        """Run retention and the disk budget now (also runs periodically on the writer thread)."""
        return self._writer.run_maintenance(now)

    def stats(self) -> dict[str, Any]:
        """Queue depth, rows written, transactions, last flush time/duration, db size, dropped
        samples, failing flag and last error -- for the diagnostics page."""
        return self._writer.snapshot()

    # ------------------------------------------------------------------ reads (any thread)
    def query(
        self, name_or_id: str | int, start: float, end: float, points: int | None = None
    ) -> HistoryData:
        """History of one tag over [start, end] (Unix s) for a trend.

        With ``points=None`` or when the range holds at most ``points`` samples: the raw
        samples. Otherwise at most ``points`` buckets with min/max/avg/last, read from the
        coarsest source (raw, 1-minute or 1-hour rollups) finer than or equal to the
        bucket width; buckets are aligned to multiples of the width, and partial rollup
        buckets at the range edges are filled from raw samples. BAD periods stay visible:
        see the gap contract of :class:`~hmi.core.historian.model.HistoryData`. An unknown
        tag gives an empty result.
        """
        return self._reader.query(name_or_id, start, end, points)

    def raw(self, name_or_id: str | int, start: float, end: float) -> RawData:
        """Stored samples of a numeric tag in [start, end] (value NaN where BAD)."""
        return self._reader.raw(name_or_id, start, end)

    def raw_text(
        self, name_or_id: str | int, start: float, end: float
    ) -> list[tuple[float, str | None, int]]:
        """Stored samples of a string tag in [start, end]: (ts, text or None, quality)."""
        return self._reader.raw_text(name_or_id, start, end)

    def latest(self) -> dict[str, CurrentValue]:
        """The ``current`` table: tag name -> CurrentValue(ts, value, quality, reason)."""
        return self._reader.latest()

    def export_rows(self, names: Sequence[str], start: float, end: float) -> Iterator[ExportRow]:
        """Stored samples (numeric and text) of ``names`` in [start, end], in time order.

        A generator holding one read connection until exhausted or closed.
        """
        return self._reader.export_rows(names, start, end)


def _text_rows(text: np.ndarray) -> np.ndarray:
    """Rows of a text column that belong to string tags (they hold a string, not None)."""
    return np.fromiter((t is not None for t in text.tolist()), dtype=bool, count=len(text))


def _current_columns(
    vals: list[Any], texts: list[Any] | None, numeric: bool
) -> tuple[list[Any], list[Any]]:
    """(number, text) columns of the ``current`` table from values and the text column."""
    if texts is not None:
        num = [
            None if t is not None or isinstance(v, str) else v
            for v, t in zip(vals, texts, strict=True)
        ]
        return num, [t if isinstance(t, str) else None for t in texts]
    if numeric:
        return vals, [None] * len(vals)  # NaN binds as NULL
    num = [None if isinstance(v, str) or v is None else float(v) for v in vals]
    return num, [v if isinstance(v, str) else None for v in vals]
