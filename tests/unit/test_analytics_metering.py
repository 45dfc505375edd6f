"""Metering reports: volumes equal what was generated, across a totalizer rollover; CSV/PDF/CLI.

A simulated day of the demo station (meter 1's totalizer starts 150,000 Nm³ below its
2^32 rollover) is stored through the real tag table into a real history.db; the true
volumes are the model's own floating-point totals at local midnight.
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


@pytest.fixture(scope="module")
def day_history(tmp_path_factory):
    """(cfg, data dir, day, true volumes per meter) for one simulated local day."""
    root = tmp_path_factory.mktemp("metering")
    cfg = load_station(analytics_station(root))
    day = dt.datetime.now(TZ).date() - dt.timedelta(days=4)
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

    def ev(ts: float, alarm: str, prio: int, transition: str) -> None:
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
                "suppressed": False,
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
    for mid, true_volume in truth.items():
        # the totals are whole Nm³: each end of the day may lose up to 1 Nm³ to truncation
        assert meters[mid]["volume"] == pytest.approx(true_volume, abs=1.01), mid
        hourly = sum(h["meters"][mid]["volume"] for h in rep["hours"])
        assert hourly == pytest.approx(meters[mid]["volume"], abs=0.5)
    assert rep["station_volume"] == pytest.approx(sum(truth.values()), abs=2.02)
    assert len(rep["hours"]) == 24 and rep["complete"]
    assert rep["hours"][0]["label"] == "00:00" and rep["hours"][-1]["label"] == "23:00"
    assert not any(h["estimated"] for h in rep["hours"])
    p = meters["m1"]["pressure"]
    assert 3.6 < p["min"] <= p["avg"] <= p["max"] < 4.2
    assert rep["alarms"]["raised"] == 4 and rep["alarms"]["acknowledged"] == 3
    assert rep["alarms"]["by_priority"] == {"1": 0, "2": 1, "3": 3, "4": 0}
    assert (
        rep["alarms"]["top"][0]["alarm_id"] == "flt1.dp.h" and rep["alarms"]["top"][0]["count"] == 3
    )


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
    col = rows[head].index("m1 volume Nm3")
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
        flow = 600.0  # Nm³/h = 10 per minute
        cum = 10.0 * np.arange(181)
        vals = (1000.0 - 500.0 + cum) % 1000.0  # wraps at 1000 after 50 minutes
        vals[120:] = cum[120:] - cum[120]  # the flow computer was reset to 0 at 2 h
        keep = np.ones(181, bool)
        keep[65:95] = False  # a 30-minute gap in the readings
        hist.bulk_load("tot", t[keep], vals[keep])
        edges = t0 + 3600.0 * np.arange(4)
        v = total_volumes(hist, "tot", edges, 1000.0, hold=120.0)
        # hour 2 ends with the reset: the 10 Nm³ counted between the last reading and it are lost
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
