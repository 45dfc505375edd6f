"""Historian benchmark: insert rate and trend-query time.

Prints
* the insert rate through ``Historian.write()`` (queue -> writer thread -> batched
  transactions with duplicate checks and rollups) next to a bare ``sqlite3``
  ``executemany`` of the same rows into the same schema (no rollups), and their ratio;
* the rate of ``Historian.bulk_load`` building ``--days`` of 1 s data for ``--tags`` tags;
* query times (cold = first query on a freshly opened historian, warm = median of 5)
  of one tag over 10 min, 24 h, 30 d and, with ``--days 365``, 1 y, decimated to
  ``--points`` (2000) points.

``python -m bench.bench_historian`` (default: 30 days x 4 tags, about a minute);
``python -m bench.bench_historian --days 365 --tags 4 --dir /var/tmp/hb`` for the year
(several minutes and ~4 GB; ``--dir`` keeps the database, a second run reuses it).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hmi.config.schema import HistorianConfig
from hmi.core.historian import Historian
from hmi.core.historian.schema import open_engine

DAY = 86400.0
CHUNK_DAYS = 5  # generate and load this many days at a time (bounded memory)


def _series(
    rng: np.random.Generator, t0: float, n: int, tag: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A plausible pressure signal (MPa) at 1 s, with a comm outage (BAD) every ~3 days."""
    ts = t0 + np.arange(n, dtype=np.float64)
    v = 0.4 + 0.02 * np.sin(ts * (2 * np.pi / DAY) + tag) + rng.normal(0.0, 0.001, n)
    q = np.full(n, 192, np.uint8)
    bad = (ts % (3 * DAY)) < 120  # 2 minutes every 3 days
    q[bad] = 0
    v[bad] = np.nan
    return ts, v, q


def bench_insert(work: Path, n: int, n_tags: int = 100) -> None:
    """Historian.write() vs bare executemany of the same rows."""
    per_scan = n_tags
    scans = n // per_scan
    t0 = time.time() - scans
    ids0 = np.arange(1, n_tags + 1, dtype=np.int32)
    rng = np.random.default_rng(1)
    all_ids = np.tile(ids0, scans)
    all_ts = np.repeat(t0 + np.arange(scans, dtype=np.float64), per_scan)
    all_v = rng.normal(4.0, 0.1, scans * per_scan)
    all_q = np.full(scans * per_scan, 192, np.uint8)
    total = len(all_ts)

    # bare sqlite3: same rows, same table definition, one transaction
    bare_path = work / "bare.db"
    open_engine(bare_path).dispose()
    con = sqlite3.connect(bare_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    s = time.perf_counter()
    rows = zip(
        all_ids.tolist(),
        np.rint(all_ts * 1000).astype(np.int64).tolist(),
        all_v.tolist(),
        all_q.tolist(),
        strict=True,
    )
    con.executemany("INSERT INTO samples (tag_id, ts, value, quality) VALUES (?,?,?,?)", rows)
    con.commit()
    bare = total / (time.perf_counter() - s)
    con.close()

    # through the historian: scans of `per_scan` tags written as the acquisition loop would
    cfg = HistorianConfig()
    with Historian(work / "insert.db", cfg) as h:
        ids = h.tag_ids([f"t{i}" for i in range(n_tags)])
        assert (ids == ids0).all()
        s = time.perf_counter()
        step = per_scan * 10  # 10 scans per write() call
        for i in range(0, total, step):
            h.write(
                all_ids[i : i + step],
                all_ts[i : i + step],
                all_v[i : i + step],
                all_q[i : i + step],
            )
        queued = time.perf_counter() - s
        h.flush(timeout=600)
        dt = time.perf_counter() - s
        st = h.stats()
    rate = st["rows_written"] / dt
    print(f"insert  {total:,} samples ({n_tags} tags x {scans:,} scans)")
    print(f"  bare sqlite3 executemany      {bare:12,.0f} samples/s")
    print(
        f"  Historian.write -> committed  {rate:12,.0f} samples/s  (ratio {rate / bare:.2f}; "
        f"write() calls took {queued:.2f} s, {st['transactions']} transactions)"
    )


def build(path: Path, days: float, n_tags: int) -> tuple[float, float]:
    """Create (or reuse) ``days`` of 1 s data for ``n_tags`` tags; returns (start, end)."""
    n = int(days * DAY)
    end = float(int(time.time()) // 3600 * 3600)  # whole hour: ranges below are easy to read
    start = end - n
    marker = path.with_suffix(".range")
    if path.exists() and marker.exists():
        s, e, d, k = marker.read_text().split()
        if float(d) >= days and int(k) >= n_tags:
            print(f"reusing {path} ({d} days x {k} tags)")
            return float(s), float(e)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    rng = np.random.default_rng(7)
    cfg = HistorianConfig(retention_days=max(400.0, days + 10), disk_budget_mb=1e6)
    stored = 0
    s = time.perf_counter()
    with Historian(path, cfg) as h:
        for tag in range(n_tags):
            for c0 in range(0, n, int(CHUNK_DAYS * DAY)):
                m = min(int(CHUNK_DAYS * DAY), n - c0)
                ts, v, q = _series(rng, start + c0, m, tag)
                stored += h.bulk_load(f"pressure{tag}", ts, v, q)
    dt = time.perf_counter() - s
    size = path.stat().st_size / 1e6
    print(
        f"bulk_load  {days:g} days x {n_tags} tags of 1 s data = {stored:,} samples in {dt:.1f} s "
        f"({stored / dt:,.0f} samples/s), {size:,.0f} MB ({size * 1e6 / max(stored, 1):.1f} B/sample)"
    )
    marker.write_text(f"{start} {end} {days} {n_tags}")
    return start, end


def bench_queries(path: Path, start: float, end: float, points: int) -> None:
    """Cold and warm query times for several ranges ending at the newest data."""
    ranges = [("10 min", 600.0), ("24 h", DAY), ("30 d", 30 * DAY), ("1 y", 365 * DAY)]
    print(
        f"query  one tag, decimated to {points} points (cold = fresh Historian, warm = median of 5)"
    )
    for label, span in ranges:
        if span > end - start + 1:
            continue
        # not started: no writer thread, no retention pass competing with the cold query
        h = Historian(path, HistorianConfig(retention_days=3650, disk_budget_mb=1e6))
        try:
            s = time.perf_counter()
            d = h.query("pressure0", end - span, end, points)
            cold = time.perf_counter() - s
            warm = []
            for _ in range(5):
                s = time.perf_counter()
                d = h.query("pressure0", end - span, end, points)
                warm.append(time.perf_counter() - s)
        finally:
            h.close()
        print(
            f"  {label:>7}: cold {cold * 1000:7.1f} ms  warm {statistics.median(warm) * 1000:7.1f} ms  "
            f"rows {len(d):5d} (buckets {d.buckets}, source {d.source}, bucket {d.bucket:g} s)"
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point (``python -m bench.bench_historian --help``)."""
    ap = argparse.ArgumentParser(prog="bench_historian", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--days", type=float, default=30.0, help="days of 1 s data per tag (365 for the 1 y query)"
    )
    ap.add_argument("--tags", type=int, default=4, help="tags in the query data set")
    ap.add_argument(
        "--insert", type=int, default=1_000_000, help="samples for the insert-rate test"
    )
    ap.add_argument("--points", type=int, default=2000, help="decimation target")
    ap.add_argument(
        "--dir", type=Path, default=None, help="keep the databases here (reused by the next run)"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench_historian_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for p in work.glob("insert.db*"):
            p.unlink()
        for p in work.glob("bare.db*"):
            p.unlink()
        bench_insert(work, args.insert)
        start, end = build(work / "query.db", args.days, args.tags)
        bench_queries(work / "query.db", start, end, args.points)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
