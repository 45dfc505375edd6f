"""Trend data without widgets: request planning against a real historian, the pen series
(history + live, gaps, readout), and the fetcher dropping stale results."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hmi.ui.trends.fetcher import bucket_width, plan
from hmi.ui.trends.ranges import parse_range, range_text
from hmi.ui.trends.series import Series

DAY = 86400.0


@pytest.mark.parametrize(
    ("span", "width"),
    [(600.0, 0.334), (3600.0, 2.0), (DAY, 60.0), (30 * DAY, 3600.0), (365 * DAY, 18000.0)],
)
def test_bucket_width_snaps_to_rollups(span: float, width: float) -> None:
    assert bucket_width(span, 1800) == width


def test_plan_is_aligned_so_the_historian_keeps_the_width() -> None:
    p = plan(1_000_000_123.4, 1_000_086_523.4, 60.0)
    assert p.start % 60 == 0 and p.start <= 1_000_000_123.4 and p.end >= 1_000_086_523.4
    span_ms = round(p.end * 1000) - round(p.start * 1000) + 1
    assert math.ceil(span_ms / (p.points - 1)) == 60_000  # what Historian.query computes


def test_plans_read_rollups_with_the_planned_width(tmp_path: Any) -> None:
    from hmi.core.historian import Historian

    end = 1_700_006_400.0
    ts = np.arange(end - 3 * DAY, end, 1.0)
    with Historian(tmp_path / "h.db") as h:
        h.bulk_load("p", ts, np.sin(ts / 1000.0))
        for span, source in (
            (600.0, "raw"),
            (6 * 3600.0, "raw"),
            (DAY, "1min"),
            (3 * DAY, "1min"),
            (40 * DAY, "1h"),
        ):
            w = bucket_width(span, 1800)
            p = plan(end - span, end, w)
            d = h.query("p", p.start, p.end, p.points)
            assert d.source == source, span
            if d.decimated:
                assert d.bucket == w and np.all(d.ts % w == 0)


def test_series_joins_history_and_live_and_breaks_on_unknown_time() -> None:
    from hmi.core.historian.model import HistoryData

    t = np.array([100.0, 101.0, 102.0])
    v = np.array([1.0, np.nan, 3.0])
    q = np.array([192, 0, 192], np.uint8)
    hd = HistoryData(t, v, v, v, v, np.ones(3, np.int64), q, q == 0, "raw", 0.0)
    s = Series(live_since=200.0)
    s.set_history(hd, 100.0, 102.0)
    s.append(205.0, 5.0, 192)
    s.append(206.0, 6.0, 64)
    s.append(207.0, 7.0, 0)
    x, y = s.line()
    assert list(x) == [100.0, 101.0, 102.0, 102.0, 205.0, 206.0, 207.0]
    assert np.isnan(y[1]) and np.isnan(y[3]) and np.isnan(y[6])  # BAD, unknown time, BAD
    assert s.value_at(100.5, 210).value == 1.0
    assert s.value_at(101.5, 210).quality == 0
    assert s.value_at(150.0, 210) is None  # between the history and the live feed
    r = s.value_at(206.5, 210)
    assert r.value == 6.0 and r.quality == 64
    assert s.hold() is None  # the newest value is BAD: nothing held
    s.append(208.0, 8.0, 192)
    assert s.hold() == (208.0, 8.0)
    s.set_history(hd, 100.0, 206.5)  # history reaching into the live part: no break
    x, _y = s.line()
    assert list(x) == [100.0, 101.0, 102.0, 207.0, 208.0]


def test_series_capacity_keeps_the_newest() -> None:
    s = Series(live_since=0.0, capacity=2048)
    for i in range(5000):
        s.append(float(i + 1), float(i), 192)
    assert s.live_count <= 2048 and s.latest() == (5000.0, 4999.0, 192)
    assert s.live_since > 0


def test_range_texts() -> None:
    assert (
        parse_range("8h") == 8 * 3600
        and parse_range("30d") == 30 * DAY
        and parse_range("1y") == 365 * DAY
    )
    assert parse_range("bogus", 42.0) == 42.0
    assert range_text(600) == "10m" and range_text(7 * DAY) == "7d" and range_text(5400) == "90m"


def test_fetcher_drops_stale_results(qapp: Any, qtbot: Any, tmp_path: Any) -> None:
    from hmi.core.historian import Historian
    from hmi.ui.tasks import wait_pool
    from hmi.ui.trends.fetcher import Fetcher

    end = 1_700_006_400.0
    ts = np.arange(end - DAY, end, 1.0)
    h = Historian(tmp_path / "h.db")
    try:
        h.bulk_load("p", ts, np.cos(ts / 500.0))
        f = Fetcher(h)
        got: list[tuple[int, dict]] = []
        f.sigFetched.connect(lambda rid, res, _p: got.append((rid, res)))
        old = f.fetch(["p"], plan(end - DAY, end, 60.0))
        new = f.fetch(["p"], plan(end - 600, end, 1.0))
        qtbot.waitUntil(lambda: not f.busy, timeout=15000)
        fresh = {rid: res for rid, res in got}
        assert fresh[new]["p"].source == "raw" and len(fresh[new]["p"]) == 600
        assert old not in fresh or fresh[old] == {}  # the older request never lands
        f.deleteLater()
    finally:
        wait_pool()
        h.close()


def test_cli_trend_export_writes_bad_as_empty_and_reports_an_unwritable_file(
    tmp_path: Any, capsys: Any
) -> None:
    import csv
    import time

    from hmi.cli import main
    from hmi.core.historian import Historian

    now = time.time()
    ts = np.arange(now - 600, now - 300, 1.0)
    v = np.linspace(0.3, 0.4, len(ts))
    q = np.full(len(ts), 192, np.uint8)
    q[100:130] = 0
    v[100:130] = np.nan
    with Historian(tmp_path / "history.db") as h:
        h.bulk_load("outlet.pressure", ts, v, q)
    out = tmp_path / "t.csv"
    assert (
        main(
            [
                "trend-export",
                "--data-dir",
                str(tmp_path),
                "outlet.pressure",
                "--since",
                "1h",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300 and sum(r["quality"] == "BAD" and r["value"] == "" for r in rows) == 30
    bad_out = tmp_path / "missing" / "t.csv"
    assert (
        main(
            [
                "trend-export",
                "--data-dir",
                str(tmp_path),
                "outlet.pressure",
                "--since",
                "1h",
                "--out",
                str(bad_out),
            ]
        )
        == 1
    )
    assert "cannot write" in capsys.readouterr().err
