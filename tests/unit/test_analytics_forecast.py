"""Send-out forecast: beats the seasonal-naive baseline; accuracy is tracked in analytics.db.

The synthetic series is built like a city's demand: a daily/weekly shape, a heating load
proportional to heating degrees, weather fronts moving the daily mean temperature by a
few degrees from day to day, and noise. The forecast is judged as it would run: each
day it sees only the past (its temperature outlook comes from the history, not from the
future), and it is compared with the seasonal-naive baseline over the same hours.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hmi.config.schema import StationConfig
from hmi.core.analytics.accuracy import ForecastStore
from hmi.core.analytics.forecast import Calendar, SendOutModel, seasonal_naive, temperature_outlook
from hmi.core.analytics.sendout import SendOutForecaster
from hmi.core.historian import Historian

TZ = "Asia/Shanghai"
HOUR = 3600.0
WEEKDAY = np.array([0.55, 0.50, 0.48, 0.48, 0.52, 0.65, 0.95, 1.30, 1.35, 1.15, 1.05, 1.10,
                    1.15, 1.00, 0.95, 0.95, 1.05, 1.30, 1.45, 1.40, 1.20, 1.00, 0.80, 0.65])  # fmt: skip
WEEKEND = np.array([0.58, 0.52, 0.50, 0.49, 0.50, 0.58, 0.75, 0.95, 1.15, 1.25, 1.20, 1.20,
                    1.25, 1.10, 1.00, 1.00, 1.05, 1.25, 1.40, 1.40, 1.25, 1.05, 0.85, 0.68])  # fmt: skip


def synthetic(days: int, start: float, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hour starts, send-out (Sm³ per hour) and ambient temperature (°C)."""
    rng = np.random.default_rng(seed)
    n = days * 24
    ts = start + HOUR * np.arange(n)
    cal = Calendar(TZ)
    hod, daytype = cal.features(ts)
    # weather fronts: the daily mean wanders (AR(1) around 4 °C, ±3 °C day to day)
    daily = np.empty(days)
    daily[0] = 4.0
    for d in range(1, days):
        daily[d] = 4.0 + 0.75 * (daily[d - 1] - 4.0) + rng.normal(0.0, 3.0)
    mean = np.interp(np.arange(n) / 24.0, np.arange(days) + 0.5, daily)
    temp = mean + 4.0 * np.sin(2 * np.pi * (hod - 9) / 24.0) + rng.normal(0.0, 0.4, n)
    shape = np.where(daytype == 0, WEEKDAY[hod], WEEKEND[hod])
    y = (
        22000.0
        * shape
        * (1.0 + 0.04 * np.maximum(18.0 - temp, 0.0) - 0.2)
        * (1.0 + rng.normal(0.0, 0.02, n))
    )
    return ts, y, temp


def _start(days_back: int) -> float:
    """Local midnight ``days_back`` days before a fixed date (never today's)."""
    day = dt.date(2026, 11, 30) - dt.timedelta(days=days_back)
    return dt.datetime.combine(day, dt.time(0), ZoneInfo(TZ)).timestamp()


FIXED_START = dt.datetime(
    2025, 11, 3, tzinfo=ZoneInfo(TZ)
).timestamp()  # a Monday: same weekdays every run


def test_forecast_beats_the_seasonal_naive_baseline():
    start = FIXED_START
    ts, y, temp = synthetic(70, start)
    cal = Calendar(TZ)
    horizon = 48
    errs_model, errs_naive = [], []
    for origin_day in range(42, 68):  # one forecast a day at 06:00 over the last ~4 weeks
        k0 = origin_day * 24 + 6
        past = slice(k0 - 28 * 24, k0)
        future = slice(k0, k0 + horizon)
        model = SendOutModel(cal, 18.0).fit(ts[past], y[past], temp[past])
        outlook = temperature_outlook(ts[past], temp[past], ts[future], cal)
        f = model.predict(ts[future], outlook)
        b = seasonal_naive(ts[:k0], y[:k0], ts[future])
        errs_model.append(np.abs(f - y[future]) / y[future])
        errs_naive.append(np.abs(b - y[future]) / y[future])
    mape_model = 100 * float(np.mean(errs_model))
    mape_naive = 100 * float(np.mean(errs_naive))
    print(
        f"MAPE over 26 forecasts of 48 h: regression {mape_model:.1f} %, seasonal naive {mape_naive:.1f} %"
    )
    assert mape_model < 0.75 * mape_naive
    assert mape_model < 12.0


def test_temperature_sensitivity_is_learnt():
    start = FIXED_START
    ts, y, temp = synthetic(28, start, seed=3)
    cal = Calendar(TZ)
    model = SendOutModel(cal, 18.0).fit(ts, y, temp)
    tue_noon = ts[(cal.features(ts)[0] == 12) & (cal.features(ts)[1] == 0)][:1]
    cold = model.predict(tue_noon, np.array([-5.0]))[0]
    mild = model.predict(tue_noon, np.array([10.0]))[0]
    # truth: 22000 * 1.15 * 0.04 per degree = ~1012 Sm³/h per °C at noon on a weekday
    assert (cold - mild) / 15.0 == pytest.approx(1012.0, rel=0.15)


def test_calendar_day_types_and_holidays():
    tz = ZoneInfo(TZ)
    sat = dt.datetime(2026, 10, 3, 12, tzinfo=tz).timestamp()
    holiday = dt.datetime(2026, 10, 1, 12, tzinfo=tz).timestamp()  # a Thursday, National Day
    cal = Calendar(TZ, [dt.date(2026, 10, 1)])
    hod, day = cal.features(np.array([sat, sat + 86400.0, holiday, holiday - 86400.0]))
    assert hod.tolist() == [12, 12, 12, 12]
    assert day.tolist() == [1, 2, 2, 0]


def test_accuracy_store_mape(tmp_path):
    store = ForecastStore(tmp_path / "analytics.db")
    try:
        t0 = 1_800_000_000.0
        store.record("regression", t0, [t0 + 3600, t0 + 7200, t0 + 90000], [110.0, 90.0, 50.0])
        store.record("seasonal_naive", t0, [t0 + 3600, t0 + 7200], [150.0, np.nan])
        store.record_actuals([t0 + 3600, t0 + 7200, t0 + 90000], [100.0, 100.0, 100.0])
        value, n = store.mape("regression", t0, t0 + 100000)
        assert n == 2 and value == pytest.approx(10.0)  # the 25-hour-ahead one is not day-ahead
        value, n = store.mape("seasonal_naive", t0, t0 + 100000)
        assert n == 1 and value == pytest.approx(50.0)
        ts, v = store.day_ahead("regression", t0, t0 + 100000)
        assert ts.tolist() == [t0 + 3600, t0 + 7200, t0 + 90000] and v.tolist() == [
            110.0,
            90.0,
            50.0,
        ]
        store.prune(t0 + 200 * 86400)
        assert store.mape("regression", 0, 2e9)[1] == 0
    finally:
        store.close()


def _station(forecast: dict | None = None) -> StationConfig:
    tags = [
        {"name": n, "device": "fc", "address": "x", "history": {"mode": "periodic", "interval": 60}}
        for n in ("m1.total.std", "m2.total.std", "ambient.temperature")
    ]
    return StationConfig.model_validate(
        {
            "station": {"id": "t", "name": "T", "timezone": TZ},
            "tags": tags,
            "analytics": {
                "meters": [
                    {"id": "m1", "total": "m1.total.std"},
                    {"id": "m2", "total": "m2.total.std", "rollover": 1e8},
                ],
                "forecast": forecast
                or {"ambient": "ambient.temperature", "horizon_h": 48, "history_days": 28},
            },
        }
    )


def _load_history(hist: Historian, ts: np.ndarray, y: np.ndarray, temp: np.ndarray) -> None:
    """Totals every minute (meter 2 wraps at 1e8), ambient every minute, from hourly truth."""
    minute = ts[0] + 60.0 * np.arange(len(ts) * 60 + 1)
    cum = np.concatenate([[0.0], np.cumsum(y)])
    total = np.interp(minute, np.append(ts, ts[-1] + HOUR), cum)
    hist.bulk_load("m1.total.std", minute, np.floor(4.0e9 + 0.5 * total))
    hist.bulk_load("m2.total.std", minute, np.floor(9.99e7 + 0.5 * total) % 1e8)
    hist.bulk_load("ambient.temperature", minute, np.interp(minute, ts + 1800.0, temp))


def test_forecaster_on_history_tracks_its_accuracy(tmp_path):
    start = _start(40)
    ts, y, temp = synthetic(36, start, seed=11)
    cut = 30 * 24  # the station "now" is day 30, 00:00
    hist = Historian(tmp_path / "history.db")
    store = ForecastStore(tmp_path / "analytics.db")
    try:
        _load_history(hist, ts, y, temp)
        fc = SendOutForecaster(_station(), hist, store)
        now = ts[cut] + 120.0
        assert fc.retrain(now)
        sent, _, _ = fc.hourly(ts[cut - 24], ts[cut])
        assert np.allclose(
            fc.hourly(ts[cut - 24], ts[cut])[1], y[cut - 24 : cut], rtol=2e-3
        )  # across the rollover
        assert len(sent) == 24
        for k in range(0, 48, 1):  # an hour passes between issues, as the service would run them
            res = fc.issue(ts[cut + k] + 120.0)
        assert len(res.ts) == 48 and res.ts[0] == ts[cut + 47] and not res.note
        assert np.isfinite(res.forecast).all() and (res.forecast > 0).all()
        assert set(res.mape) == {"regression", "seasonal_naive"}
        # two days of scored forecasts: the figures are tracked, not yet meaningful
        assert all(0.0 < v < 25.0 for v in res.mape.values())
        n_day_ahead = store.mape("regression", ts[cut], ts[cut + 47])[1]
        # target hour j was forecast by every issue k <= j at most 24 h before it
        assert n_day_ahead == sum(min(j, 24) + 1 for j in range(47))
        print(f"tracked day-ahead MAPE: {res.mape}")
    finally:
        store.close()
        hist.close()


def test_forecaster_without_enough_history_gives_the_baseline(tmp_path):
    start = _start(20)
    ts, y, temp = synthetic(10, start, seed=5)
    hist = Historian(tmp_path / "history.db")
    try:
        _load_history(hist, ts, y, temp)
        cfg = _station({"ambient": "ambient.temperature", "min_history_days": 14})
        fc = SendOutForecaster(cfg, hist)
        now = ts[-1] + HOUR + 60.0
        assert not fc.retrain(now)
        res = fc.issue(now)
        assert "not enough history" in res.note
        assert np.array_equal(res.forecast, res.baseline, equal_nan=True)
        assert np.isfinite(res.baseline[:24]).all()
    finally:
        hist.close()
