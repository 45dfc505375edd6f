"""Audit trail: hash chain, tamper detection (editing users.db with sqlite3), concurrency, CLI."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from hmi.cli import main
from hmi.core.audit import AuditTrail, row_hash


@pytest.fixture
def trail(tmp_path):
    t = AuditTrail(tmp_path, "st1")
    for i in range(6):
        t.append(
            "write",
            user="op",
            target=f"reg1.sp{i}",
            result="success",
            details={"old": i, "new": i + 0.5},
        )
    yield t
    t.close()


def sql(tmp_path, *statements):
    con = sqlite3.connect(tmp_path / "users.db")
    try:
        for s in statements:
            con.execute(s)
        con.commit()
    finally:
        con.close()


def test_chain_verifies_and_records_round_trip(trail):
    rep = trail.verify()
    assert rep.ok and rep.checked == 6 and rep.first_bad is None
    recs = trail.records()
    assert [r.seq for r in recs] == [1, 2, 3, 4, 5, 6]
    assert recs[2].details == {"old": 2, "new": 2.5}
    assert (recs[2].user, recs[2].origin, recs[2].station, recs[2].action) == (
        "op",
        "local",
        "st1",
        "write",
    )
    assert trail.head() == (6, recs[-1].hash)
    assert trail.records(limit=2)[0].seq == 5
    assert trail.records(action="login") == []


def test_details_are_json_safe(trail):
    rec = trail.append(
        "write", user="op", details={"new": float("nan"), "t": (1, 2), "x": object.__name__}
    )
    assert rec.details == {"new": None, "t": [1, 2], "x": "object"}
    assert trail.verify().ok


def test_modified_row_is_detected(trail, tmp_path):
    sql(tmp_path, "update audit set result='denied' where seq=3")
    rep = trail.verify()
    assert not rep.ok and rep.first_bad == 3 and rep.checked == 2
    assert "does not match its hash" in rep.reason


def test_modified_details_are_detected(trail, tmp_path):
    sql(tmp_path, """update audit set details='{"new":99,"old":4}' where seq=5""")
    assert trail.verify().first_bad == 5


def test_deleted_row_is_detected(trail, tmp_path):
    sql(tmp_path, "delete from audit where seq=2")
    rep = trail.verify()
    assert not rep.ok and rep.first_bad == 3 and "2-2 missing" in rep.reason


def test_deleted_first_row_is_detected(trail, tmp_path):
    sql(tmp_path, "delete from audit where seq=1")
    assert trail.verify().first_bad == 2


def test_deleted_tail_is_detected(trail, tmp_path):
    sql(tmp_path, "delete from audit where seq>=5")
    rep = trail.verify()
    assert not rep.ok and rep.first_bad == 5 and "head recorded seq 6" in rep.reason


def test_inserted_row_is_detected(trail, tmp_path):
    # make room at seq 3 and insert a forged row whose hash chains correctly from row 2
    rows = {r.seq: r for r in trail.records()}
    forged = row_hash(
        rows[2].hash, 3, 1, "op", "local", "st1", "write", "reg1.sp9", "success", "{}"
    )
    sql(
        tmp_path,
        "update audit set seq=seq+100 where seq>=3",
        "update audit set seq=seq-99 where seq>=100",
        f"insert into audit values (3, 1, 'op', 'local', 'st1', 'write', 'reg1.sp9', 'success', '{{}}', '{forged}')",
    )
    rep = trail.verify()
    assert not rep.ok and rep.first_bad == 4  # the forged row fits, the next one no longer does


def test_appended_forgery_is_detected(trail, tmp_path):
    sql(
        tmp_path,
        "insert into audit values (7, 1, 'op', 'local', 'st1', 'write', 'x', 'success', '{}', 'abc')",
    )
    rep = trail.verify()
    assert not rep.ok and rep.first_bad == 7


def test_concurrent_appends_from_threads_and_a_second_handle(tmp_path):
    a, b = AuditTrail(tmp_path, "st1"), AuditTrail(tmp_path, "st1")  # b stands for another process
    try:

        def work(t, n):
            for i in range(10):
                t.append("ack", user=f"u{n}", target=str(i))

        threads = [
            threading.Thread(target=work, args=(a if n % 2 else b, n), name=f"audit-{n}")
            for n in range(4)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        rep = a.verify()
        assert rep.ok and rep.checked == 40
        assert [r.seq for r in b.records()] == list(range(1, 41))
    finally:
        a.close()
        b.close()


def test_bad_origin_is_refused(trail):
    with pytest.raises(ValueError, match="origin"):
        trail.append("x", user="u", origin="moon")


# ---------------------------------------------------------------- CLI
def test_cli_table_csv_json(trail, tmp_path, capsys):
    assert main(["audit", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "reg1.sp5" in out and "seq" in out.splitlines()[0]
    assert main(["audit", "--data-dir", str(tmp_path), "--format", "csv", "--action", "write"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("seq,time,ts,user") and len(lines) == 7
    assert main(["audit", "--data-dir", str(tmp_path), "--format", "json", "--limit", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["seq"] for d in data] == [6] and data[0]["details"] == {"old": 5, "new": 5.5}


def test_cli_since_filters_old_rows(tmp_path, capsys):
    t = AuditTrail(tmp_path, "st1")
    try:
        t.append("login", user="old", ts=1000.0)
        t.append("login", user="new")
    finally:
        t.close()
    assert main(["audit", "--data-dir", str(tmp_path), "--since", "1h", "--format", "json"]) == 0
    assert [d["user"] for d in json.loads(capsys.readouterr().out)] == ["new"]
    assert main(["audit", "--data-dir", str(tmp_path), "--since", "soon"]) == 2


def test_cli_verify_ok_and_broken(trail, tmp_path, capsys):
    assert main(["audit", "--data-dir", str(tmp_path), "--verify"]) == 0
    assert "6 rows verified" in capsys.readouterr().out
    sql(tmp_path, "update audit set user='mallory' where seq=4")
    assert main(["audit", "--data-dir", str(tmp_path), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "BROKEN at seq 4" in err and "mallory" in err and "3 rows before it verified" in err


def test_cli_without_database_is_a_clear_error(tmp_path, capsys):
    assert main(["audit", "--data-dir", str(tmp_path / "none")]) == 1
    assert "no audit trail" in capsys.readouterr().err
    assert not (tmp_path / "none" / "users.db").exists()
