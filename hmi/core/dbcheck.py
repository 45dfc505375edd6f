"""Start-up check of the station's SQLite files: a damaged one is set aside and salvaged.

Each of ``history.db``, ``alarms.db``, ``outbox.db``, ``analytics.db`` and ``users.db``
gets ``PRAGMA quick_check`` before anything opens it (O(N) in the file size but without
the index cross-checks of ``integrity_check``; docs/PERFORMANCE.md has the time for a
1 GB history). A file that fails, or that SQLite cannot open as a database at all, is
renamed ``<name>.damaged-<UTC timestamp>`` (with its ``-wal``/``-shm``, so the set stays
consistent for a later manual ``.recover``), and the rows that can still be read are
copied table by table into a fresh file with the same schema. Reading goes in rowid
order in chunks; a chunk that hits a damaged page is retried row by row and unreadable
rowid ranges are skipped, so one bad page costs its own rows, not the table.

Table-by-table salvage needs nothing but Python's sqlite3, so it works the same in the
frozen Windows bundle, where no ``sqlite3`` command-line tool exists. The damaged file
is kept: ``sqlite3 <file> .recover`` can get more out of it by hand.

What a caller does with a :class:`Repair` (system alarm, audit record, the users.db
lock-down) is :mod:`hmi.core.dbrepair`'s business. This module never imports SQLAlchemy.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: the files checked at start, in the order they are checked
DATABASES = ("history", "alarms", "outbox", "analytics", "users")
CHUNK = 5000  # rows read per query while salvaging around damage (row by row, in Python)
CHUNK_FAST = 200_000  # rows copied per statement inside SQLite where the file reads
#: files up to this size are checked at every start (~0.3 s for 64 MB on the reference box)
ALWAYS_CHECK_BYTES = 64 * 1024 * 1024
CLEAN_MARK = "clean-stop.json"  # sizes and mtimes of the files at the last clean stop
MAX_SKIP = 1 << 40  # rowid jumps give up beyond this


@dataclass(slots=True)
class Repair:
    """What the check found in one damaged file and what was saved from it."""

    stem: str  # "history", "users", ...
    path: Path  # the (new, salvaged) file in use from now on
    damaged: Path  # where the damaged file was moved
    problem: str  # quick_check's first complaint, or why SQLite cannot open it
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows salvaged
    lost: dict[str, str] = field(default_factory=dict)  # table -> why nothing could be read
    skipped: dict[str, int] = field(default_factory=dict)  # table -> unreadable rowid ranges
    seconds: float = 0.0

    @property
    def salvaged(self) -> int:
        """Rows copied into the fresh file, all tables."""
        return sum(self.rows.values())

    def summary(self) -> str:
        """One line for the log, the alarm and the audit record."""
        lost = f"; nothing readable in {', '.join(sorted(self.lost))}" if self.lost else ""
        return (
            f"{self.path.name} was damaged ({self.problem}): moved to {self.damaged}, "
            f"{self.salvaged} row(s) salvaged into a fresh {self.path.name}{lost}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the audit record."""
        return {
            "file": str(self.path),
            "damaged_file": str(self.damaged),
            "problem": self.problem,
            "rows": dict(self.rows),
            "salvaged": self.salvaged,
            "lost_tables": dict(self.lost),
            "skipped_ranges": dict(self.skipped),
            "seconds": round(self.seconds, 3),
        }


def quick_check(path: Path) -> str:
    """``"ok"``, or what is wrong with the SQLite file ``path`` (read-only, never changes it)."""
    try:
        con = sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True, timeout=10.0)
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    try:
        rows = [str(r[0]) for r in con.execute("PRAGMA quick_check(3)").fetchall()]
        if rows == ["ok"]:
            return "ok"
        lines = "\n".join(rows).splitlines()
        said = [ln for ln in lines if ln.strip() and not ln.startswith("***")]  # "*** in database"
        return "; ".join(said) or "no answer from quick_check"
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        con.close()


def _fingerprint(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def mark_clean(data_dir: Path, stems: Iterable[str] = DATABASES) -> None:
    """After a clean stop: remember each file's size and mtime (see :func:`check_databases`)."""
    seen = {s: _fingerprint(data_dir / f"{s}.db") for s in stems if (data_dir / f"{s}.db").exists()}
    tmp = data_dir / (CLEAN_MARK + ".tmp")
    try:
        tmp.write_text(json.dumps(seen), encoding="utf-8")
        os.replace(tmp, data_dir / CLEAN_MARK)
    except OSError as exc:  # full disk: the next start checks everything, which is only slower
        log.warning("cannot record the clean stop in %s: %s", data_dir, exc)


def _take_clean_mark(data_dir: Path) -> dict[str, list[int]]:
    """The clean-stop record, removed: a crash during this run forces a full check next time."""
    mark = data_dir / CLEAN_MARK
    try:
        seen = json.loads(mark.read_text(encoding="utf-8"))
        mark.unlink()
    except (OSError, ValueError):
        return {}
    return seen if isinstance(seen, dict) else {}


def check_databases(
    data_dir: Path,
    stems: Iterable[str] = DATABASES,
    now: float | None = None,
    always: bool = False,
) -> list[Repair]:
    """Check every station database in ``data_dir``; repair the damaged ones; list the repairs.

    A file above :data:`ALWAYS_CHECK_BYTES` that has not changed since the last clean stop
    (same size and mtime as :func:`mark_clean` recorded) is not checked again unless
    ``always``: damage comes from a power cut or a crash, after which there is no record.
    """
    out = []
    clean = _take_clean_mark(data_dir)
    for stem in stems:
        path = data_dir / f"{stem}.db"
        if not path.exists() or path.stat().st_size == 0:
            continue  # a missing file is created fresh by its store
        size = path.stat().st_size
        if not always and size > ALWAYS_CHECK_BYTES and clean.get(stem) == _fingerprint(path):
            log.debug("%s unchanged since the last clean stop: not checked", path.name)
            continue
        t0 = time.monotonic()
        problem = quick_check(path)
        took = time.monotonic() - t0
        log.debug("%s: quick_check %s in %.3f s", path.name, problem, took)
        if problem == "ok":
            continue
        repair = repair_file(path, stem, problem, now)
        repair.seconds += took
        log.error("%s", repair.summary())
        out.append(repair)
    return out


def damaged_name(path: Path, now: float | None = None) -> Path:
    """``<name>.damaged-<UTC time>``, unique in its folder."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    return target


def repair_file(path: Path, stem: str, problem: str, now: float | None = None) -> Repair:
    """Move ``path`` aside and salvage what can be read into a fresh file at ``path``."""
    t0 = time.monotonic()
    damaged = damaged_name(path, now)
    os.replace(path, damaged)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, damaged.with_name(damaged.name + suffix))
    repair = Repair(stem, path, damaged, problem[:300])
    # the fresh file keeps the old one's permissions (users.db: owner only) from its first byte
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, damaged.stat().st_mode & 0o777))
    try:
        salvage(damaged, path, repair)
    except sqlite3.Error as exc:  # cannot even read the schema: the store starts empty
        repair.lost["*"] = f"schema unreadable: {exc}"
        for p in (path, path.with_name(path.name + "-journal")):
            p.unlink(missing_ok=True)
    repair.seconds = time.monotonic() - t0
    return repair


def _schema(src: sqlite3.Connection) -> list[tuple[str, str, str]]:
    rows = src.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END"
    ).fetchall()
    return [(str(t), str(n), str(s)) for t, n, s in rows]


def salvage(damaged: Path, fresh: Path, repair: Repair) -> None:
    """Copy the schema and every readable row of ``damaged`` into a new file ``fresh``."""
    src = sqlite3.connect(f"file:{damaged.as_posix()}?mode=ro", uri=True)
    dst = sqlite3.connect(f"file:{fresh.as_posix()}", uri=True, isolation_level=None)
    try:
        schema = _schema(src)
        dst.execute("PRAGMA journal_mode=WAL")
        dst.execute("BEGIN")
        for kind, _name, sql in schema:
            if kind == "table":
                dst.execute(sql)
        dst.execute("COMMIT")
        # the damaged file, attached read-only: healthy stretches are copied inside SQLite
        # (one transaction per statement: SQLite refuses to commit one that met a damaged page)
        dst.execute("PRAGMA synchronous=NORMAL")
        dst.execute("ATTACH DATABASE ? AS old", (f"file:{damaged.as_posix()}?mode=ro",))
        for kind, name, sql in schema:
            if kind == "table":
                _copy_table(src, dst, name, sql, repair)
        dst.execute("DETACH DATABASE old")  # unqualified names below must mean the new file
        dst.execute("BEGIN")
        for kind, name, sql in schema:  # indexes after the rows: faster, and no unique clash
            if kind != "table":
                try:
                    dst.execute(sql)
                except sqlite3.Error as exc:
                    log.warning("salvage %s: %s not rebuilt: %s", fresh.name, name, exc)
        dst.execute("COMMIT")
    finally:
        src.close()
        dst.close()


def _copy_table(
    src: sqlite3.Connection, dst: sqlite3.Connection, table: str, sql: str, rep: Repair
) -> None:
    q = _quote(table)
    try:
        info = src.execute(f"PRAGMA table_info({q})").fetchall()
    except sqlite3.Error as exc:
        rep.lost[table] = str(exc)
        return
    names = [_quote(str(r[1])) for r in info]
    keys = _walk_keys(sql, info)
    n = 0
    try:
        if keys is None:  # no integer key to walk by: a plain scan, up to the first bad page
            insert = f"INSERT OR IGNORE INTO main.{q} VALUES ({', '.join('?' * len(info))})"
            for row in src.execute(f"SELECT * FROM {q}"):
                dst.execute(insert, row)
                n += 1
        else:
            n = _copy_keyed(src, dst, q, keys, names, rep, table)
    except sqlite3.DatabaseError as exc:
        if n == 0:
            rep.lost[table] = str(exc)
    rep.rows[table] = n


def _walk_keys(sql: str, info: list[Any]) -> list[str] | None:
    """Columns to read a table in order by: rowid, or an all-integer primary key."""
    if "WITHOUT ROWID" not in sql.upper():
        return ["rowid"]
    pk = sorted((int(r[5]), str(r[1]), str(r[2]).upper()) for r in info if int(r[5]) > 0)
    if not pk or not all("INT" in t for _, _, t in pk):
        return None
    return [_quote(name) for _, name, _ in pk]


def _copy_keyed(
    src: sqlite3.Connection,
    dst: sqlite3.Connection,
    q: str,
    keys: list[str],
    names: list[str],
    rep: Repair,
    table: str,
) -> int:
    """Copy ``q`` in key order: chunks inside SQLite while they read, row by row (in Python)
    around a damaged page, stepping over what cannot be read. Returns the rows copied."""
    k = len(keys)
    kc = ", ".join(keys)
    rowid = keys == ["rowid"]
    target = ", ".join(["rowid", *names] if rowid else names)  # rowids are kept as they were
    marks = ", ".join("?" * k)
    fast = f"INSERT OR IGNORE INTO main.{q} ({target}) SELECT {target} FROM old.{q}"
    newest = f"SELECT {kc} FROM main.{q} ORDER BY {', '.join(c + ' DESC' for c in keys)} LIMIT 1"
    head = f"SELECT {kc}, * FROM {q}"
    after = f"{head} WHERE ({kc}) > ({marks}) ORDER BY {kc} LIMIT ?"
    insert = f"INSERT OR IGNORE INTO main.{q} ({target}) VALUES ({', '.join('?' * (len(names) + rowid))})"
    last: tuple[int, ...] | None = None
    n = 0
    while True:
        try:
            if last is None:
                cur = dst.execute(f"{fast} ORDER BY {kc} LIMIT ?", (CHUNK_FAST,))
            else:
                cur = dst.execute(
                    f"{fast} WHERE ({kc}) > ({marks}) ORDER BY {kc} LIMIT ?", (*last, CHUNK_FAST)
                )
            if cur.rowcount <= 0:
                return n
            n += cur.rowcount
            last = tuple(int(v) for v in dst.execute(newest).fetchone())
            continue
        except sqlite3.DatabaseError:
            pass  # a damaged page in this stretch: the statement copied nothing
        rows = _row_by_row(src, after, last, k) if last is not None else []
        if not rows:
            row = _next_readable(src, head, keys, last)
            if row is None:
                return n
            rep.skipped[table] = rep.skipped.get(table, 0) + 1
            rows = [row]
        dst.executemany(insert, [tuple(r if rowid else r[k:]) for r in rows])
        n += len(rows)
        last = tuple(int(v) for v in rows[-1][:k])


def _row_by_row(src: sqlite3.Connection, sql: str, last: tuple[int, ...], k: int) -> list[Any]:
    out: list[Any] = []
    while len(out) < CHUNK:
        try:
            row = src.execute(sql, (*last, 1)).fetchone()
        except sqlite3.DatabaseError:
            break
        if row is None:
            break
        out.append(row)
        last = tuple(int(v) for v in row[:k])
    return out


def _next_readable(
    src: sqlite3.Connection, head: str, keys: list[str], last: tuple[int, ...] | None
) -> Any:
    """The first readable row past the damage after key ``last`` (None: nothing readable).

    Probes ever larger steps of the last key column, then of the ones before it.
    """
    base = last if last is not None else tuple(0 for _ in keys)  # rowids and ids start at 1
    for j in range(len(keys) - 1, -1, -1):
        cols = ", ".join(keys[: j + 1])
        sql = f"{head} WHERE ({cols}) >= ({', '.join('?' * (j + 1))}) ORDER BY {', '.join(keys)} LIMIT 1"

        def probe(step: int, j: int = j, sql: str = sql) -> tuple[bool, Any]:
            try:
                return True, src.execute(sql, (*base[:j], base[j] + step)).fetchone()
            except sqlite3.DatabaseError:
                return False, None

        bad, step = 0, 1
        while step < MAX_SKIP:
            ok, row = probe(step)
            if ok:  # the damage ends between bad and step: find its end, lose no readable row
                while step - bad > 1:
                    mid = (bad + step) // 2
                    ok, found = probe(mid)
                    if ok:
                        step, row = mid, found
                    else:
                        bad = mid
                return row
            bad, step = step, step * 2
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
