"""The start-up check on real SQLite files: which files it checks, and what salvage keeps."""

from __future__ import annotations

import os
import sqlite3

from hmi.core import dbcheck
from hmi.core.dbcheck import check_databases, mark_clean, quick_check


def _make(path, n=3000, without_rowid=False):
    con = sqlite3.connect(path)
    tail = " WITHOUT ROWID" if without_rowid else ""
    con.execute(f"CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT){tail}")
    con.execute("CREATE INDEX ix_v ON t (v)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?)", [(i, f"row {i:06d}" * 8) for i in range(1, n + 1)]
    )
    con.commit()
    con.close()


def _leaf_of(path, table, nth):
    """Page number of the ``nth`` leaf page of ``table`` (SQLite's dbstat)."""
    con = sqlite3.connect(path)
    pages = [
        p
        for (p,) in con.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY path", (table,)
        )
    ]
    con.close()
    return pages[nth]


def _clobber(path, page_no):
    with open(path, "r+b") as f:
        f.seek((page_no - 1) * 4096)
        f.write(os.urandom(4096))


def test_unchanged_large_file_is_not_rechecked_after_a_clean_stop(tmp_path, monkeypatch):
    monkeypatch.setattr(dbcheck, "ALWAYS_CHECK_BYTES", 0)  # every file counts as large here
    _make(tmp_path / "history.db")
    mark_clean(tmp_path)
    _clobber(tmp_path / "history.db", 20)
    os.utime(tmp_path / "history.db", ns=(0, dbcheck._fingerprint(tmp_path / "history.db")[1]))
    # same size; mtime put back as a clean stop left it: trusted, not read
    mark_clean(tmp_path)
    assert check_databases(tmp_path) == []
    # no clean-stop record (the last run crashed): checked, found, repaired
    reps = check_databases(tmp_path)
    assert [r.stem for r in reps] == ["history"]
    assert quick_check(tmp_path / "history.db") == "ok"


def test_changed_file_is_checked_even_after_a_clean_stop(tmp_path, monkeypatch):
    monkeypatch.setattr(dbcheck, "ALWAYS_CHECK_BYTES", 0)
    _make(tmp_path / "alarms.db")
    mark_clean(tmp_path)
    _clobber(tmp_path / "alarms.db", 15)  # the write changes the mtime
    reps = check_databases(tmp_path)
    assert [r.stem for r in reps] == ["alarms"] and reps[0].damaged.exists()


def test_salvage_steps_over_a_damaged_page_in_rowid_and_without_rowid_tables(tmp_path):
    for i, wr in enumerate((False, True)):
        d = tmp_path / str(i)
        d.mkdir()
        _make(d / "outbox.db", without_rowid=wr)
        _clobber(d / "outbox.db", _leaf_of(d / "outbox.db", "t", 12))
        con = sqlite3.connect(f"file:{d / 'outbox.db'}?mode=ro", uri=True)
        readable = set()
        for k in range(1, 3001):
            try:
                if con.execute("SELECT k FROM t WHERE k = ?", (k,)).fetchone():
                    readable.add(k)
            except sqlite3.DatabaseError:
                pass
        con.close()
        assert 0 < len(readable) < 3000
        (rep,) = check_databases(d)
        con = sqlite3.connect(d / "outbox.db")
        got = {k for (k,) in con.execute("SELECT k FROM t")}
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"  # index rebuilt
        con.close()
        assert readable <= got and rep.rows["t"] == len(got)
        assert "nothing readable" not in rep.summary()


def test_a_file_that_is_not_a_database_is_set_aside_and_started_empty(tmp_path):
    (tmp_path / "analytics.db").write_bytes(os.urandom(10000))
    (rep,) = check_databases(tmp_path)
    assert rep.salvaged == 0 and rep.damaged.read_bytes()
    assert not (tmp_path / "analytics.db").exists()  # the store creates a fresh one
