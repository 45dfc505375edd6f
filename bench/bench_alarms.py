"""Alarm engine benchmark: steady scans of a big station, and a 5,000-alarm flood into the journal.

1. Steady state: a 10,000-tag station (HH/H/L/LL on every tag = 40,000 alarms) scanned with
   no alarm changes; cost of ``AlarmEngine.process`` per full scan.
2. Flood: 5,000 tags cross their H limit in one update. Printed: the engine's processing
   time for that update (what the acquisition loop pays), the time until the journal holds
   all 5,000 rows, and rows/s; against a bare SQLAlchemy ``executemany`` of the same 5,000
   rows into the same table (ratio).

Run: ``python -m bench.bench_alarms [--tags 10000] [--flood 5000] [--reps 5]`` (prints figures;
asserts only that every row arrived, nothing about time).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

from hmi.config.schema import StationConfig
from hmi.core.alarms import AlarmEngine
from hmi.core.alarms.journal import alarm_journal, event_row, metadata, open_db
from hmi.core.tagtable import TagUpdate


def _station(n: int, alarms: list[dict]) -> StationConfig:
    return StationConfig.model_validate(
        {
            "station": {"id": "bench", "name": "bench"},
            "devices": [{"id": "plc", "protocol": "modbus_tcp"}],
            "tags": [
                {"name": f"t{i}", "device": "plc", "address": f"hr:{i}:u16", "alarms": alarms}
                for i in range(n)
            ],
        }
    )


def _update(n: int, value: float) -> TagUpdate:
    now = time.time()
    return TagUpdate(
        np.arange(n, dtype=np.int32),
        np.full(n, value),
        np.full(n, 192, np.uint8),
        np.full(n, now),
        [""] * n,
    )


def steady(tmp: Path, n: int = 10_000) -> None:
    """Full scans of ``n`` tags with 4 limit alarms each and no alarm changes."""
    cfg = _station(
        n,
        [
            {"kind": "HH", "limit": 90},
            {"kind": "H", "limit": 80},
            {"kind": "L", "limit": 20},
            {"kind": "LL", "limit": 10},
        ],
    )
    t0 = time.perf_counter()
    eng = AlarmEngine(cfg, tmp / "steady.db")
    build = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    times = []
    for _ in range(50):
        upd = _update(n, 50.0)
        upd.values[:] = rng.uniform(30, 70, n)  # moving values, all inside the limits
        t = time.perf_counter()
        eng.process(upd)
        times.append(time.perf_counter() - t)
    small = []
    for k in range(200):  # the same station delivered as 100-tag batches (one poll block each)
        start = (k * 100) % (n - 100)
        idx = np.arange(start, start + 100, dtype=np.int32)
        upd = TagUpdate(
            idx,
            rng.uniform(30, 70, 100),
            np.full(100, 192, np.uint8),
            np.full(100, time.time()),
            [""] * 100,
        )
        t = time.perf_counter()
        eng.process(upd)
        small.append(time.perf_counter() - t)
    eng.close()
    print(f"steady state: {n} tags, {4 * n} alarms (engine built in {build * 1000:.0f} ms)")
    print(
        f"  full {n}-tag scan, no changes:  median {statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms"
    )
    print(f"  100-tag batch, no changes:        median {statistics.median(small) * 1e6:.0f} us")


def _flood_once(tmp: Path, cfg: StationConfig, n: int, k: int) -> dict[str, float]:
    eng = AlarmEngine(cfg, tmp / f"flood{k}.db")
    events: list[dict] = []
    eng.add_listener(events.append)
    eng.process(_update(n, 10.0))
    t0 = time.perf_counter()
    eng.process(_update(n, 60.0))
    t_proc = time.perf_counter() - t0
    ok = eng.flush(120)
    t_journal = time.perf_counter() - t0
    t1 = time.perf_counter()
    _version, rows = eng.snapshot()
    t_snap = time.perf_counter() - t1
    eng.close()
    db = open_db(tmp / f"flood{k}.db", readonly=True)
    with db.connect() as conn:
        count = conn.execute(select(func.count()).select_from(alarm_journal)).scalar()
    db.dispose()
    assert ok and count == n and len(events) == n and len(rows) == n, (
        ok,
        count,
        len(events),
        len(rows),
    )

    # baseline: the same 5,000 rows, bare SQLAlchemy Core executemany in one transaction
    base = open_db(tmp / f"baseline{k}.db")
    metadata.create_all(base)
    data = [event_row(e) for e in events]
    t0 = time.perf_counter()
    with base.begin() as conn:
        conn.execute(insert(alarm_journal), data)
    t_base = time.perf_counter() - t0
    base.dispose()
    return {"proc": t_proc, "journal": t_journal, "snap": t_snap, "base": t_base}


def flood(tmp: Path, n: int = 5_000, reps: int = 5) -> None:
    """``n`` alarms raised in one update, all journaled (median of ``reps`` runs)."""
    cfg = _station(n, [{"kind": "H", "limit": 50.0, "priority": 3}])
    runs = [_flood_once(tmp, cfg, n, k) for k in range(reps)]
    med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    ratio = statistics.median(r["journal"] / r["base"] for r in runs)
    print(f"flood: {n} tags cross their H limit in one update (median of {reps} runs)")
    print(f"  engine process() for the update:  {med['proc'] * 1000:.1f} ms (acquisition thread)")
    print(
        f"  until the journal holds all rows: {med['journal'] * 1000:.1f} ms ({n / med['journal']:,.0f} rows/s)"
    )
    print(
        f"  bare SQLAlchemy executemany:      {med['base'] * 1000:.1f} ms ({n / med['base']:,.0f} rows/s)"
    )
    print(
        f"  ratio engine-to-journal / bare:   {ratio:.2f}x (the engine also upserts {n} alarm_state rows)"
    )
    print(f"  first snapshot of {n} rows:       {med['snap'] * 1000:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    """Run both scenarios in a temporary data directory."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tags", type=int, default=10_000, help="steady-state station size (4 alarms a tag)"
    )
    ap.add_argument("--flood", type=int, default=5_000, help="alarms raised in one update")
    ap.add_argument("--reps", type=int, default=5, help="flood repetitions (median)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        steady(tmp, max(args.tags, 200))
        flood(tmp, args.flood, max(args.reps, 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
