"""The analytics service: early warnings, send-out forecast and daily reports in the background.

Everything runs on one worker thread named ``analytics`` (the history reads release the
GIL in SQLite; the NumPy work is a few milliseconds), so neither acquisition nor the
GUI ever waits for it. Results leave through one port, a :class:`~hmi.core.ports.DerivedSink`
(the runtime): figures through ``publish_derived`` to the system device (``warning.<id>``,
``forecast.*``), and each new daily report through ``call`` to the report listeners on
the acquisition thread (the uplink's ``on_report``).

Schedule: early warnings every ``analytics.interval`` seconds; a forecast each hour (a
minute past the hour, once the last hour's totals are in), the model refitted every
``forecast.retrain_every``; the daily report ``report.delay`` seconds after local
midnight, and at start for yesterday if it was never made.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from hmi.core.analytics.accuracy import AnalyticsStoreError, ForecastStore
from hmi.core.analytics.forecast import ForecastResult
from hmi.core.analytics.metering import MeteringReports
from hmi.core.analytics.warnings import WarningEngine, WarningResult
from hmi.core.stats import Derived

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig
    from hmi.core.historian import Historian
    from hmi.core.ports import DerivedSink

log = logging.getLogger(__name__)

ReportListener = Callable[[dict[str, Any]], None]
FORECAST_OFFSET = 60.0  # s after the hour


class AnalyticsService:
    """Forecast, early warnings and reports of a running station (see the module docstring)."""

    def __init__(
        self,
        cfg: StationConfig,
        data_dir: str | Path,
        historian: Historian,
        results: DerivedSink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.acfg = self.cfg.analytics
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.historian = historian
        self.results = results
        self.tz = ZoneInfo(self.cfg.station.timezone)
        self.warnings_engine = WarningEngine(self.cfg, historian)
        self.reports = MeteringReports(self.cfg, historian, self.data_dir / "alarms.db")
        self.store: ForecastStore | None = None
        self.forecaster: Any = None
        self._lock = threading.Lock()
        self._warnings: dict[str, WarningResult] = {}
        self._forecast: ForecastResult | None = None
        self._last_report: dict[str, Any] | None = None
        self._listeners: list[ReportListener] = []
        self._jobs: queue.Queue[
            tuple[Callable[..., Any], tuple[Any, ...], concurrent.futures.Future[Any]] | None
        ] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_warn = 0.0
        self._next_forecast = 0.0
        self._next_retrain = 0.0
        self._next_report = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the worker thread ``analytics``."""
        if self._thread is not None:
            return
        if self.acfg.forecast is not None and self.acfg.meters:
            from hmi.core.analytics.sendout import SendOutForecaster

            try:
                self.store = ForecastStore(self.data_dir / "analytics.db")
            except AnalyticsStoreError as exc:
                log.error("forecast accuracy will not be kept: %s", exc)
            self.forecaster = SendOutForecaster(self.cfg, self.historian, self.store)
        now = self.clock()
        self._next_warn = now + min(
            5.0, self.acfg.interval
        )  # let the first values reach the historian
        self._next_forecast = now + 5.0
        self._next_retrain = now + 5.0
        self._next_report = (
            now + 3.0 if self._report_missing(self._yesterday(now)) else self._report_due(now)
        )
        self._stop.clear()
        self._thread = threading.Thread(target=self._main, name="analytics", daemon=True)
        self._thread.start()
        log.info(
            "analytics started: %d early warnings, forecast %s",
            len(self.warnings_engine.detectors),
            "on" if self.forecaster else "off",
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the worker (the job in progress finishes first). Idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._jobs.put(None)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("analytics thread did not stop within %.0f s", timeout)
        while True:  # anything still queued will not run
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[2].cancel()
        if self.store is not None:
            self.store.close()

    def add_report_listener(self, fn: ReportListener) -> None:
        """Call ``fn(report)`` for every new daily report (on the acquisition thread)."""
        self._listeners.append(fn)

    # ------------------------------------------------------------------ API (any thread)
    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Run ``fn(*args)`` on the analytics thread; the future holds the result."""
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if self._thread is None:
            fut.set_exception(RuntimeError("analytics is not running"))
            return fut
        self._jobs.put((fn, args, fut))
        return fut

    def warnings(self) -> list[WarningResult]:
        """Latest finding of every detector, in config order."""
        with self._lock:
            return list(self._warnings.values())

    def forecast(self) -> ForecastResult | None:
        """The latest issued forecast (None before the first)."""
        with self._lock:
            return self._forecast

    def last_report(self) -> dict[str, Any] | None:
        """The latest daily report made by the service."""
        with self._lock:
            return self._last_report

    def request_report(self, day: dt.date) -> concurrent.futures.Future[dict[str, Any]]:
        """Build the daily report of ``day`` on the analytics thread (for the report page)."""
        return self.submit(self.reports.daily, day, None, self._forecast_summary())

    def forecast_history(
        self, start: float, end: float
    ) -> concurrent.futures.Future[dict[str, Any]]:
        """Day-ahead forecasts of both models and the actuals for [start, end) (for the trend)."""
        return self.submit(self._forecast_history, start, end)

    def refresh(self) -> concurrent.futures.Future[None]:
        """Run the early warnings and the forecast now (the UI's refresh button, tests)."""
        return self.submit(self._refresh_now)

    # ------------------------------------------------------------------ worker
    def _main(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            for due, run in (
                (self._next_warn, self._run_warnings),
                (self._next_forecast, self._run_forecast),
                (self._next_report, self._run_report),
            ):
                if now >= due and not self._stop.is_set():
                    try:
                        run(now)
                    except Exception:  # one failed run must not end the service
                        log.exception("analytics: %s failed", run.__name__)
            wait = max(
                0.05, min(self._next_warn, self._next_forecast, self._next_report) - self.clock()
            )
            try:
                job = self._jobs.get(timeout=min(wait, 1.0))
            except queue.Empty:
                continue
            if job is None:
                break
            fn, args, fut = job
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args))
                except BaseException as exc:
                    fut.set_exception(exc)

    def _refresh_now(self) -> None:
        now = self.clock()
        self._run_warnings(now)
        if self.forecaster is not None:
            self._run_forecast(now)

    def _run_warnings(self, now: float) -> None:
        self._next_warn = now + self.acfg.interval
        if not self.warnings_engine.detectors:
            self._next_warn = now + 86400.0
            return
        results = self.warnings_engine.evaluate(now)
        with self._lock:
            self._warnings = results
        from hmi.core.system_tags import GOOD, UNCERTAIN

        max_age = 3.0 * self.acfg.interval + 30.0
        self._deliver(
            {
                r.address: Derived(r.value, GOOD if r.judged else UNCERTAIN, r.reason, now, max_age)
                for r in results.values()
            }
        )

    def _run_forecast(self, now: float) -> None:
        fc = self.forecaster
        if fc is None:
            self._next_forecast = now + 86400.0
            return
        h0 = fc.hour_start(now)
        self._next_forecast = h0 + 3600.0 + FORECAST_OFFSET
        if fc.model is None or now >= self._next_retrain:  # without a model: try each hour
            fc.retrain(now)
            fcfg = self.acfg.forecast
            self._next_retrain = now + (fcfg.retrain_every if fcfg is not None else 86400.0)
        res = fc.issue(now)
        with self._lock:
            self._forecast = res
        if self.store is not None:
            self.store.prune(now)
        from hmi.core.system_tags import BAD, GOOD, UNCERTAIN

        age = 2 * 3600.0 + FORECAST_OFFSET
        quality = GOOD if not res.note else UNCERTAIN

        def fig(v: float) -> Derived:
            return Derived(
                v,
                quality if np.isfinite(v) else BAD,
                res.note if np.isfinite(v) else "no forecast",
                now,
                age,
            )

        mape = res.mape.get("regression", float("nan"))
        self._deliver(
            {
                "forecast.next_hour": fig(
                    float(res.forecast[1]) if len(res.forecast) > 1 else float("nan")
                ),
                "forecast.next_24h": fig(
                    float(np.sum(res.forecast[1:25])) if len(res.forecast) >= 25 else float("nan")
                ),
                "forecast.mape": Derived(
                    mape,
                    GOOD if np.isfinite(mape) else UNCERTAIN,
                    "" if np.isfinite(mape) else "no scored forecasts yet",
                    now,
                    age,
                ),
                "forecast.baseline_mape": Derived(
                    res.mape.get("seasonal_naive", float("nan")),
                    GOOD if "seasonal_naive" in res.mape else UNCERTAIN,
                    "" if "seasonal_naive" in res.mape else "no scored forecasts yet",
                    now,
                    age,
                ),
            }
        )

    def _run_report(self, now: float) -> None:
        day = self._yesterday(now)
        self._next_report = self._report_due(now)
        if not self.acfg.report.daily or not self.acfg.meters or not self._report_missing(day):
            return
        report = self.reports.daily(day, now, self._forecast_summary())
        if report["station_volume_known"] == 0 and all(
            m["total_start"] is None for m in report["meters"]
        ):
            log.info("no metering history for %s: no daily report", day)
            return
        with self._lock:
            self._last_report = report
        self._save(report, day)
        if self._listeners:
            try:
                self.results.call(self._notify, report)
            except Exception as exc:  # runtime stopping
                log.warning("daily report %s not forwarded: %s", day, exc)

    def _notify(self, report: dict[str, Any]) -> None:
        for fn in list(self._listeners):
            try:
                fn(report)
            except Exception:
                log.exception("report listener %r failed", fn)

    def _save(self, report: dict[str, Any], day: dt.date) -> None:
        from hmi.core.analytics.reportfile import ReportError, write_report

        folder = self.data_dir / "reports"
        lang = self.acfg.report.language or self.cfg.station.language
        for fmt in dict.fromkeys(
            ["json", *self.acfg.report.save]
        ):  # json always: it marks the day as done
            try:
                write_report(report, folder / f"daily-{day.isoformat()}.{fmt}", lang)
            except ReportError as exc:
                log.error("daily report %s: %s", day, exc)
        log.info("daily report %s: %s Sm3", day, report.get("station_volume"))

    def _report_missing(self, day: dt.date) -> bool:
        return not (self.data_dir / "reports" / f"daily-{day.isoformat()}.json").is_file()

    def _yesterday(self, now: float) -> dt.date:
        return dt.datetime.fromtimestamp(now, self.tz).date() - dt.timedelta(days=1)

    def _report_due(self, now: float) -> float:
        today = dt.datetime.fromtimestamp(now, self.tz).date()
        due = dt.datetime.combine(today, dt.time(0), self.tz).timestamp() + self.acfg.report.delay
        return (
            due
            if due > now
            else dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), self.tz).timestamp()
            + self.acfg.report.delay
        )

    def _forecast_summary(self) -> dict[str, Any] | None:
        res = self._forecast
        if res is None:
            return None
        return {
            "issued": res.issued,
            "mape": res.mape.get("regression"),
            "baseline_mape": res.mape.get("seasonal_naive"),
            "next_24h": float(np.sum(res.forecast[1:25])) if len(res.forecast) >= 25 else None,
        }

    def _forecast_history(self, start: float, end: float) -> dict[str, Any]:
        out: dict[str, Any] = {"models": {}}
        if self.store is not None:
            for model in ("regression", "seasonal_naive"):
                ts, v = self.store.day_ahead(model, start, end)
                out["models"][model] = {
                    "ts": ts.tolist(),
                    "value": [None if not np.isfinite(x) else float(x) for x in v],
                }
        if self.forecaster is not None:
            h0 = self.forecaster.hour_start(start)
            ts, y, _ = self.forecaster.hourly(h0, self.forecaster.hour_start(end))
            out["actual"] = {
                "ts": ts.tolist(),
                "value": [None if not np.isfinite(x) else float(x) for x in y],
            }
        return out

    # ------------------------------------------------------------------ to the acquisition thread
    def _deliver(self, values: dict[str, Derived]) -> None:
        """Hand new figures to the runtime (thread-safe; dropped when it is stopping)."""
        self.results.publish_derived(values)
