"""The historian writer thread: a bounded in-memory queue drained into batched transactions.

Producers (the acquisition loop) only append NumPy arrays to a deque under a short
lock: :meth:`Writer.put` never touches SQLite and never blocks on it. The thread
``historian-writer`` takes everything queued when ``batch_size`` samples are waiting or
the oldest has waited ``flush_interval`` seconds, and stores it in **one** transaction.

When a transaction fails (disk full, read-only file, database locked by another
program...) nothing of it is kept by SQLite, the batch goes back to the front of the
queue, the cause is logged once with the file name, and the writer retries with a
growing back-off. The queue is bounded (``max_queued`` samples): beyond it the
*oldest* queued samples are dropped and counted, so memory stays bounded during a
long outage while the newest data survives.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from hmi.config.schema import HistorianConfig
from hmi.core.historian.retention import Retention
from hmi.core.historian.schema import db_bytes
from hmi.core.historian.store import Numeric, SampleStore

log = logging.getLogger(__name__)

THREAD_NAME = "historian-writer"
MAX_BACKOFF = 30.0
CHECKPOINT_INTERVAL = 60.0  # s between writes of the open rollup buckets' rows


@dataclass(slots=True)
class _Item:
    """One producer call: ``kind`` is "num" (Numeric), "text" or "cur" (lists of row tuples)."""

    seq: int
    kind: str
    data: Any
    t: float  # monotonic time queued

    def __len__(self) -> int:
        return len(self.data)

    def drop_oldest(self, k: int) -> None:
        d = self.data
        if self.kind == "num":
            self.data = Numeric(d.tag[k:], d.ts[k:], d.value[k:], d.quality[k:])
        else:
            self.data = d[k:]


class Writer:
    """Owns the queue and the writer thread; see the module docstring."""

    def __init__(
        self,
        store: SampleStore,
        config: HistorianConfig,
        retention: Retention,
        max_queued: int = 2_000_000,
        maintenance_interval: float = 600.0,
    ) -> None:
        self.store = store
        self.config = config
        self.retention = retention
        self.max_queued = max(int(max_queued), 1)
        self.maintenance_interval = maintenance_interval
        self._cond = threading.Condition()
        self._items: deque[_Item] = deque()
        self._queued = 0
        self._seq = 0
        self._done_seq = 0
        self._flush_now = False
        self._stopping = False
        self._stop_deadline = 0.0
        self._retry_at = 0.0
        self._backoff = 0.0
        self._next_maintenance = 0.0
        self._next_checkpoint = 0.0
        self._thread: threading.Thread | None = None
        self._drop_logged = False
        self.stats: dict[str, Any] = {
            "rows_written": 0,
            "text_rows_written": 0,
            "current_rows_written": 0,
            "duplicates": 0,
            "transactions": 0,
            "dropped": 0,
            "last_flush_ts": 0.0,
            "last_flush_duration": 0.0,
            "last_flush_rows": 0,
            "failing": False,
            "failed_attempts": 0,
            "last_error": "",
            "last_error_ts": 0.0,
            "retention_deleted": 0,
            "budget_deleted": 0,
            "used_bytes": 0,
            "last_maintenance_ts": 0.0,
        }

    # ------------------------------------------------------------------ producer side
    def put(self, kind: str, data: Any) -> None:
        """Queue samples (never blocks on the database)."""
        n = len(data)
        if n == 0:
            return
        with self._cond:
            self._seq += 1
            self._items.append(_Item(self._seq, kind, data, time.monotonic()))
            self._queued += n
            if self._queued > self.max_queued:
                self._trim()
            # wake the writer on the first item (it sets its flush timer) and on a full batch
            if len(self._items) == 1 or self._queued >= self.config.batch_size:
                self._cond.notify_all()

    def _trim(self) -> None:
        """Drop the oldest queued samples beyond the bound (called with the lock held)."""
        excess = self._queued - self.max_queued
        dropped = 0
        while excess > 0 and self._items:
            item = self._items[0]
            if len(item) <= excess:
                self._items.popleft()
                self._done_seq = max(self._done_seq, item.seq)
                k = len(item)
            else:
                k = excess
                item.drop_oldest(k)
            excess -= k
            dropped += k
        self._queued -= dropped
        if dropped:
            if not self._drop_logged:  # once per outage; the count is in the stats
                self._drop_logged = True
                log.error(
                    "historian: queue for %s is full (%d samples): dropping the oldest queued samples",
                    self.store.path,
                    self.max_queued,
                )
            self.stats["dropped"] += dropped
            self._cond.notify_all()

    @property
    def queued(self) -> int:
        """Samples waiting to be written."""
        return self._queued

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far now, and the open rollup buckets' rows; True once it is
        committed (False on timeout)."""
        with self._cond:
            target = self._seq
            self._flush_now = True
            self._retry_at = 0.0  # an explicit flush retries at once
            self._cond.notify_all()
            if self._thread is None or not self._thread.is_alive():
                done = self._done_seq >= target
            else:
                done = self._cond.wait_for(lambda: self._done_seq >= target, timeout)
        return done and self._checkpoint()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        try:  # exact rows for the buckets a crash may have left open (else done on the first write)
            self.store.open_rollups()
        except sqlite3.Error as exc:
            log.error(
                "historian: cannot rebuild the open rollup buckets of %s: %s (retried on the next write)",
                self.store.path,
                exc,
            )
        with self._cond:
            self._stopping = False
            self._next_maintenance = time.monotonic()  # retention runs once at start
            self._next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, flush: bool = True, timeout: float = 10.0) -> None:
        """Stop the thread; with ``flush`` keep trying to write the queue for up to ``timeout`` s."""
        thread = self._thread
        if thread is None:  # never started: write what was queued here, once
            if flush:
                with self._cond:
                    items = list(self._items)
                    self._items.clear()
                    self._queued = 0
                if items:
                    self._commit(items)  # a failure puts them back in the queue
            with self._cond:
                why = (
                    f"the database could not be written ({self.stats['last_error']})"
                    if flush
                    else "stopped without flushing"
                )
                self._drop_all(why)
            self._checkpoint()
            return
        with self._cond:
            self._stopping = True
            self._flush_now = flush
            self._retry_at = 0.0
            self._stop_deadline = time.monotonic() + (timeout if flush else 0.0)
            if not flush:
                self._drop_all("stopped without flushing")
            self._cond.notify_all()
        thread.join(timeout + 5.0)
        if thread.is_alive():  # pragma: no cover - a wedged SQLite call
            log.error("historian: writer thread did not stop within %.0f s", timeout + 5.0)
        else:
            self._checkpoint()
        self._thread = None

    def _checkpoint(self) -> bool:
        """Write the open rollup buckets' rows; on failure they are rebuilt from raw samples at start."""
        try:
            self.store.checkpoint()
        except sqlite3.Error as exc:
            log.warning(
                "historian: cannot write the open rollup buckets to %s: %s (rebuilt at next start)",
                self.store.path,
                exc,
            )
            return False
        return True

    def _drop_all(self, why: str) -> None:
        if self._queued:
            log.error(
                "historian: %d queued samples not written to %s: %s",
                self._queued,
                self.store.path,
                why,
            )
            self.stats["dropped"] += self._queued
        for item in self._items:
            self._done_seq = max(self._done_seq, item.seq)
        self._items.clear()
        self._queued = 0
        self._cond.notify_all()

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while True:
            items, maintain, stopping = self._next_work()
            if items:
                self._commit(items)
            if maintain:
                self.run_maintenance()
            if not stopping and time.monotonic() >= self._next_checkpoint:
                self._next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL
                self._checkpoint()
            if stopping:
                with self._cond:
                    if not self._queued:
                        break
                    if time.monotonic() >= self._stop_deadline:
                        self._drop_all(f"still failing at shutdown ({self.stats['last_error']})")
                        break
                    self._cond.wait(min(0.2, max(0.0, self._stop_deadline - time.monotonic())))

    def _next_work(self) -> tuple[list[_Item], bool, bool]:
        """Wait until a flush or maintenance is due; take the queue."""
        with self._cond:
            while True:
                now = time.monotonic()
                maintain = now >= self._next_maintenance and not self._stopping
                if self._stopping:
                    due = bool(self._queued)
                elif now < self._retry_at:
                    due = False
                else:
                    due = bool(self._queued) and (
                        self._flush_now
                        or self._queued >= self.config.batch_size
                        or now - self._items[0].t >= self.config.flush_interval
                    )
                if due or maintain or self._stopping:
                    break
                wake = self._next_maintenance
                if self._queued:
                    wake = min(
                        wake, max(self._retry_at, self._items[0].t + self.config.flush_interval)
                    )
                self._cond.wait(max(0.001, wake - now))
            if maintain:
                self._next_maintenance = now + self.maintenance_interval
            items = list(self._items) if due else []
            if due:
                self._items.clear()
                self._queued = 0
                self._flush_now = False
            return items, maintain, self._stopping

    def _commit(self, items: list[_Item]) -> None:
        nums = [i.data for i in items if i.kind == "num"]
        text = [row for i in items if i.kind == "text" for row in i.data]
        cur = [row for i in items if i.kind == "cur" for row in i.data]
        t0 = time.perf_counter()
        try:
            counts = self.store.write(
                Numeric.concat(nums) if nums else None, text or None, cur or None
            )
        except sqlite3.Error as exc:
            self._failed(items, exc)
            return
        except Exception:  # a bug: do not retry the same batch forever
            log.exception(
                "historian: dropping a batch of %d samples that cannot be stored",
                sum(map(len, items)),
            )
            with self._cond:
                self.stats["dropped"] += sum(map(len, items))
                self._done_seq = max(self._done_seq, items[-1].seq)
                self._cond.notify_all()
            return
        dt = time.perf_counter() - t0
        with self._cond:
            st = self.stats
            if st["failing"]:
                log.info(
                    "historian: writing to %s again after %d failed attempts",
                    self.store.path,
                    st["failed_attempts"],
                )
            st.update(
                failing=False, failed_attempts=0, last_flush_ts=time.time(), last_flush_duration=dt
            )
            st["rows_written"] += counts.samples
            st["text_rows_written"] += counts.text
            st["current_rows_written"] += counts.current
            st["duplicates"] += counts.duplicates
            st["transactions"] += 1
            st["last_flush_rows"] = counts.samples + counts.text + counts.current
            self._backoff = 0.0
            self._drop_logged = False
            self._done_seq = max(self._done_seq, items[-1].seq)
            self._cond.notify_all()

    def _failed(self, items: list[_Item], exc: sqlite3.Error) -> None:
        cause = str(exc) or type(exc).__name__
        with self._cond:
            st = self.stats
            self._backoff = min(
                MAX_BACKOFF, max(self.config.flush_interval, self._backoff * 2 or 1.0)
            )
            self._retry_at = time.monotonic() + self._backoff
            self._items.extendleft(reversed(items))
            self._queued += sum(map(len, items))
            if self._queued > self.max_queued:
                self._trim()
            if not st["failing"] or cause != st["last_error"]:
                log.error(
                    "historian: cannot write to %s: %s; %d samples kept queued, retrying in %.0f s (then up to every %.0f s)",
                    self.store.path,
                    cause,
                    self._queued,
                    self._backoff,
                    MAX_BACKOFF,
                )
            else:
                log.debug("historian: write to %s failed again: %s", self.store.path, cause)
            st.update(failing=True, last_error=cause, last_error_ts=time.time())
            st["failed_attempts"] += 1
            self._cond.notify_all()

    def run_maintenance(self, now: float | None = None) -> dict[str, Any]:
        """Retention and disk budget now (any thread); returns what was deleted."""
        try:
            rep = self.retention.run(now)
        except sqlite3.Error as exc:
            log.error("historian: retention on %s failed: %s", self.store.path, exc)
            with self._cond:
                self.stats.update(last_error=f"retention: {exc}", last_error_ts=time.time())
            return {"error": str(exc)}
        with self._cond:
            self.stats["retention_deleted"] += rep.retention_deleted
            self.stats["budget_deleted"] += rep.budget_deleted
            self.stats["used_bytes"] = rep.used_bytes
            self.stats["last_maintenance_ts"] = time.time()
        return {
            "retention_deleted": rep.retention_deleted,
            "budget_deleted": rep.budget_deleted,
            "used_bytes": rep.used_bytes,
            "budget_cutoffs": dict(rep.budget_cutoffs),
        }

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters plus queue depth and database size (for diagnostics)."""
        with self._cond:
            out = dict(self.stats)
            out["queue_depth"] = self._queued
            out["running"] = self._thread is not None and self._thread.is_alive()
        out["db_bytes"] = db_bytes(self.store.path)
        out["path"] = str(self.store.path)
        return out


def as_rows(*cols: np.ndarray | list[Any]) -> list[tuple[Any, ...]]:
    """Row tuples from aligned columns (NumPy arrays become Python scalars)."""
    return list(
        zip(*[c.tolist() if isinstance(c, np.ndarray) else list(c) for c in cols], strict=True)
    )
