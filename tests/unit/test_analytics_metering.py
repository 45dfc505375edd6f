"""Metering reports: volumes equal what was generated, across a totalizer rollover; CSV/PDF/CLI.

A simulated day of the demo station (meter 1's totalizer starts 150,000 Sm³ below its
2^32 rollover) is stored through the real tag table into a real history.db; the true
volumes are the model's own floating-point totals at local midnight.

Every date here is fixed (never "today"): the history is synthetic and written with
``bulk_load`` (no writer thread, so no retention pass ever sees it age), and the day's
weekday and demand shape are the same on every run.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hmi.cli import main
from hmi.config import load_station
from hmi.core.alarms.journal import AlarmJournal
from hmi.core.analytics.metering import MeteringReports, day_bounds
from hmi.core.analytics.reportfile import FONT_ENV, FontMissingError, ReportError, write_report
from hmi.core.analytics.series import grid_mean, total_volumes, unwrap_total
from hmi.core.analytics.synthetic import backfill
from hmi.core.historian import Historian
from tests.unit.test_analytics_warnings import analytics_station

TZ = ZoneInfo("Asia/Shanghai")
ROLL = 2.0**32
#: a Sunday whose midnights fall between two stored totalizer samples (60 s apart, 10 s
#: past the minute), with demand changing fast around them: the day this suite once failed
DAY = dt.date(2026, 11, 29)


@pytest.fixture(scope="module")
def day_history(tmp_path_factory):
    """(cfg, data dir, day, true volumes per meter) for one simulated local day."""
    root = tmp_path_factory.mktemp("metering")
    cfg = load_station(analytics_station(root))
    day = DAY
    start, end = day_bounds(day, cfg.station.timezone)
    data = root / "data"
    data.mkdir()
    hist = Historian(data / "history.db")
    params = {"total_start": [ROLL - 150_000.0, 123_456_789.0]}
    m = backfill(cfg, hist, start - 1800.0, 1800.0, seed=9, model_dt=5.0, params=params)
    at_start = list(m.meters.total_std)
    m = backfill(cfg, hist, 0, end - start, model=m)
    at_end = list(m.meters.total_std)
    backfill(cfg, hist, 0, 1800.0, model=m)
    hist.close()
    truth = {"m1": at_end[0] - at_start[0], "m2": at_end[1] - at_start[1]}
    _journal(data / "alarms.db", start)
    return cfg, data, day, truth


def _journal(path: Path, start: float) -> None:
    """A few alarm transitions during the day (and one the day before), through the real journal."""
    j = AlarmJournal(path)
    j.load()
    j.start()
    seq = 0

    def ev(ts: float, alarm: str, prio: int, transition: str, suppressed: bool = False) -> None:
        nonlocal seq
        seq += 1
        j.put(
            {
                "seq": seq,
                "alarm_id": alarm,
                "tag": alarm.rsplit(".", 1)[0],
                "kind": "H",
                "priority": prio,
                "state": "ACTIVE_UNACK",
                "prev_state": "NORMAL",
                "transition": transition,
                "shelved": False,
                "suppressed": suppressed,
                "out_of_service": False,
                "latched": False,
                "ts": ts,
                "value": 1.0,
                "limit": 0.5,
                "user": "",
                "comment": "",
                "remote": False,
                "message": {"en": f"{alarm} high", "zh": f"{alarm}高"},
                "area": "x",
            },
            None,
        )

    ev(start - 60, "flt1.dp.h", 3, "raise")  # yesterday: not counted
    for k in range(3):
        ev(start + 3600 * (k + 1), "flt1.dp.h", 3, "raise")
        ev(start + 3600 * (k + 1) + 30, "flt1.dp.h", 3, "ack")
    ev(start + 40000, "ew.mass_balance.h", 2, "raise")
    # a standby run's take-over, suppressed by design: never shown, so not counted as raised
    ev(start + 41000, "reg2.monitor.position.l", 2, "raise", suppressed=True)
    j.close()


def test_daily_volumes_equal_the_generated_volumes_across_a_rollover(day_history):
    cfg, data, day, truth = day_history
    hist = Historian(data / "history.db", create=False)
    try:
        rep = MeteringReports(cfg, hist, data / "alarms.db").daily(day)
    finally:
        hist.close()
    meters = {m["id"]: m for m in rep["meters"]}
    assert meters["m1"]["rollovers"] == 1 and meters["m2"]["rollovers"] == 0
    assert meters["m1"]["total_end"] < meters["m1"]["total_start"]  # the reading wrapped
    hist = Historian(data / "history.db", create=False)
    try:
        at_edges = {m: _at_boundaries(hist, f"{m}.total.std", day) for m in truth}
    finally:
        hist.close()
    for mid, true_volume in truth.items():
        (start_reading, start_bound), (end_reading, end_bound) = at_edges[mid]
        # the day is the totalizer difference *at* the two midnights, each read between the
        # stored samples either side of it: not the first and last samples inside the day
        assert meters[mid]["volume"] == pytest.approx(end_reading - start_reading, abs=0.06), mid
        # against the model's exact totals: the flow computer's totals are whole Sm³ (the
        # two truncations differ by < 1) and a straight line between samples 60 s apart
        # misses the curvature of the demand by at most |second difference| / 8 per midnight
        tolerance = 1.0 + (start_bound + end_bound) / 8.0 + 0.06
        assert meters[mid]["volume"] == pytest.approx(true_volume, abs=tolerance), mid
        hourly = sum(h["meters"][mid]["volume"] for h in rep["hours"])
        assert hourly == pytest.approx(meters[mid]["volume"], abs=0.5)
    m1_reading_at_start = at_edges["m1"][0][0]
    assert meters["m1"]["total_start"] == np.floor(m1_reading_at_start % ROLL)
    assert meters["m1"]["total_end"] == np.floor(at_edges["m1"][1][0] % ROLL)
    assert len(rep["hours"]) == 24 and rep["complete"]
    assert rep["hours"][0]["label"] == "00:00" and rep["hours"][-1]["label"] == "23:00"
    assert not any(h["estimated"] for h in rep["hours"])
    p = meters["m1"]["pressure"]
    assert 3.6 < p["min"] <= p["avg"] <= p["max"] < 4.2
    assert rep["alarms"]["raised"] == 4 and rep["alarms"]["acknowledged"] == 3
    assert rep["alarms"]["raised_suppressed"] == 1
    assert rep["alarms"]["by_priority"] == {"1": 0, "2": 1, "3": 3, "4": 0}
    assert (
        rep["alarms"]["top"][0]["alarm_id"] == "flt1.dp.h" and rep["alarms"]["top"][0]["count"] == 3
    )


def _at_boundaries(hist: Historian, tag: str, day: dt.date) -> list[tuple[float, float]]:
    """(totalizer at the boundary, curvature bound) at the start and end of ``day``, worked
    out independently of the report: the two stored readings either side of each midnight,
    unwrapped across the 2^32 rollover and joined by a straight line."""
    out = []
    base = None
    for edge in day_bounds(day, "Asia/Shanghai"):
        raw = hist.raw(tag, edge - 300.0, edge + 300.0)
        t, v = raw.ts, raw.value.copy()
        v[1:] += ROLL * np.cumsum(np.diff(v) < -ROLL / 2.0)  # unwrap the rollover
        if base is None:
            base = v[0]
        elif v[0] < base:  # the end of the day lies past the rollover
            v += ROLL
        j = int(np.searchsorted(t, edge, side="right"))
        assert 0 < j < len(t) and t[j - 1] < edge < t[j], "the midnight must lie between samples"
        reading = v[j - 1] + (v[j] - v[j - 1]) * (edge - t[j - 1]) / (t[j] - t[j - 1])
        second_difference = float(np.abs(np.diff(v[j - 2 : j + 2], 2)).max())
        out.append((float(reading), second_difference))
    return out


def test_report_files_and_cli(day_history, tmp_path):
    cfg, data, day, truth = day_history
    station = Path(cfg.source_dir)
    out_pdf, out_csv = tmp_path / "daily.pdf", tmp_path / "daily.csv"
    args = [
        "report",
        "daily",
        "--data-dir",
        str(data),
        "--station",
        str(station),
        "--date",
        day.isoformat(),
    ]
    assert main([*args, "--out", str(out_pdf)]) == 0
    assert main([*args, "--out", str(out_csv)]) == 0
    assert out_pdf.read_bytes()[:5] == b"%PDF-" and out_pdf.stat().st_size > 10_000
    rows = list(csv.reader(out_csv.open(encoding="utf-8-sig")))
    assert rows[0][:3] == ["station", cfg.station.id, "演示门站"]
    head = next(i for i, r in enumerate(rows) if r and r[0] == "hour")
    hours = rows[head + 1 : head + 25]
    assert [r[0] for r in hours] == [f"{h:02d}:00" for h in range(24)]
    col = rows[head].index("m1 volume Sm3")
    assert sum(float(r[col]) for r in hours) == pytest.approx(truth["m1"], abs=1.5)


def test_cli_refuses_bad_input_with_a_message(day_history, tmp_path, capsys):
    cfg, data, day, _ = day_history
    base = ["report", "daily", "--station", cfg.source_dir]
    assert (
        main(
            [
                *base,
                "--data-dir",
                str(data),
                "--date",
                "2026-13-01",
                "--out",
                str(tmp_path / "x.pdf"),
            ]
        )
        == 1
    )
    assert "not a date" in capsys.readouterr().err
    assert main([*base, "--data-dir", str(data), "--out", str(tmp_path / "x.txt")]) == 1
    assert "unknown report format" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--data-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.csv")])
    assert "no history" in capsys.readouterr().err


def test_missing_font_is_a_clear_message(day_history, tmp_path, monkeypatch):
    cfg, data, day, _ = day_history
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "no-such-font.ttc"))
    hist = Historian(data / "history.db", create=False)
    try:
        rep = MeteringReports(cfg, hist).daily(day)
    finally:
        hist.close()
    with pytest.raises(FontMissingError, match="no such font file"):
        write_report(rep, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()
    with pytest.raises(ReportError, match="unknown report format"):
        write_report(rep, tmp_path / "r.docx")


def test_totalizer_volumes_rollover_reset_gap_and_live_end(tmp_path):
    hist = Historian(tmp_path / "history.db")
    try:
        t0 = time.time() - 86400
        t = t0 + 60.0 * np.arange(181)  # 3 h of minute readings
        flow = 600.0  # Sm³/h = 10 per minute
        cum = 10.0 * np.arange(181)
        vals = (1000.0 - 500.0 + cum) % 1000.0  # wraps at 1000 after 50 minutes
        vals[120:] = cum[120:] - cum[120]  # the flow computer was reset to 0 at 2 h
        keep = np.ones(181, bool)
        keep[65:95] = False  # a 30-minute gap in the readings
        hist.bulk_load("tot", t[keep], vals[keep])
        edges = t0 + 3600.0 * np.arange(4)
        v = total_volumes(hist, "tot", edges, 1000.0, hold=120.0)
        # hour 2 ends with the reset: the 10 Sm³ counted between the last reading and it are lost
        assert v.volume.tolist() == pytest.approx([600.0, 590.0, 600.0])
        assert v.estimated.tolist() == [False, False, False]  # no edge falls in the gap
        v = total_volumes(hist, "tot", np.array([t0, t0 + 4500.0]), 1000.0, hold=120.0)
        assert v.volume[0] == pytest.approx(750.0) and v.estimated[0]
        # a live window ending after the last reading is carried on at the last rate
        v = total_volumes(
            hist, "tot", np.array([t0 + 9000.0, t[-1] + 90.0]), 1000.0, hold=120.0, extend=120.0
        )
        assert v.volume[0] == pytest.approx(flow * (t[-1] + 90.0 - t0 - 9000.0) / 3600.0)
        assert np.isnan(
            total_volumes(hist, "tot", np.array([t0, t[-1] + 90.0]), 1000.0, hold=120.0).volume[0]
        )
    finally:
        hist.close()
    readings = np.array([980.0, 990.0, 5.0, 20.0, 3.0, 18.0])
    # without times: a big drop is a rollover, a small one a reset
    assert unwrap_total(readings, 1000.0).tolist() == [980.0, 990.0, 1005.0, 1020.0, 1023.0, 1038.0]
    # with times: the rate (15 per step) decides, also for a reset from high up
    high = np.array([700.0, 715.0, 730.0, 12.0, 27.0])
    assert unwrap_total(high, 1000.0, np.arange(5.0)).tolist() == [
        700.0,
        715.0,
        730.0,
        742.0,
        757.0,
    ]
    assert unwrap_total(np.array([970.0, 985.0, 0.0, 15.0]), 1000.0, np.arange(4.0)).tolist() == [
        970.0,
        985.0,
        1000.0,
        1015.0,
    ]


def test_time_weighted_means_hold_values_and_skip_bad(tmp_path):
    hist = Historian(tmp_path / "history.db")
    try:
        t0 = float(int(time.time()) - 7200)
        hist.bulk_load(
            "p",
            np.array([t0, t0 + 600.0, t0 + 900.0, t0 + 1200.0]),
            np.array([1.0, 3.0, np.nan, 5.0]),
            np.array([192, 192, 0, 192], np.uint8),
        )
        g = grid_mean(hist, "p", np.array([t0, t0 + 1200.0, t0 + 1800.0]), hold=900.0)
        # 600 s at 1, 300 s at 3, 300 s BAD -> (600 + 900) / 900; then 5 held for 600 s
        assert g.mean.tolist() == pytest.approx([1500.0 / 900.0, 5.0])
        assert g.coverage.tolist() == pytest.approx([0.75, 1.0])
        g = grid_mean(hist, "p", np.array([t0 + 1200.0, t0 + 3600.0]), hold=900.0)
        assert g.coverage[0] == pytest.approx(900.0 / 2400.0)  # a value holds 900 s at most
    finally:
        hist.close()


# --------------------------------------------------------------- fixed dates across a month
#: weekdays and weekends of one month, and the two daylight-saving days of a station in
#: Berlin (23 h and 25 h): the report's day is its local calendar day, whatever its length
MONTH = [
    ("Asia/Shanghai", dt.date(2026, 3, 2)),  # Monday
    ("Asia/Shanghai", dt.date(2026, 3, 6)),  # Friday
    ("Asia/Shanghai", dt.date(2026, 3, 7)),  # Saturday
    ("Asia/Shanghai", dt.date(2026, 3, 15)),  # Sunday
    ("Asia/Shanghai", dt.date(2026, 3, 18)),  # Wednesday
    ("Asia/Shanghai", dt.date(2026, 3, 31)),  # Tuesday, month end
    ("Europe/Berlin", dt.date(2026, 3, 29)),  # Sunday, clocks forward: 23 h
    ("Europe/Berlin", dt.date(2026, 10, 25)),  # Sunday, clocks back: 25 h
]
#: Sm³/s: mean send-out of one run, and the amplitude of its daily swing
FLOW, SWING = 2.5, 1.2
#: s: the on-change history keeps a total after 50 Sm³ or 60 s, whichever comes first; the
#: first sample is 17.3 s off the minute, so no midnight coincides with a stored sample
DEADBAND, MAX_INTERVAL, PHASE = 50.0, 60.0, 17.3


def _total(t: np.ndarray, weekend: bool, t0: float) -> np.ndarray:
    """Exact forward total (Sm³) of a run whose flow swings daily: FLOW·(1 ± 20 % at weekends)
    + SWING·sin(2π·(t - t0)/day) — integrated in closed form."""
    w = 2.0 * np.pi / 86400.0
    level = FLOW * (0.8 if weekend else 1.0)
    return level * (t - t0) + SWING / w * (1.0 - np.cos(w * (t - t0)))


def _sample_times(t: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Which of the fine model times the on-change history policy keeps."""
    keep = [0]
    for k in range(1, len(t)):
        last = keep[-1]
        if total[k] - total[last] >= DEADBAND or t[k] - t[last] >= MAX_INTERVAL:
            keep.append(k)
    return np.asarray(keep)


@pytest.mark.parametrize(("timezone", "day"), MONTH, ids=[f"{d}-{z}" for z, d in MONTH])
def test_daily_volume_is_read_at_the_boundaries_on_fixed_dates(tmp_path, timezone, day):
    """The day's volume is the totalizer at the two midnights, on any weekday or day length."""
    station = analytics_station(tmp_path)
    text = (station / "station.yaml").read_text(encoding="utf-8")
    (station / "station.yaml").write_text(
        text.replace("timezone: Asia/Shanghai", f"timezone: {timezone}"), encoding="utf-8"
    )
    cfg = load_station(station)
    start, end = day_bounds(day, timezone)
    weekend = day.weekday() >= 5
    t0 = start - 7200.0
    t = t0 + PHASE + 1.0 * np.arange(int(end - start + 14400.0))  # the model at 1 s
    exact = {"m1": ROLL - 40_000.0, "m2": 77_000_000.0}  # meter 1 rolls over during the day
    hist = Historian(tmp_path / "history.db")
    truth, naive = {}, {}
    try:
        for mid, offset in exact.items():
            cum = offset + _total(t, weekend, t0)
            keep = _sample_times(t, cum)
            ts, readings = t[keep], np.floor(cum[keep])  # whole Sm³, as the flow computer shows
            hist.bulk_load(f"{mid}.total.std", ts, np.mod(readings, ROLL))
            both = offset + _total(np.array([start, end]), weekend, t0)
            truth[mid] = float(both[1] - both[0])
            inside = (ts >= start) & (ts < end)
            naive[mid] = float(readings[inside][-1] - readings[inside][0])
            assert not np.isin([start, end], ts).any()  # each midnight falls between samples
        rep = MeteringReports(cfg, hist).daily(day)
    finally:
        hist.close()
    assert len(rep["hours"]) == round((end - start) / 3600.0)
    # linear interpolation between samples at most MAX_INTERVAL apart misses a total whose
    # flow changes at most SWING·2π/day per second by max|q'|·h²/8 at each midnight
    curvature = SWING * 2.0 * np.pi / 86400.0 * MAX_INTERVAL**2 / 8.0
    tolerance = 1.0 + 2.0 * curvature + 0.06  # + two truncations to whole Sm³ + rounding
    meters = {m["id"]: m for m in rep["meters"]}
    for mid, true_volume in truth.items():
        assert meters[mid]["volume"] == pytest.approx(true_volume, abs=tolerance), mid
        # the first and last samples inside the day would miss up to a minute at each end
        assert abs(naive[mid] - true_volume) > 10.0 * tolerance, mid
    assert meters["m1"]["rollovers"] == 1 and meters["m2"]["rollovers"] == 0
    assert rep["complete"]
