"""Analytics benchmark: what one run of each analytics job costs on the demo station.

Fills a fresh data directory with ``--days`` of simulated demo-station history (the
model through the real tag table, as ``gas-hmi report backfill`` does), then times, as
the analytics thread runs them: the nine early-warning detectors (every minute), a
forecast refit on the whole history (every 6 h), an hourly forecast issue (with scoring),
the daily report build and its CSV and PDF files. Baseline for the detectors: bare
``sqlite3`` reading the same raw samples they read (so the ratio is what the
time-weighting and detector logic add on top of fetching the data).

``python -m bench.bench_analytics`` (about a minute), ``--days 15``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hmi.config import load_station  # noqa: E402
from hmi.core.analytics.accuracy import ForecastStore  # noqa: E402
from hmi.core.analytics.metering import MeteringReports  # noqa: E402
from hmi.core.analytics.reportfile import write_report  # noqa: E402
from hmi.core.analytics.sendout import SendOutForecaster  # noqa: E402
from hmi.core.analytics.synthetic import backfill  # noqa: E402
from hmi.core.analytics.warnings import WarningEngine  # noqa: E402
from hmi.core.historian import Historian  # noqa: E402


def timed(fn, n: int) -> float:
    """Median wall time of ``n`` calls, ms."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=15.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gas-hmi-bench-analytics-"))
    try:
        st = tmp / "st"
        shutil.copytree(ROOT / "station_configs" / "demo_city_gate", st)
        if (st / "system.yaml.pending").exists():
            (st / "system.yaml.pending").rename(st / "system.yaml")
        cfg = load_station(st)
        tz = ZoneInfo(cfg.station.timezone)
        end = (
            dt.datetime.combine(dt.datetime.now(tz).date(), dt.time(0), tz).timestamp()
            - 86400.0
            + 13 * 3600
        )
        hist = Historian(tmp / "history.db")
        t = time.perf_counter()
        backfill(cfg, hist, end - args.days * 86400.0, args.days * 86400.0, seed=1, model_dt=5.0)
        fill = time.perf_counter() - t
        size = (tmp / "history.db").stat().st_size / 1e6
        print(
            f"history: {args.days:g} days of {len(cfg.tags)} tags in {fill:.1f} s ({size:.0f} MB)"
        )

        engine = WarningEngine(cfg, hist)
        det = timed(lambda: engine.evaluate(end), 10)
        # baseline: the raw rows the detectors read, fetched with bare sqlite3
        reads = []
        for w in cfg.analytics.warnings:
            for key in ("inlet", "outlet", "flow"):
                reads += [(tag, w.window) for tag in getattr(w, key, []) or []]
            for key in (
                "pressure",
                "dp",
                "temperature",
                "burner_on",
                "setpoint_tag",
                "mass_total",
                "in_service",
            ):
                tag = getattr(w, key, "")
                if tag:
                    reads.append((tag, w.window))
            if w.kind == "ptz_check":
                m = cfg.analytics.meter(w.meter)
                reads += [(x, w.window) for x in (m.flow, m.line_flow, m.pressure, m.temperature)]
        con = sqlite3.connect(tmp / "history.db")
        ids = dict(con.execute("SELECT name, id FROM tags"))

        def bare() -> None:
            for tag, window in reads:
                con.execute(
                    "SELECT ts, value, quality FROM samples WHERE tag_id = ? AND ts BETWEEN ? AND ?",
                    (ids[tag], int((end - window - 900) * 1000), int(end * 1000)),
                ).fetchall()

        base = timed(bare, 10)
        con.close()
        print(
            f"early warnings: {len(engine.detectors)} detectors in {det:.1f} ms per run "
            f"(bare sqlite3 reads of the same samples {base:.1f} ms, ratio {det / base:.1f}x)"
        )

        store = ForecastStore(tmp / "analytics.db")
        fc = SendOutForecaster(cfg, hist, store)
        refit = timed(lambda: fc.retrain(end), 3)
        issue = timed(lambda: fc.issue(end), 5)
        print(
            f"forecast: refit on {fc.model.rows if fc.model else 0} h in {refit:.0f} ms, issue + score in {issue:.0f} ms"
        )

        reports = MeteringReports(cfg, hist)
        day = dt.datetime.fromtimestamp(end, tz).date() - dt.timedelta(days=1)
        build = timed(lambda: reports.daily(day), 5)
        rep = reports.daily(day)
        csv_ms = timed(lambda: write_report(rep, tmp / "r.csv"), 3)
        pdf_ms = timed(lambda: write_report(rep, tmp / "r.pdf"), 3)
        print(f"daily report: build {build:.0f} ms, CSV {csv_ms:.1f} ms, PDF {pdf_ms:.0f} ms")
        store.close()
        hist.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
