"""Retention and disk budget of ``history.db`` (run periodically on the writer thread).

* Raw samples (numeric and text) older than ``retention_days`` and rollup rows older
  than ``rollup_retention_days`` are deleted.
* When the pages in use exceed ``disk_budget_mb`` (MiB), the oldest data is deleted
  until use is back under 90 % of the budget: **raw samples first**, then 1-minute
  rollups, then 1-hour rollups, so that a long trend keeps its shape longest.

Deleted pages go to SQLite's free list and are reused by new samples, so the file
stops growing at about the budget (it is not shrunk: that would rewrite the file).
Only ``history.db`` is touched; the alarm journal, outbox and user databases are
separate files that the historian never opens.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from hmi.config.schema import HistorianConfig
from hmi.core.historian.store import SampleStore

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
MIB = 1024 * 1024
# (tables deleted together, time column), in the order the budget gives them up
_TIERS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("samples", "samples_text"), "ts", "raw samples"),
    (("rollup_1m",), "bucket", "1-minute rollups"),
    (("rollup_1h",), "bucket", "1-hour rollups"),
)


@dataclass(slots=True)
class RetentionReport:
    """What one run deleted."""

    retention_deleted: int = 0
    budget_deleted: int = 0
    used_bytes: int = 0
    budget_cutoffs: dict[str, float] = field(
        default_factory=dict
    )  # tier -> deleted before (Unix s)


class Retention:
    """Deletes what retention and the disk budget no longer allow."""

    def __init__(self, store: SampleStore, config: HistorianConfig) -> None:
        self.store = store
        self.config = config

    def run(self, now: float | None = None) -> RetentionReport:
        """One pass: age limits, then the disk budget, then a WAL checkpoint."""
        now = time.time() if now is None else now
        now_ms = int(now * 1000)
        report = RetentionReport()
        with self.store.lock:
            raw_cut = now_ms - int(self.config.retention_days * DAY_MS)
            roll_cut = now_ms - int(self.config.rollup_retention_days * DAY_MS)
            report.retention_deleted += self._delete_before(
                ("samples", "samples_text"), "ts", raw_cut
            )
            report.retention_deleted += self._delete_before(
                ("rollup_1m", "rollup_1h"), "bucket", roll_cut
            )
            self._budget(report)
            if report.retention_deleted or report.budget_deleted:
                self.store.forget_newest()
                # move the deletions out of the WAL so that the -wal file does not keep their size
                self.store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            report.used_bytes = self.store.used_bytes()
        if report.retention_deleted:
            log.info(
                "historian: deleted %d rows past retention from %s",
                report.retention_deleted,
                self.store.path,
            )
        return report

    # ------------------------------------------------------------------ helpers
    def _tag_ids(self) -> list[int]:
        return [r[0] for r in self.store.execute("SELECT id FROM tags")]

    def _delete_before(self, tables: tuple[str, ...], col: str, cutoff_ms: int) -> int:
        """Delete rows older than ``cutoff_ms``, one tag at a time (each a key-range delete)."""
        deleted = 0
        ids = self._tag_ids()
        for table in tables:
            with self.store.transaction() as cur:
                for tid in ids:
                    cur.execute(
                        f"DELETE FROM {table} WHERE tag_id = ? AND {col} < ?", (tid, cutoff_ms)
                    )
                    deleted += max(cur.rowcount, 0)
        return deleted

    def _span(self, tables: tuple[str, ...], col: str) -> tuple[int, int] | None:
        """Oldest and newest time in ``tables`` (per-tag key lookups, no full scan)."""
        lo: int | None = None
        hi: int | None = None
        for table in tables:
            for tid in self._tag_ids():
                row = self.store.execute(
                    f"SELECT min({col}), max({col}) FROM {table} WHERE tag_id = ?", (tid,)
                )[0]
                if row[0] is not None:
                    lo = row[0] if lo is None else min(lo, row[0])
                    hi = row[1] if hi is None else max(hi, row[1])
        return None if lo is None or hi is None else (int(lo), int(hi))

    def _budget(self, report: RetentionReport) -> None:
        budget = int(self.config.disk_budget_mb * MIB)
        used = self.store.used_bytes()
        if used <= budget:
            return
        target = int(budget * 0.9)
        start_used = used
        for tables, col, label in _TIERS:
            while used > target:
                span = self._span(tables, col)
                if span is None:
                    break
                oldest, newest = span
                # ~5 % of what is left per step: few steps, and no more deleted than needed
                cutoff = oldest + max(60_000, (newest - oldest) // 20)
                report.budget_deleted += self._delete_before(tables, col, cutoff)
                report.budget_cutoffs[label] = cutoff / 1000.0
                used = self.store.used_bytes()
            if used <= target:
                break
        log.warning(
            "historian: %s used %.1f MiB, over its disk budget of %.1f MiB: deleted %d rows (%s); now %.1f MiB",
            self.store.path,
            start_used / MIB,
            budget / MIB,
            report.budget_deleted,
            ", ".join(
                f"{k} before {time.strftime('%Y-%m-%d %H:%M', time.localtime(v))}"
                for k, v in report.budget_cutoffs.items()
            ),
            used / MIB,
        )
