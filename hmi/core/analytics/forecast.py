"""Hourly station send-out forecast: calendar + heating-degree regression, and a baseline.

Model (least squares with a light ridge penalty, solved with NumPy)::

    y[h] = a[hod] + s[daytype, hod] + (c + c[hod]) * HDH[h]

``hod`` is the local hour of day, ``daytype`` weekday / Saturday / Sunday-or-holiday
(``s`` is 0 for weekdays), ``HDH = max(0, base_temperature - ambient)`` the heating
degree hours. The day-type offsets and the per-hour heating slopes are shrunk toward 0
(a few pseudo-observations), so two weeks of history already give a sane model and
weekly seasonality sharpens as history grows. The heating load keeps the daily shape of
demand because its slope varies with the hour.

Future temperatures (the station is offline: no weather service) are the mean daily
profile of the last three days plus the current anomaly, decaying with a 36-hour time
constant (weather anomalies persist for days); a caller that has a weather forecast passes it instead.

Baseline: seasonal naive, the same hour one week earlier (one day earlier when the
week-old value is missing). Accuracy of both is tracked in :mod:`.accuracy`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

HOUR = 3600.0
WEEK_H = 168
_RIDGE_OFFSET = 2.0  # pseudo-observations pulling day-type offsets toward 0
_RIDGE_SLOPE = 4.0  # ... and per-hour heating slopes toward the common slope


class Calendar:
    """Local hour of day and day type of Unix times, in the station's time zone."""

    def __init__(self, timezone: str = "Asia/Shanghai", holidays: Iterable[dt.date] = ()) -> None:
        self.tz = ZoneInfo(timezone)
        self.holidays = set(holidays)

    def features(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hour of day 0-23, day type 0 weekday / 1 Saturday / 2 Sunday or holiday)."""
        hod = np.empty(len(ts), np.int64)
        day = np.empty(len(ts), np.int64)
        for i, t in enumerate(np.asarray(ts, dtype=np.float64).tolist()):
            d = dt.datetime.fromtimestamp(t, self.tz)
            hod[i] = d.hour
            wd = d.weekday()
            day[i] = 2 if (wd == 6 or d.date() in self.holidays) else (1 if wd == 5 else 0)
        return hod, day


@dataclass
class SendOutModel:
    """The fitted regression (see the module docstring)."""

    calendar: Calendar
    base_temperature: float = 18.0
    coef: np.ndarray | None = None
    use_temperature: bool = True
    rows: int = 0
    fitted_at: float = 0.0
    residual_std: float = float("nan")

    def _design(self, ts: np.ndarray, temp: np.ndarray | None) -> np.ndarray:
        hod, day = self.calendar.features(ts)
        n = len(ts)
        cols = 24 + 48 + (25 if self.use_temperature else 0)
        x = np.zeros((n, cols))
        r = np.arange(n)
        x[r, hod] = 1.0
        sat, sun = day == 1, day == 2
        x[r[sat], 24 + hod[sat]] = 1.0
        x[r[sun], 48 + hod[sun]] = 1.0
        if self.use_temperature:
            assert temp is not None
            hdh = np.maximum(self.base_temperature - np.asarray(temp, np.float64), 0.0)
            x[:, 72] = hdh
            x[r, 73 + hod] = hdh
        return x

    def fit(
        self, ts: np.ndarray, y: np.ndarray, temp: np.ndarray | None, now: float = 0.0
    ) -> SendOutModel:
        """Fit on hourly rows (bucket start times, volumes, mean temperatures); NaN rows are skipped."""
        self.use_temperature = temp is not None and bool(np.isfinite(temp).any())
        ok = np.isfinite(y)
        if self.use_temperature:
            assert temp is not None
            ok &= np.isfinite(temp)
        ts, y = np.asarray(ts)[ok], np.asarray(y)[ok]
        t = np.asarray(temp)[ok] if self.use_temperature and temp is not None else None
        x = self._design(ts, t)
        penal = list(range(24, 72)) + (list(range(73, 97)) if self.use_temperature else [])
        weights = [_RIDGE_OFFSET] * 48 + [_RIDGE_SLOPE] * (24 if self.use_temperature else 0)
        aug = np.zeros((len(penal), x.shape[1]))
        for k, (j, w) in enumerate(zip(penal, weights, strict=True)):
            # scale the penalty row like the column it restrains
            scale = float(np.sqrt(np.mean(x[:, j] ** 2))) or 1.0
            aug[k, j] = np.sqrt(w) * max(scale, 1e-6)
        # hours never seen: keep their level from collapsing to 0 by tying it to its neighbours
        seen = x[:, :24].sum(axis=0)
        tie_rows = []
        for h in np.flatnonzero(seen == 0).tolist():
            row = np.zeros(x.shape[1])
            row[h], row[(h - 1) % 24], row[(h + 1) % 24] = 1.0, -0.5, -0.5
            tie_rows.append(row)
        xa = np.vstack([x, aug] + ([np.array(tie_rows)] if tie_rows else []))
        ya = np.concatenate([y, np.zeros(len(aug) + len(tie_rows))])
        # normal equations: a 97x97 solve, not an SVD of the whole design (a multi-threaded
        # SVD fights acquisition for the cores); the ridge rows keep them well conditioned
        try:
            self.coef = np.linalg.solve(xa.T @ xa, xa.T @ ya)
        except np.linalg.LinAlgError:
            self.coef, *_ = np.linalg.lstsq(xa, ya, rcond=None)
        resid = y - x @ self.coef
        self.rows = len(y)
        self.residual_std = float(np.std(resid)) if len(resid) else float("nan")
        self.fitted_at = now
        return self

    def predict(self, ts: np.ndarray, temp: np.ndarray | None) -> np.ndarray:
        """Send-out of each hour starting at ``ts`` (never negative)."""
        if self.coef is None:
            raise RuntimeError("the model is not fitted")
        t = temp if self.use_temperature else None
        if self.use_temperature and t is None:
            raise ValueError("this model needs temperatures")
        out: np.ndarray = np.maximum(self._design(np.asarray(ts, np.float64), t) @ self.coef, 0.0)
        return out


def seasonal_naive(hist_ts: np.ndarray, hist_y: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Same hour one week earlier (one day earlier when that is missing); NaN when neither is known.

    Hours inside the forecast horizon use the naive value of their own lag, so a 48-hour
    forecast issued now uses only what is known now.
    """
    lookup = {
        int(round(t / HOUR)): float(v)
        for t, v in zip(hist_ts.tolist(), hist_y.tolist(), strict=True)
        if np.isfinite(v)
    }
    out = np.full(len(ts), np.nan)
    for i, t in enumerate(np.asarray(ts, np.float64).tolist()):
        k = int(round(t / HOUR))
        for lag in (WEEK_H, 2 * WEEK_H, 24, 48):
            v = lookup.get(k - lag)
            if v is not None:
                out[i] = v
                break
    return out


def temperature_outlook(
    hist_ts: np.ndarray, hist_t: np.ndarray, ts: np.ndarray, calendar: Calendar, tau_h: float = 36.0
) -> np.ndarray:
    """Hourly ambient temperature ahead: last-3-day daily profile + decaying current anomaly."""
    ok = np.isfinite(hist_t)
    hts, ht = np.asarray(hist_ts)[ok], np.asarray(hist_t)[ok]
    if len(ht) == 0:
        return np.full(len(ts), np.nan)
    recent = hts >= hts[-1] - 72 * HOUR
    hod_h, _ = calendar.features(hts[recent])
    profile = np.full(24, np.nan)
    for h in range(24):
        sel = ht[recent][hod_h == h]
        if len(sel):
            profile[h] = float(sel.mean())
    if np.isnan(profile).any():  # fill unseen hours with the mean
        profile[np.isnan(profile)] = float(np.nanmean(profile))
    last_hod, _ = calendar.features(hts[-1:])
    anomaly = float(ht[-1] - profile[last_hod[0]])
    hod_f, _ = calendar.features(np.asarray(ts, np.float64))
    lead_h = (np.asarray(ts, np.float64) - hts[-1]) / HOUR
    out: np.ndarray = profile[hod_f] + anomaly * np.exp(-np.maximum(lead_h, 0.0) / tau_h)
    return out


@dataclass
class ForecastResult:
    """One issued forecast: hourly buckets starting at ``ts`` (Unix s)."""

    issued: float
    ts: np.ndarray
    forecast: np.ndarray  # Sm³ per hour, regression
    baseline: np.ndarray  # Sm³ per hour, seasonal naive
    temperature: np.ndarray  # °C assumed for each hour (NaN without a temperature tag)
    history_ts: np.ndarray = field(default_factory=lambda: np.empty(0))
    history: np.ndarray = field(
        default_factory=lambda: np.empty(0)
    )  # actual Sm³ per hour (last days)
    trained_at: float = 0.0
    training_hours: int = 0
    residual_std: float = float("nan")
    mape: dict[str, float] = field(default_factory=dict)  # model -> day-ahead MAPE %, last 7 days
    note: str = ""

    def total(self, hours: int) -> float:
        """Forecast volume over the first ``hours`` hours."""
        return float(np.nansum(self.forecast[:hours]))

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON, the uplink and the UI."""

        def lst(a: np.ndarray) -> list[float | None]:
            return [None if not np.isfinite(v) else round(float(v), 3) for v in a]

        return {
            "issued": self.issued,
            "ts": [float(t) for t in self.ts],
            "forecast": lst(self.forecast),
            "baseline": lst(self.baseline),
            "temperature": lst(self.temperature),
            "trained_at": self.trained_at,
            "training_hours": self.training_hours,
            "mape": {k: round(v, 3) for k, v in self.mape.items() if np.isfinite(v)},
            "note": self.note,
        }
