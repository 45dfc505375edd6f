"""Forecast accuracy: issued forecasts and the actual send-out, in ``<data-dir>/analytics.db``.

Every issued forecast is stored (model, issue time, target hour, value). Once an hour is
over, its actual volume is stored too, and the mean absolute percentage error (MAPE) of
the forecasts that targeted the last seven days is a join away. "Day-ahead" MAPE counts
forecasts issued at most 24 h before their target hour.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from hmi.core.sqlite import open_sqlite

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS forecasts (model TEXT NOT NULL, issued_ms INTEGER NOT NULL, "
    "target_ms INTEGER NOT NULL, value REAL, PRIMARY KEY (model, issued_ms, target_ms)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS forecasts_target ON forecasts (target_ms)",
    "CREATE TABLE IF NOT EXISTS actuals (target_ms INTEGER PRIMARY KEY, value REAL NOT NULL)",
)


class AnalyticsStoreError(Exception):
    """analytics.db cannot be opened or written (the message names the file and the cause)."""


class ForecastStore:
    """Issued forecasts and actuals; MAPE per model. Thread-safe (one lock, short transactions)."""

    def __init__(self, path: Path | str, keep_days: float = 90.0) -> None:
        self.path = Path(path)
        self.keep_days = keep_days
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._engine = open_sqlite(
                self.path, error=AnalyticsStoreError, label="analytics database"
            )
            with self._engine.begin() as conn:
                for stmt in _SCHEMA:
                    conn.exec_driver_sql(stmt)
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise AnalyticsStoreError(
                f"cannot open analytics database {self.path}: {exc}"
            ) from None

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()

    def record(
        self,
        model: str,
        issued: float,
        targets: Sequence[float] | np.ndarray,
        values: Sequence[float] | np.ndarray,
    ) -> None:
        """Store one issued forecast (hour starts and volumes)."""
        ims = int(round(issued * 1000))
        rows = [
            (model, ims, int(round(t * 1000)), None if not np.isfinite(v) else float(v))
            for t, v in zip(targets, values, strict=True)
        ]
        self._exec("INSERT OR REPLACE INTO forecasts VALUES (?, ?, ?, ?)", rows)

    def record_actuals(
        self, targets: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray
    ) -> None:
        """Store actual hourly volumes (finite values only)."""
        rows = [
            (int(round(t * 1000)), float(v))
            for t, v in zip(targets, values, strict=True)
            if np.isfinite(v)
        ]
        if rows:
            self._exec("INSERT OR REPLACE INTO actuals VALUES (?, ?)", rows)

    def _exec(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self._lock:
            try:
                with self._engine.begin() as conn:
                    conn.exec_driver_sql(sql, rows)
            except sa.exc.SQLAlchemyError as exc:
                raise AnalyticsStoreError(
                    f"cannot write analytics database {self.path}: {getattr(exc, 'orig', exc)}"
                ) from None

    def mape(
        self,
        model: str,
        since: float,
        until: float,
        max_lead: float = 24 * 3600.0,
        min_actual: float = 1.0,
    ) -> tuple[float, int]:
        """(MAPE in %, number of forecast/actual pairs) of ``model`` for targets in [since, until)."""
        sql = (
            "SELECT f.value, a.value FROM forecasts f JOIN actuals a ON a.target_ms = f.target_ms "
            "WHERE f.model = ? AND f.target_ms >= ? AND f.target_ms < ? AND f.target_ms > f.issued_ms - 3600000 "
            "AND f.target_ms - f.issued_ms <= ? AND f.value IS NOT NULL AND a.value >= ?"
        )
        with self._engine.connect() as conn:
            rows = conn.exec_driver_sql(
                sql, (model, int(since * 1000), int(until * 1000), int(max_lead * 1000), min_actual)
            ).fetchall()
        if not rows:
            return float("nan"), 0
        f = np.array([r[0] for r in rows])
        a = np.array([r[1] for r in rows])
        return float(np.mean(np.abs(f - a) / a) * 100.0), len(rows)

    def latest_actual_target(self) -> float | None:
        """Start of the newest hour with a stored actual (None when there is none)."""
        with self._engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT max(target_ms) FROM actuals").fetchone()
        return None if row is None or row[0] is None else row[0] / 1000.0

    def series(self, model: str, issued: float) -> tuple[np.ndarray, np.ndarray]:
        """Targets and values of one stored forecast."""
        with self._engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT target_ms, value FROM forecasts WHERE model = ? AND issued_ms = ? ORDER BY target_ms",
                (model, int(round(issued * 1000))),
            ).fetchall()
        return np.array([r[0] / 1000.0 for r in rows]), np.array(
            [np.nan if r[1] is None else r[1] for r in rows]
        )

    def day_ahead(
        self, model: str, since: float, until: float, lead: float = 24 * 3600.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each target hour in [since, until): the value of the forecast issued closest to
        ``lead`` seconds before it (for the "forecast vs actual" trend)."""
        sql = (
            "SELECT target_ms, value, abs((target_ms - issued_ms) - ?) AS miss FROM forecasts "
            "WHERE model = ? AND target_ms >= ? AND target_ms < ? AND target_ms >= issued_ms ORDER BY target_ms, miss"
        )
        with self._engine.connect() as conn:
            rows = conn.exec_driver_sql(
                sql, (int(lead * 1000), model, int(since * 1000), int(until * 1000))
            ).fetchall()
        best: dict[int, float] = {}
        for t, v, _ in rows:
            best.setdefault(t, np.nan if v is None else v)
        ts = np.array(sorted(best), dtype=np.float64)
        return ts / 1000.0, np.array([best[int(t)] for t in ts])

    def prune(self, now: float) -> None:
        """Forget forecasts and actuals older than ``keep_days``."""
        cut = int((now - self.keep_days * 86400.0) * 1000)
        with self._lock, self._engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM forecasts WHERE target_ms < ?", (cut,))
            conn.exec_driver_sql("DELETE FROM actuals WHERE target_ms < ?", (cut,))
