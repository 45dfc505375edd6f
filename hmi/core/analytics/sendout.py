"""The station's hourly send-out from history, and the forecaster that learns from it.

Send-out is the standard volume leaving through the meter runs each local hour, from
the flow computers' totals (rollover-safe, see :mod:`.series`). :class:`SendOutForecaster`
refits the regression of :mod:`.forecast` on ``history_days`` of it (every
``retrain_every``), issues a forecast for the next ``horizon_h`` hours with the
seasonal-naive baseline beside it, and records both so their accuracy can be tracked.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np

from hmi.config.schema import StationConfig
from hmi.core.analytics.accuracy import ForecastStore
from hmi.core.analytics.forecast import (
    HOUR,
    Calendar,
    ForecastResult,
    SendOutModel,
    seasonal_naive,
    temperature_outlook,
)
from hmi.core.analytics.series import grid_mean, hold_for, total_volumes
from hmi.core.historian import Historian

log = logging.getLogger(__name__)

MODEL = "regression"
BASELINE = "seasonal_naive"
MAPE_DAYS = 7.0


class SendOutForecaster:
    """Hourly send-out forecast of one station (runs on the analytics thread)."""

    def __init__(
        self,
        cfg: StationConfig,
        hist: Historian,
        store: ForecastStore | None = None,
        hold: Callable[[str], float] | None = None,
    ) -> None:
        fc = cfg.analytics.forecast
        if fc is None:
            raise ValueError("the station config has no analytics.forecast section")
        self.fc = fc
        self.hist = hist
        self.store = store
        self.hold = hold or hold_for(cfg)
        self.tz = ZoneInfo(cfg.station.timezone)
        self.calendar = Calendar(cfg.station.timezone, fc.holidays)
        ids = fc.meters or [m.id for m in cfg.analytics.meters]
        self.meters = [cfg.analytics.meter(i) for i in ids]
        self.model: SendOutModel | None = None
        self.last: ForecastResult | None = None
        self._scored_until = 0.0

    def hour_start(self, t: float) -> float:
        """Start of the local hour holding ``t``."""
        d = dt.datetime.fromtimestamp(t, self.tz).replace(minute=0, second=0, microsecond=0)
        return d.timestamp()

    def hourly(self, start: float, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(hour starts, send-out Sm³, mean ambient °C or None) for whole hours in [start, end)."""
        edges = np.arange(start, end + 1.0, HOUR)
        total = np.zeros(len(edges) - 1)
        for m in self.meters:
            total = (
                total
                + total_volumes(self.hist, m.total, edges, m.rollover, self.hold(m.total)).volume
            )
        temp = None
        if self.fc.ambient:
            temp = grid_mean(self.hist, self.fc.ambient, edges, self.hold(self.fc.ambient)).mean
        return edges[:-1], total, temp

    def retrain(self, now: float) -> bool:
        """Refit on the complete hours of the last ``history_days``; False without enough history."""
        end = self.hour_start(now)
        ts, y, temp = self.hourly(end - self.fc.history_days * 86400.0, end)
        good = np.isfinite(y) if temp is None else np.isfinite(y) & np.isfinite(temp)
        if good.sum() < self.fc.min_history_days * 24:
            log.info(
                "forecast: %d hours of history, %d needed: baseline only",
                int(good.sum()),
                int(self.fc.min_history_days * 24),
            )
            self.model = None
            return False
        self.model = SendOutModel(self.calendar, self.fc.base_temperature).fit(ts, y, temp, now)
        log.info(
            "forecast model refitted on %d hours (residual %.0f Sm3/h)",
            self.model.rows,
            self.model.residual_std,
        )
        return True

    def issue(self, now: float, temperatures: np.ndarray | None = None) -> ForecastResult:
        """Forecast the hours from the current one on; ``temperatures`` (°C per hour) may replace the outlook."""
        h0 = self.hour_start(now)
        targets = h0 + HOUR * np.arange(self.fc.horizon_h)
        # the baseline looks back two weeks; the temperature outlook three days
        hts, hy, htemp = self.hourly(h0 - 15 * 86400.0, h0)
        baseline = seasonal_naive(hts, hy, targets)
        temp = np.full(len(targets), np.nan)
        if temperatures is not None:
            temp = np.asarray(temperatures, np.float64)[: len(targets)]
        elif htemp is not None:
            temp = temperature_outlook(hts, htemp, targets, self.calendar)
        note = ""
        if self.model is not None and (not self.model.use_temperature or np.isfinite(temp).all()):
            forecast = self.model.predict(targets, temp if self.model.use_temperature else None)
        else:
            forecast = baseline.copy()
            note = (
                "not enough history for the regression: seasonal-naive values"
                if self.model is None
                else "no temperature outlook: seasonal-naive values"
            )
        keep = hts >= h0 - 3 * 86400.0
        res = ForecastResult(
            issued=now,
            ts=targets,
            forecast=forecast,
            baseline=baseline,
            temperature=temp,
            history_ts=hts[keep],
            history=hy[keep],
            trained_at=self.model.fitted_at if self.model else 0.0,
            training_hours=self.model.rows if self.model else 0,
            residual_std=self.model.residual_std if self.model else float("nan"),
            note=note,
        )
        if self.store is not None:
            if self.model is not None:
                self.store.record(MODEL, now, targets, forecast)
            self.store.record(BASELINE, now, targets, baseline)
            res.mape = self.score(now)
        self.last = res
        return res

    def score(self, now: float) -> dict[str, float]:
        """Store the actuals of hours completed since the last call; MAPE of both models, last 7 days."""
        if self.store is None:
            return {}
        h0 = self.hour_start(now)
        start = max(self._scored_until, h0 - (MAPE_DAYS + 1) * 86400.0)
        if h0 > start:
            ts, y, _ = self.hourly(self.hour_start(start), h0)
            self.store.record_actuals(ts, y)
            self._scored_until = h0
        since = h0 - MAPE_DAYS * 86400.0
        out = {}
        for model in (MODEL, BASELINE):
            value, n = self.store.mape(model, since, h0)
            if n:
                out[model] = value
        return out
