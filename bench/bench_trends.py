"""Trend benchmark: range switching and panning over a year of 1 s history.

Data: ``--days`` (365) of 1 s data for ``--tags`` (4) tags, built with
``Historian.bulk_load`` by :func:`bench.bench_historian.build` (a year: ~3.5 min, 3.7 GB;
``--dir`` keeps the database and a second run reuses it).

Prints
* **range switch**: the trend plot (4 pens, offscreen at ``--size``) in history mode shows
  10 min, 24 h, 30 d and 1 y ending at the newest data; time from the request
  (``set_range``) until every pen's history arrived from the worker threads, was handed to
  the curves and the plot was painted. Cold (first time) and the median / max of
  ``--repeats`` rounds. Baseline in the same run: the bare ``Historian.query`` calls of the
  same requests, one after the other on one thread, without any drawing;
* **panning**: the view is dragged programmatically (``ViewBox.translateBy``, what a mouse
  drag does) by 1/100 of the span every 16 ms for ``--pan`` seconds at 24 h and at 30 d,
  while a 10 ms timer measures how late the GUI event loop runs (p50 / p99 / max), with the
  refetches the panning causes (debounced, off the GUI thread). Baseline: the same timer in
  the idle event loop.

``python -m bench.bench_trends --dir /var/tmp/gas-hmi-trends`` (reuses a database built by
this benchmark or by ``bench_historian`` with the same ``--dir``).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.bench_gui import LagProbe, pct, pump  # noqa: E402
from bench.bench_historian import DAY, build  # noqa: E402

RANGES = (("10 min", 600.0), ("24 h", DAY), ("30 d", 30 * DAY), ("1 y", 365 * DAY))


def _tags(n: int) -> list[Any]:
    from hmi.config.schema import AlarmConfig, TagConfig

    return [
        TagConfig(
            name=f"pressure{i}",
            device="bench",
            address=f"hr:{2 * i}:f32",
            unit="MPa",
            range=(0.0, 0.6),
            precision=3,
            alarms=[
                AlarmConfig(kind="H", limit=0.42, priority=3),
                AlarmConfig(kind="HH", limit=0.47, priority=1),
            ],
        )
        for i in range(n)
    ]


def _wait_rendered(plot: Any, rid: int, timeout: float = 60.0) -> None:
    from PySide6.QtCore import QCoreApplication

    deadline = time.perf_counter() + timeout
    while plot.last_rid < rid or plot.fetcher.busy:
        QCoreApplication.processEvents()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"request {rid} not drawn within {timeout:.0f} s")
        time.sleep(0.0005)


def range_switch(plot: Any, end: float, repeats: int) -> dict[str, list[float]]:
    """Request -> data drawn -> painted, for each range; first value is the cold one."""
    out: dict[str, list[float]] = {label: [] for label, _s in RANGES}
    for _round in range(repeats + 1):
        for label, span in RANGES:
            t0 = time.perf_counter()
            plot.set_range(end - span, end)
            rid = plot.fetcher._rid
            _wait_rendered(plot, rid)
            plot.viewport().repaint()  # synchronous paint of the new data
            out[label].append((time.perf_counter() - t0) * 1000.0)
    return out


def bare_queries(
    hist: Any, plot: Any, end: float, names: list[str], repeats: int
) -> dict[str, float]:
    """The same historian requests, sequential, no GUI: median ms per range."""
    from hmi.ui.trends.fetcher import bucket_width, plan
    from hmi.ui.widgets.trend import MARGIN

    res = {}
    for label, span in RANGES:
        w = bucket_width(span, plot.pixels())
        p = plan(end - span - span * MARGIN, min(end + span * MARGIN, time.time() + w), w)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for n in names:
                hist.query(n, p.start, p.end, p.points)
            times.append((time.perf_counter() - t0) * 1000.0)
        res[label] = statistics.median(times)
    return res


def panning(plot: Any, end: float, span: float, seconds: float) -> tuple[list[float], int]:
    """Drag the view by span/100 every 16 ms; (event-loop lags, refetches)."""
    from PySide6.QtCore import QTimer

    plot.set_range(end - span - span * seconds * 0.6, end - span * seconds * 0.6)
    _wait_rendered(plot, plot.fetcher._rid)
    first = plot.fetcher._rid
    vb = plot.plotItem.vb
    step = QTimer()
    step.timeout.connect(lambda: vb.translateBy(x=span / 100.0))
    probe = LagProbe()
    probe.start()
    step.start(16)
    pump(seconds)
    step.stop()
    probe.stop()
    _wait_rendered(plot, plot.fetcher._rid)
    return probe.lags, plot.fetcher._rid - first


def main(argv: list[str] | None = None) -> int:
    """Entry point (``python -m bench.bench_trends --help``)."""
    ap = argparse.ArgumentParser(prog="bench_trends", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--days", type=float, default=365.0, help="days of 1 s data per tag (default 365)"
    )
    ap.add_argument("--tags", type=int, default=4, help="pens / tags (default 4)")
    ap.add_argument(
        "--dir", type=Path, default=None, help="keep the database here (reused by the next run)"
    )
    ap.add_argument(
        "--size", default="1920x1080", help="window size; the plot gets the trends page's share"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pan", type=float, default=8.0, help="seconds of panning per span")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench_trends_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        start, end = build(work / "query.db", args.days, args.tags)
        run(args, work / "query.db", start, end)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def run(args: argparse.Namespace, path: Path, start: float, end: float) -> None:
    """Measure and print."""
    from hmi.config.schema import HistorianConfig
    from hmi.core.historian import Historian
    from hmi.ui import theme
    from hmi.ui.app import create_app
    from hmi.ui.tasks import wait_pool
    from hmi.ui.widgets.trend import TrendPlot

    app = create_app()
    theme.install(app, "light")
    w, h = (int(v) for v in args.size.split("x"))
    hist = Historian(
        path, HistorianConfig(retention_days=3650, disk_budget_mb=1e6)
    )  # not started: read only
    names = [f"pressure{i}" for i in range(args.tags)]
    plot = TrendPlot(_tags(args.tags), 600.0, legend=False, historian=hist, interactive=True)
    plot.resize(w - 40, h - 330)  # the plot's share of the trends page
    plot.show()
    pump(0.5)
    try:
        print(
            f"trend of {args.tags} pens, {(end - start) / DAY:g} days of 1 s data each, plot {plot.pixels()} px wide"
        )
        idle = LagProbe()
        idle.start()
        pump(3.0)
        idle.stop()
        times = range_switch(plot, end, args.repeats)
        bare = bare_queries(hist, plot, end, names, args.repeats)
        print(
            "range switch: request -> all pens drawn and painted (history mode, ending at the newest data)"
        )
        for label, span in RANGES:
            if span > end - start + 1:
                continue
            t = times[label]
            pen = plot.pens[names[0]]
            print(
                f"  {label:>7}: cold {t[0]:7.1f} ms  median {statistics.median(t[1:]):7.1f} ms  max {max(t[1:]):7.1f} ms"
                f"   | bare queries (sequential) {bare[label]:7.1f} ms"
            )
        for label, span in RANGES:
            plot.set_range(end - span, end)
            _wait_rendered(plot, plot.fetcher._rid)
            pen = plot.pens[names[0]]
            print(
                f"  {label:>7}: source {pen.series.source:>4}, bucket {pen.series.bucket:g} s, rows/pen {len(pen.series.rows()['t0'])}"
            )
        b = idle.lags
        print(
            f"event-loop lag, idle (baseline)   p50 {pct(b, 50):6.2f} ms  p99 {pct(b, 99):6.2f} ms  max {max(b):6.1f} ms"
        )
        for label, span in (("24 h", DAY), ("30 d", 30 * DAY)):
            lags, fetches = panning(plot, end, span, args.pan)
            print(
                f"panning {label:>5} ({args.pan:g} s, {fetches} refetches)  p50 {pct(lags, 50):6.2f} ms  "
                f"p99 {pct(lags, 99):6.2f} ms  max {max(lags):6.1f} ms  (p99 ratio to idle {pct(lags, 99) / max(pct(b, 99), 0.01):.1f})"
            )
    finally:
        plot.close()
        wait_pool(60000)
        hist.close()


if __name__ == "__main__":
    raise SystemExit(main())
