"""Retention, disk budget, and a database that cannot be written (full, locked)."""

from __future__ import annotations

import logging
import sqlite3
import time

import numpy as np

from hmi.config.schema import HistorianConfig
from hmi.core.historian import GOOD, Historian
from tests.helpers import wait_until

NOW = float(int(time.time()))
DAY = 86400.0


def _series(h: Historian, name: str, start: float, n: int, step: float = 1.0) -> None:
    ts = start + np.arange(n) * step
    h.bulk_load(name, ts, np.sin(ts), np.full(n, GOOD, np.uint8))


def test_retention_deletes_old_raw_and_keeps_rollups(tmp_path):
    cfg = HistorianConfig(retention_days=5, rollup_retention_days=8)
    with Historian(tmp_path / "h.db", cfg) as h:
        _series(h, "p", NOW - 10 * DAY, 10 * 24 * 60, step=60.0)  # 10 days, one sample a minute
        rep = h.maintain(NOW)
        assert (
            rep["retention_deleted"] > 0
            and h.stats()["retention_deleted"] == rep["retention_deleted"]
        )
        raw = h.raw("p", 0, NOW)
        assert raw.ts.min() >= NOW - 5 * DAY and raw.ts.max() == NOW - 60
        con = sqlite3.connect(tmp_path / "h.db")
        oldest_1m = con.execute("SELECT min(bucket) FROM rollup_1m").fetchone()[0] / 1000
        con.close()
        assert NOW - 8 * DAY <= oldest_1m < NOW - 5 * DAY  # rollups outlive raw samples
        d = h.query("p", NOW - 8 * DAY, NOW, 100)  # an 8-day trend still has its shape
        assert d.source == "1h" and d.ts.min() < NOW - 6 * DAY


def test_disk_budget_deletes_oldest_raw_first_and_nothing_else(tmp_path):
    other = tmp_path / "alarms.db"  # the alarm journal lives next to history.db
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY, ts REAL)")
    con.executemany("INSERT INTO journal (ts) VALUES (?)", [(NOW - i,) for i in range(1000)])
    con.commit()
    con.close()
    before = other.read_bytes()
    cfg = HistorianConfig(disk_budget_mb=1.0, retention_days=400)
    with Historian(tmp_path / "history.db", cfg) as h:
        _series(h, "a", NOW - 2 * DAY, 60_000, step=2.0)  # ~2 MB of raw samples
        _series(h, "b", NOW - 2 * DAY, 60_000, step=2.0)
        rep = h.maintain(NOW)
        assert rep["budget_deleted"] > 0 and "raw samples" in rep["budget_cutoffs"]
        assert rep["used_bytes"] <= 1.0 * 1024 * 1024
        for name in ("a", "b"):
            raw = h.raw(name, 0, NOW)
            assert (
                0 < len(raw) < 60_000 and raw.ts.max() == NOW - 2 * DAY + 59_999 * 2.0
            )  # newest kept
            assert raw.ts.min() > NOW - 2 * DAY  # the oldest went first
        con = sqlite3.connect(tmp_path / "history.db")
        assert (
            con.execute("SELECT min(bucket) FROM rollup_1h").fetchone()[0] / 1000 <= NOW - 2 * DAY
        )
        con.close()
    assert other.read_bytes() == before


def test_disk_full_keeps_batch_queued_reports_and_recovers(tmp_path, caplog):
    cfg = HistorianConfig(flush_interval=0.05)
    h = Historian(tmp_path / "history.db", cfg, max_queued=30_000)
    try:
        h.start()
        (tid,) = h.tag_ids(["p"])
        h.write(np.full(100, tid), NOW - 1000 + np.arange(100.0), np.ones(100), np.full(100, GOOD))
        assert h.flush()
        pages = h._store.execute("PRAGMA page_count")[0][0]
        # a tiny disk (reaching into the store for its connection: max_page_count is per connection)
        h._store.execute(f"PRAGMA max_page_count = {pages + 1}")
        with caplog.at_level(logging.ERROR, logger="hmi.core.historian"):
            for k in range(5):
                h.write(
                    np.full(10_000, tid),
                    NOW - 900 + k * 100 + np.arange(10_000) * 0.01,
                    np.full(10_000, 2.0),
                    np.full(10_000, GOOD),
                )
            wait_until(lambda: h.stats()["failing"], timeout=20, what="the disk-full error")
            st = h.stats()
            assert "full" in st["last_error"] and st["queue_depth"] > 0
            # bounded memory: 50,000 written, 30,000 kept, the oldest dropped and counted
            wait_until(
                lambda: h.stats()["dropped"] == 20_000, timeout=20, what="oldest samples dropped"
            )
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("history.db" in m and "full" in m for m in errors), errors
        assert len(errors) <= 3  # logged once per state change, not on every retry
        assert len(h.raw("p", 0, NOW)) == 100  # nothing committed is lost
        h._store.execute("PRAGMA max_page_count = 1073741823")  # space again
        assert h.flush(timeout=30)
        st = h.stats()
        assert not st["failing"] and st["queue_depth"] == 0
        raw = h.raw("p", 0, NOW)
        assert (
            len(raw) == 100 + 30_000 and raw.ts.max() == NOW - 900 + 400 + 9999 * 0.01
        )  # the newest survived
    finally:
        h.close()


def test_locked_database_is_retried(tmp_path, caplog):
    h = Historian(tmp_path / "history.db", HistorianConfig(flush_interval=0.05), busy_timeout=0.1)
    blocker = sqlite3.connect(tmp_path / "history.db", isolation_level=None)
    try:
        h.start()
        (tid,) = h.tag_ids(["p"])
        blocker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        with caplog.at_level(logging.ERROR, logger="hmi.core.historian"):
            h.write([tid], [NOW - 5], [1.0], [GOOD])
            wait_until(
                lambda: "locked" in h.stats()["last_error"], timeout=20, what="the locked error"
            )
        assert "history.db" in caplog.text and "locked" in caplog.text
        blocker.execute("COMMIT")
        assert h.flush(timeout=30)
        assert h.raw("p", 0, NOW).value.tolist() == [1.0] and not h.stats()["failing"]
    finally:
        blocker.close()
        h.close()


def test_stop_gives_up_on_a_failing_disk_with_a_clear_error(tmp_path, caplog):
    h = Historian(tmp_path / "history.db", HistorianConfig(flush_interval=0.05))
    h.start()
    (tid,) = h.tag_ids(["p"])
    pages = h._store.execute("PRAGMA page_count")[0][0]
    h._store.execute(f"PRAGMA max_page_count = {pages}")
    h.write(
        np.full(20_000, tid),
        NOW - 100 + np.arange(20_000) * 0.001,
        np.ones(20_000),
        np.full(20_000, GOOD),
    )
    with caplog.at_level(logging.ERROR, logger="hmi.core.historian"):
        h.stop(flush=True, timeout=0.5)
    assert "not written" in caplog.text and "history.db" in caplog.text
    assert h.stats()["dropped"] == 20_000 and not h.stats()["running"]
    h.close()
