"""Damaged databases at start: set aside, salvaged, alarmed, audited; the station starts.

Real SQLite files written by the real stores, then a few pages overwritten with random
bytes in place (what a power cut does to a cheap SSD), then the real runtime or store
opens the data folder again. The station's devices are disabled: no server is needed to
show what the start-up check does.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from hmi.config import load_station
from hmi.core.dbcheck import check_databases, quick_check
from hmi.core.runtime import Runtime
from hmi.core.uplink.outbox import Outbox
from hmi.core.users import Role, UserStore
from hmi.core.users.store import AuthError
from tests.stations import demo_station_copy


@pytest.fixture(scope="module")
def offline_cfg(tmp_path_factory):
    st, _ = demo_station_copy(tmp_path_factory.mktemp("st"))
    cfg = load_station(st)
    return cfg.model_copy(
        update={
            "devices": [d.model_copy(update={"enabled": False}) for d in cfg.devices],
            "uplink": cfg.uplink.model_copy(update={"enabled": False}),
        }
    )


def _damage(path: Path, fractions=(0.35, 0.5, 0.65), seed: int = 1) -> list[int]:
    """Overwrite whole pages at these fractions of the file with random bytes; page numbers."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the damage hits the main file
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    n = path.stat().st_size // page
    rng = np.random.default_rng(seed)
    pages = sorted({max(2, int(n * f)) for f in fractions})
    with path.open("r+b") as f:
        for p in pages:
            f.seek((p - 1) * page)
            f.write(rng.integers(0, 256, page, dtype=np.uint8).tobytes())
    return pages


def _readable_keys(path: Path, table: str, key: str, keys) -> set:
    """Every key whose row a point lookup can still read in the damaged file."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    ok = set()
    for k in keys:
        try:
            if con.execute(f"SELECT * FROM {table} WHERE {key} = ?", (k,)).fetchone():
                ok.add(k)
        except sqlite3.DatabaseError:
            pass
    con.close()
    return ok


def test_damaged_history_is_set_aside_salvaged_alarmed_and_audited(offline_cfg, tmp_path):
    data = tmp_path / "data"
    rt = Runtime(offline_cfg, data)
    name = offline_cfg.tags[0].name
    tag_id = int(rt.historian.tag_ids([name])[0])
    n = 20000
    t0 = float(int(time.time())) - n - 60  # recent: inside the retention
    ts = t0 + np.arange(n, dtype=np.float64)
    rt.historian.start()
    rt.historian.write(np.full(n, tag_id), ts, np.sin(np.arange(n)), np.full(n, 192))
    assert rt.historian.flush(30)
    rt.historian.stop()
    rt.alarms.close()
    rt.users.close()
    db = data / "history.db"
    _damage(db)
    assert quick_check(db) != "ok"
    readable = _readable_keys(
        db, "samples", f"tag_id = {tag_id} AND ts", [int(round(t * 1000)) for t in ts]
    )
    assert 0 < len(readable) < n  # the damage really cost rows

    rt = Runtime(offline_cfg, data)
    rt.start()
    try:
        aside = [
            p for p in data.glob("history.db.damaged-*") if not p.name.endswith(("-wal", "-shm"))
        ]
        assert len(aside) == 1, aside
        assert quick_check(db) == "ok"
        got = rt.historian.raw(name, t0 - 1, t0 + n + 1)
        stored = {int(round(t * 1000)) for t in got.ts}
        assert readable <= stored  # every row that could be read is back, queryable
        rep = rt.db_repairs[0]
        assert rep.stem == "history" and rep.rows["samples"] == len(stored)
        view = rt.alarms.view("system.db.history")
        assert view.condition and view.priority == 2
        assert str(aside[0]) in view.message_en and f"{rep.salvaged} row(s)" in view.message_en
        rec = [r for r in rt.audit.records() if r.action == "db_repair"]
        assert len(rec) == 1 and rec[0].details["damaged_file"] == str(aside[0])
        assert rec[0].details["rows"]["samples"] == len(stored)
    finally:
        rt.stop()


def test_damaged_outbox_keeps_every_readable_undelivered_row(tmp_path):
    path = tmp_path / "outbox.db"
    box = Outbox(path, 64 * 1024 * 1024)
    body = bytes(range(256)) * 2
    for k in range(40):
        box.append([(1, time.time(), body + k.to_bytes(4, "big") * 8) for _ in range(100)])
    ids = list(range(1, box.max_id() + 1))
    box.close()
    _damage(path, fractions=(0.3, 0.6), seed=2)
    readable = _readable_keys(path, "outbox", "id", ids)
    assert 0 < len(readable) < len(ids)

    repairs = check_databases(tmp_path)
    assert [r.stem for r in repairs] == ["outbox"] and repairs[0].damaged.exists()
    box = Outbox(path, 64 * 1024 * 1024)
    try:
        rows = box.read(0, None, 10 * len(ids))
        assert readable <= {r.id for r in rows}
        assert all(r.body[:512] == body for r in rows)  # salvaged rows are whole
        assert box.depth == len(rows)
    finally:
        box.close()


def test_damaged_users_db_starts_viewer_only_and_keeps_the_audit_break(offline_cfg, tmp_path):
    data = tmp_path / "data"
    store = UserStore(data / "users.db", station_id=offline_cfg.station.id)
    store.add_user("chief", "correct horse battery", Role.ADMIN, by="installer")
    for i in range(600):  # an audit trail long enough to span many pages
        store.audit.append(
            "write", user="chief", target=f"tag{i}", details={"v": i, "pad": "x" * 200}
        )
    store.close()
    db = data / "users.db"
    _damage(db, fractions=(0.5,), seed=3)
    assert quick_check(db) != "ok"

    rt = Runtime(offline_cfg, data)
    rt.start()
    try:
        assert {p.name.split(".damaged-")[0] for p in data.glob("*.damaged-*")} == {"users.db"}
        assert (db.stat().st_mode & 0o777) == 0o600
        msg = rt.users.lockdown()
        assert "users passwd" in msg and "damaged" in msg
        assert not rt.users.needs_first_admin()  # no first-run door for whoever is at the console
        with pytest.raises(AuthError) as err:
            rt.users.login("chief", "correct horse battery")
        assert err.value.reason == "lockdown"
        assert rt.alarms.view("system.db.users").condition
        rec = [r for r in rt.audit.records() if r.action == "db_repair"][-1]
        assert rec.details["chain"] == "broken" and rec.details["chain_verified_rows"] > 0
        report = rt.audit.verify()
        assert not report.ok and report.checked == rec.details["chain_verified_rows"]
        # the admin, at the station PC: sets a password from the command line -> logins again
        if rt.users.get("chief") is None:
            rt.users.add_user("chief", "correct horse battery", Role.ADMIN, by="root")
        else:
            rt.users.set_password("chief", "correct horse battery", by="root")
        assert rt.users.lockdown() == ""
        assert rt.users.login("chief", "correct horse battery").logged_in
    finally:
        rt.stop()
