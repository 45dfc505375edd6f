"""Start-up database check: the time ``PRAGMA quick_check`` adds for a large history.db.

Builds (or reuses, with ``--dir``) a history.db of ``--size-mb`` (default 1024) in the
historian's own schema, filled with 1 s samples through bare ``executemany``, then prints

* the time of :func:`hmi.core.dbcheck.check_databases` on the folder (what a start after
  a crash or power cut pays: ``PRAGMA quick_check`` of the file, nothing damaged), and
  after a clean stop (file unchanged since: not checked again);
* the time to read the same file sequentially with plain ``read()`` (the I/O floor: no
  check can be faster than reading every page once), and the ratio of the two;
* with ``--salvage``: the time to set aside and salvage a copy with three pages
  overwritten (what a repair costs), and the rows kept.

Both reads run with the file in the page cache (it was just written, or read once to warm
it): the figure for a cold start on a disk is at most the disk's sequential read time on top.

``python -m bench.bench_dbcheck`` (about 2 min and 1 GB in a temp folder);
``python -m bench.bench_dbcheck --size-mb 4096 --dir /var/tmp/dbc`` for a 4 GB file.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from hmi.core.dbcheck import check_databases, mark_clean
from hmi.core.historian.schema import open_engine

ROWS_PER_BATCH = 500_000


def build(path: Path, size_mb: int) -> int:
    """A history.db of at least ``size_mb`` MB; returns its sample count."""
    if path.exists() and path.stat().st_size >= size_mb * 1e6:
        con = sqlite3.connect(path)
        n = int(con.execute("SELECT count(*) FROM samples").fetchone()[0])
        con.close()
        return n
    open_engine(path).dispose()  # the historian's schema, exactly
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    rng = np.random.default_rng(1)
    t0 = int(time.time() - 400 * 86400) * 1000
    n, batch = 0, 0
    while path.stat().st_size < size_mb * 1e6:
        tag = 1 + batch % 50
        ts = t0 + (batch // 50) * ROWS_PER_BATCH * 1000 + np.arange(ROWS_PER_BATCH) * 1000
        v = 0.4 + rng.normal(0.0, 0.01, ROWS_PER_BATCH)
        rows = zip(
            [tag] * ROWS_PER_BATCH, ts.tolist(), v.tolist(), [192] * ROWS_PER_BATCH, strict=True
        )
        con.executemany("INSERT INTO samples VALUES (?, ?, ?, ?)", rows)
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        n += ROWS_PER_BATCH
        batch += 1
    con.close()
    return n


def read_all(path: Path) -> float:
    """Seconds to read ``path`` once, 1 MB at a time."""
    t = time.perf_counter()
    with path.open("rb", buffering=0) as f:
        while f.read(1 << 20):
            pass
    return time.perf_counter() - t


def damage(path: Path) -> None:
    """Overwrite three pages in the middle with random bytes."""
    page = 4096
    n = path.stat().st_size // page
    rng = np.random.default_rng(2)
    with path.open("r+b") as f:
        for frac in (0.3, 0.5, 0.7):
            f.seek(int(n * frac) * page)
            f.write(rng.integers(0, 256, page, dtype=np.uint8).tobytes())


def main(argv: list[str] | None = None) -> None:
    """Build, check, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--dir", type=Path, default=None, help="keep (and reuse) the database here")
    ap.add_argument("--salvage", action="store_true", help="also time the repair of a damaged copy")
    args = ap.parse_args(argv)
    tmp = None
    work = args.dir
    if work is None:
        tmp = tempfile.mkdtemp(prefix="bench-dbcheck-")
        work = Path(tmp)
    work.mkdir(parents=True, exist_ok=True)
    try:
        db = work / "history.db"
        t = time.perf_counter()
        n = build(db, args.size_mb)
        size = db.stat().st_size / 1e6
        print(
            f"history.db: {size:,.0f} MB, {n:,} samples (built/reused in {time.perf_counter() - t:.1f} s)"
        )
        read_all(db)  # warm the page cache the same way for both figures
        base = min(read_all(db) for _ in range(2))
        checks = []
        for _ in range(2):
            t = time.perf_counter()
            assert check_databases(work, ("history",)) == []
            checks.append(time.perf_counter() - t)
        check = min(checks)
        print(f"start-up check (quick_check):  {check:6.2f} s  ({size / check:,.0f} MB/s)")
        print(f"sequential read (I/O floor):   {base:6.2f} s  ({size / base:,.0f} MB/s)")
        print(f"ratio check / read:            {check / base:6.1f}")
        mark_clean(work, ("history",))
        t = time.perf_counter()
        assert check_databases(work, ("history",)) == []
        print(
            f"start after a clean stop:      {time.perf_counter() - t:6.3f} s  (unchanged: not re-checked)"
        )
        if args.salvage:
            bad = work / "salvage"
            bad.mkdir(exist_ok=True)
            shutil.copyfile(db, bad / "history.db")
            damage(bad / "history.db")
            t = time.perf_counter()
            reps = check_databases(bad, ("history",))
            took = time.perf_counter() - t
            rows = reps[0].rows.get("samples", 0) if reps else 0
            print(
                f"damaged copy: set aside and salvaged in {took:.1f} s, {rows:,} of {n:,} samples kept"
            )
            shutil.rmtree(bad)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
