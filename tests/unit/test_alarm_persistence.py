"""Alarm state and journal survive a restart; the journal keeps everything through a flood or a write failure."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from hmi.core.alarms.journal import alarm_journal, alarm_state, open_db, read_journal
from tests.helpers import wait_until
from tests.unit.test_alarm_support import harness_factory, journal_rows, station, tag


@pytest.fixture
def make(tmp_path):
    """Factory of engines on a shared injected clock (closed after the test)."""
    yield from harness_factory(tmp_path)


def _cfg():
    return station(
        tag("a", {"kind": "H", "limit": 5}),
        tag("b", {"kind": "H", "limit": 5, "priority": 2}),
        tag("c", {"kind": "H", "limit": 5}),
        tag("d", {"kind": "discrete", "alarm_value": 1, "latched": True}),
        tag("e", {"kind": "H", "limit": 5, "on_delay": 5}),
    )


def test_restart_restores_states_without_reannunciating_acknowledged_alarms(make, tmp_path):
    cfg = _cfg()
    h1 = make(cfg)
    e1 = h1.engine
    t0 = h1.clock.t
    h1.feed({"a": 6, "b": 6, "c": 6, "d": 1, "e": 1})
    h1.feed({"d": 0})  # latched: held until reset
    assert e1.ack(["a.h", "d.discrete"], "li", "seen").ok
    assert e1.shelve("c.h", "li", "calibration", 600).ok
    e1.set_out_of_service("e.h", "eng", "replaced")
    before = {
        v.alarm_id: (v.state, v.shelved, v.latched, v.out_of_service, v.ack_user)
        for v in e1.snapshot()[1]
    }
    last_seq = h1.events[-1]["seq"]
    e1.close()

    h1.clock.advance(100)
    h2 = make(cfg)
    e2 = h2.engine
    after = {
        v.alarm_id: (v.state, v.shelved, v.latched, v.out_of_service, v.ack_user)
        for v in e2.snapshot()[1]
    }
    assert after == before
    assert after["a.h"] == ("ACTIVE_ACK", False, False, False, "li")
    assert e2.view("a.h").active_since == t0
    # acknowledged ones stay quiet; the unacknowledged one is not forgotten and sounds
    assert e2.annunciation().sounding == ("b.h",)
    # the restored conditions: a still-high value raises nothing new, a low one clears
    h2.feed({"a": 7, "b": 4})
    assert h2.transitions() == [("b.h", "clear", "RTN_UNACK")]
    assert h2.events[0]["seq"] == last_seq + 1  # the journal sequence continues
    # the shelve timer continues from where it was (600 s from t0)
    h2.at(t0 + 599 - h2.clock.t)
    assert e2.view("c.h").shelved
    h2.at(2)
    assert not e2.view("c.h").shelved and h2.events[-1]["comment"] == "shelve time expired"
    # the latch is still held: reset works after the restart
    assert e2.reset("d.discrete", "li").ok


def test_alarms_removed_from_the_config_are_ignored_on_restart(make, tmp_path):
    h1 = make(_cfg())
    h1.feed({"a": 6})
    h1.engine.close()
    h2 = make(station(tag("b", {"kind": "H", "limit": 5})))
    assert h2.engine.snapshot()[1] == []


def test_flood_is_journaled_completely(make):
    n = 1500
    cfg = station(*[tag(f"t{i}", {"kind": "H", "limit": 50.0}) for i in range(n)])
    h = make(cfg)
    h.feed({f"t{i}": 10.0 for i in range(n)})
    h.feed({f"t{i}": 60.0 for i in range(n)})  # every tag crosses its limit in one update
    assert len(h.events) == n
    assert len(h.engine.snapshot()[1]) == n
    assert h.engine.ack("all", "li").ok
    assert h.engine.flush(60)
    eng = open_db(h.db, readonly=True)
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alarm_journal)).scalar() == 2 * n
        assert (
            conn.execute(
                select(func.count())
                .select_from(alarm_state)
                .where(alarm_state.c.state == "ACTIVE_ACK")
            ).scalar()
            == n
        )
    rows = read_journal(eng)
    assert [r["seq"] for r in rows] == list(range(1, 2 * n + 1))
    assert rows[0]["message"]["en"] == "t0 high (>= 50)" and rows[-1]["user"] == "li"
    eng.dispose()


def test_a_failing_write_is_retried_and_nothing_is_lost(make):
    """The write failure is real SQLite (a trigger aborts inserts while a flag row exists)."""
    h = make(station(tag("a", {"kind": "H", "limit": 5})))
    db = sqlite3.connect(h.db)
    db.executescript(
        """
        CREATE TABLE block_flag (x INTEGER);
        INSERT INTO block_flag VALUES (1);
        CREATE TRIGGER block BEFORE INSERT ON alarm_journal WHEN (SELECT count(*) FROM block_flag) > 0
        BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END;
        """
    )
    db.commit()
    for v in (6, 4, 6, 4, 6):
        h.feed({"a": v})  # the acquisition side carries on while the disk refuses
    wait_until(
        lambda: h.engine.stats()["journal"]["write_failures"] >= 1, 20, what="a refused write"
    )
    assert h.engine.stats()["journal"]["queued"] == 5
    db.execute("DELETE FROM block_flag")
    db.commit()
    assert h.engine.flush(30)
    n = db.execute("SELECT count(*) FROM alarm_journal").fetchone()[0]
    db.close()
    assert n == 5 and h.engine.stats()["journal"]["last_error"] == ""


def test_a_damaged_database_is_moved_aside_and_a_new_one_started(make, tmp_path):
    db = tmp_path / "alarms.db"
    db.write_bytes(b"garbage, not SQLite " * 500)
    h = make(station(tag("a", {"kind": "H", "limit": 5})), db=db)
    h.feed({"a": 6})
    assert h.engine.flush()
    aside = list(tmp_path.glob("alarms.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"garbage")
    assert len(journal_rows(db)) == 1


def test_an_unusable_data_directory_gives_a_clear_error(tmp_path):
    from hmi.core.alarms import AlarmEngine, AlarmStoreError

    (tmp_path / "file").write_text("x")
    with pytest.raises(AlarmStoreError, match="cannot create the data directory .*file"):
        AlarmEngine(station(), tmp_path / "file" / "alarms.db")


def test_journal_tuples_match_the_table_columns():
    from hmi.core.alarms.journal import _JOURNAL_COLS, event_row, event_tuple

    ev = {
        "seq": 7, "alarm_id": "a.h", "tag": "a", "kind": "H", "priority": 2, "state": "ACTIVE_UNACK",
        "prev_state": "NORMAL", "transition": "raise", "shelved": True, "suppressed": False,
        "out_of_service": True, "latched": False, "ts": 1.5, "value": 6.0, "limit": 5.0, "user": "u",
        "comment": "c", "remote": True, "message": {"en": "E", "zh": "中"}, "area": "inlet",
    }  # fmt: skip
    row = event_row(ev)
    assert event_tuple(ev) == tuple(row[c] for c in _JOURNAL_COLS)
