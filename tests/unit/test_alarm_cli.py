"""``gas-hmi alarms``: active list, journal and report (table and JSON) from a real alarms.db."""

from __future__ import annotations

import json
import time

import pytest

from hmi.cli import main
from tests.unit.test_alarm_support import Clock, Harness, station, tag


@pytest.fixture
def running(tmp_path):
    """An engine (still running: the CLI reads while its writer thread is alive) with some history."""
    cfg = station(
        tag(
            "p",
            {
                "kind": "H",
                "limit": 5,
                "priority": 2,
                "message": {"en": "Outlet pressure high", "zh": "出口压力高"},
            },
        ),
        tag("q", {"kind": "L", "limit": 1, "priority": 4}),
        *[tag(f"f{i}", {"kind": "H", "limit": 5}) for i in range(12)],
    )
    h = Harness(cfg, tmp_path / "alarms.db", Clock(time.time() - 900))
    for i in range(12):  # a short flood, cleared again
        h.feed({f"f{i}": 9})
        h.clock.advance(5)
    h.feed({f"f{i}": 1 for i in range(12)})
    h.engine.ack("all", "li")
    h.clock.t = time.time() - 60
    h.feed({"p": 6, "q": 0.5})
    h.engine.ack("p.h", "li", "crew informed")
    h.engine.shelve("q.l", "li", "sensor swap", 600)
    assert h.engine.flush()
    yield tmp_path
    h.engine.close()


def test_active_alarms_json_and_table(running, capsys):
    assert main(["alarms", "--data-dir", str(running), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["alarm_id"], r["state"], r["priority"]) for r in rows] == [
        ("p.h", "ACTIVE_ACK", 2),
        ("q.l", "ACTIVE_UNACK", 4),
    ]
    assert rows[0]["ack_user"] == "li" and rows[0]["message"] == {
        "en": "Outlet pressure high",
        "zh": "出口压力高",
    }
    assert (
        rows[1]["shelved"]
        and rows[1]["shelve_reason"] == "sensor swap"
        and rows[1]["shelved_until"] > time.time()
    )

    assert main(["alarms", "--data-dir", str(running), "--active", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["ALARM", "TAG", "KIND", "P", "STATE"]
    assert "p.h" in lines[2] and "出口压力高" in lines[2] and "li" in lines[2]
    assert "SHELVED" in lines[3]
    assert lines[-1] == "2 alarm(s)"


def test_journal_since_json_and_table(running, capsys):
    assert (
        main(
            ["alarms", "--data-dir", str(running), "--journal", "--since", "5m", "--format", "json"]
        )
        == 0
    )
    events = json.loads(capsys.readouterr().out)
    assert [(e["alarm_id"], e["transition"]) for e in events] == [
        ("p.h", "raise"),
        ("q.l", "raise"),
        ("p.h", "ack"),
        ("q.l", "shelve"),
    ]
    assert events[2]["comment"] == "crew informed" and events[2]["user"] == "li"
    assert (
        main(["alarms", "--data-dir", str(running), "--journal", "--since", "1h", "--limit", "3"])
        == 0
    )
    out = capsys.readouterr().out
    assert "TRANSITION" in out.splitlines()[0] and "sensor swap" in out
    assert out.splitlines()[-1].startswith("3 transition(s)")


def test_report_json_and_table(running, capsys):
    assert (
        main(["alarms", "report", "--data-dir", str(running), "--since", "1h", "--format", "json"])
        == 0
    )
    m = json.loads(capsys.readouterr().out)
    assert m["alarms"] == 14 and m["flood_count"] == 1 and m["per_10min_peak"] == 12
    assert m["priority"]["counts"] == {"1": 0, "2": 1, "3": 12, "4": 1}
    assert main(["alarms", "report", "--data-dir", str(running)]) == 0
    out = capsys.readouterr().out
    assert "Alarm-system report" in out and "flood periods" in out and "Top bad actors" in out
    assert "Flood periods" in out


def test_clear_errors(tmp_path, capsys):
    assert main(["alarms", "--data-dir", str(tmp_path)]) == 1
    assert "no alarm database at" in capsys.readouterr().err
    (tmp_path / "alarms.db").write_bytes(b"this is not a database, just text " * 200)
    assert main(["alarms", "--data-dir", str(tmp_path)]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["alarms", "--data-dir", str(tmp_path), "--journal", "--since", "yesterday"]) == 2
    assert "not a duration" in capsys.readouterr().err
