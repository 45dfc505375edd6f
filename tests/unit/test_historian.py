"""Historian write path: round trip, quality, ids, batching, duplicates, current, text, stop."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import numpy as np
import pytest

from hmi.config.schema import HistorianConfig
from hmi.core.historian import BAD, GOOD, UNCERTAIN, Historian, HistorianError
from tests.helpers import wait_until

NOW = float(int(time.time()))


@pytest.fixture
def open_hist(tmp_path):
    """Factory: a started Historian in tmp_path; every one is closed at the end."""
    made: list[Historian] = []

    def make(name: str = "history.db", start: bool = True, **cfg) -> Historian:
        cfg.setdefault("flush_interval", 0.1)
        h = Historian(tmp_path / name, HistorianConfig(**cfg))
        made.append(h)
        if start:
            h.start()
        return h

    yield make
    for h in made:
        h.close()


def test_round_trip_keeps_values_times_and_quality(open_hist):
    h = open_hist()
    a, b = h.tag_ids(["st.inlet.pressure", "st.outlet.pressure"])
    ts = NOW - 100 + np.arange(10) * 0.25  # sub-second times survive (stored as ms)
    vals = np.linspace(0.3, 0.4, 10)
    q = np.array([GOOD] * 6 + [UNCERTAIN, BAD, BAD, GOOD], np.uint8)
    h.write(np.full(10, a), ts, vals, q)
    h.write(np.array([b]), np.array([NOW - 50.0]), np.array([1.5]), np.array([GOOD]))
    assert h.flush()
    raw = h.raw("st.inlet.pressure", NOW - 200, NOW)
    np.testing.assert_allclose(raw.ts, ts)
    np.testing.assert_array_equal(raw.quality, q)
    np.testing.assert_allclose(raw.value[q != BAD], vals[q != BAD])
    assert np.isnan(raw.value[q == BAD]).all()  # a BAD sample never carries a plausible number
    data = h.query(a, NOW - 200, NOW)  # by id, all raw
    assert not data.decimated and len(data) == 10 and data.bad.tolist() == (q == BAD).tolist()
    assert h.raw("st.outlet.pressure", NOW - 200, NOW).value.tolist() == [1.5]
    assert len(h.raw("no.such.tag", 0, NOW)) == 0
    rows = list(h.export_rows(["st.outlet.pressure", "st.inlet.pressure"], NOW - 200, NOW))
    assert [r.ts for r in rows] == sorted(r.ts for r in rows) and len(rows) == 11
    assert (
        rows[-1].name == "st.outlet.pressure" and rows[-1].value == 1.5 and rows[-1].quality == GOOD
    )
    assert h.stats()["rows_written"] == 11


def test_ids_are_stable_across_reopen_and_config_changes(open_hist):
    h = open_hist("h.db", start=False)
    first = h.tag_ids(["a.x", "b.y", "c.z"]).tolist()
    assert first == sorted(set(first)) and h.tag_ids(["b.y"]).dtype == np.int32
    h.close()
    h2 = open_hist("h.db", start=False)
    again = h2.tag_ids(["new.tag", "c.z", "a.x"]).tolist()  # other order, one tag added
    assert again[1:] == [first[2], first[0]] and again[0] not in first
    assert h2.tag_names()["b.y"] == first[1]


def test_many_writes_are_batched_into_few_transactions(open_hist):
    h = open_hist(flush_interval=1.0, batch_size=100_000)
    ids = h.tag_ids([f"t{i}" for i in range(10)])
    for k in range(300):  # 300 scans of 10 tags, as the acquisition loop delivers them
        h.write(ids, np.full(10, NOW - 1000 + k), np.arange(10.0) + k, np.full(10, GOOD))
    assert h.flush()
    st = h.stats()
    assert st["rows_written"] == 3000 and st["transactions"] <= 3
    assert st["queue_depth"] == 0 and st["last_flush_duration"] > 0 and st["db_bytes"] > 0


def test_batch_size_triggers_a_flush_before_the_interval(open_hist):
    h = open_hist(flush_interval=60.0, batch_size=500)
    (tid,) = h.tag_ids(["t"])
    h.write(np.full(600, tid), NOW - 1000 + np.arange(600.0), np.zeros(600), np.full(600, GOOD))
    wait_until(
        lambda: h.stats()["rows_written"] == 600, timeout=20, what="a flush triggered by batch_size"
    )


def test_duplicate_timestamps_first_stored_wins(open_hist):
    h = open_hist()
    (tid,) = h.tag_ids(["d"])
    t = NOW - 300
    ids = np.full(3, tid)
    h.write(
        ids, np.array([t, t + 1, t]), np.array([1.0, 2.0, 9.0]), np.full(3, GOOD)
    )  # dup inside a batch
    assert h.flush()
    h.write(
        ids, np.array([t + 1, t + 2, t - 1]), np.array([8.0, 3.0, 0.5]), np.full(3, GOOD)
    )  # dup + late
    assert h.flush()
    raw = h.raw("d", t - 10, t + 10)
    assert raw.value.tolist() == [0.5, 1.0, 2.0, 3.0]
    assert h.stats()["duplicates"] == 2
    con = sqlite3.connect(h.path)
    n, vsum = con.execute(
        "SELECT sum(n), sum(vsum) FROM rollup_1m WHERE tag_id = ?", (int(tid),)
    ).fetchone()
    con.close()
    assert (n, vsum) == (4, 6.5)  # duplicates are not merged into the rollups


def test_current_table_keeps_the_newest_value_per_tag(open_hist):
    h = open_hist()
    a, b, s = h.tag_ids(["a", "b", "s"])
    h.write_current([a, b], [NOW - 10, NOW - 10], np.array([1.0, 2.0]), [GOOD, GOOD], ["", ""])
    h.write_current(
        [a, b, s],
        [NOW - 5, NOW - 20, NOW - 5],
        np.array([3.0, 99.0, "open"], dtype=object),
        [BAD, GOOD, GOOD],
        ["comm lost", "", ""],
    )
    assert h.flush()
    cur = h.latest()
    assert cur["a"].quality == BAD and np.isnan(cur["a"].value) and cur["a"].reason == "comm lost"
    assert cur["a"].ts == NOW - 5
    assert cur["b"].value == 2.0  # the older update did not overwrite the newer one
    assert cur["s"].value == "open"


def test_last_values_of_tags_no_longer_stored_are_dropped(open_hist):
    h = open_hist()
    a, b = h.tag_ids(["a", "b"])
    h.write_current([a, b], [NOW, NOW], np.array([1.0, 2.0]), [GOOD, GOOD], ["", ""])
    assert h.flush()
    assert h.forget_current([a]) == 1
    assert set(h.latest()) == {"b"}
    assert h.forget_current([a]) == 0 and h.forget_current([]) == 0


def test_text_tags_have_their_own_table(open_hist):
    h = open_hist()
    (tid,) = h.tag_ids(["odor.state"])
    h.write_text([tid, tid], [NOW - 2, NOW - 1], ["dosing", "alarm"], [GOOD, BAD])
    assert h.flush()
    assert h.raw_text("odor.state", NOW - 10, NOW) == [
        (NOW - 2, "dosing", GOOD),
        (NOW - 1, None, BAD),
    ]
    assert len(h.raw("odor.state", NOW - 10, NOW)) == 0
    assert [r.value for r in h.export_rows(["odor.state"], NOW - 10, NOW)] == ["dosing", None]


def test_misaligned_arrays_are_refused_and_bad_times_dropped(open_hist, caplog):
    h = open_hist()
    (tid,) = h.tag_ids(["m"])
    with pytest.raises(ValueError, match="misaligned"):
        h.write([tid, tid], [NOW], [1.0, 2.0], [GOOD, GOOD])
    with caplog.at_level(logging.WARNING):
        h.write([tid, tid], [np.nan, NOW - 1], [1.0, 2.0], [GOOD, GOOD])
    assert h.flush()
    assert h.raw("m", 0, NOW).value.tolist() == [2.0]
    assert "without a valid timestamp" in caplog.text


def test_stop_flushes_everything_and_leaves_no_thread(tmp_path):
    h = Historian(tmp_path / "h.db", HistorianConfig(flush_interval=60.0, batch_size=10**6))
    h.start()
    assert any(t.name == "historian-writer" for t in threading.enumerate())
    (tid,) = h.tag_ids(["s"])
    h.write(np.full(5000, tid), NOW - 6000 + np.arange(5000.0), np.ones(5000), np.full(5000, GOOD))
    h.write_current([tid], [NOW - 1001], np.array([1.0]), [GOOD], [""])
    assert h.stats()["rows_written"] == 0  # still queued: the interval is a minute
    h.stop(flush=True)
    assert not any(t.name == "historian-writer" for t in threading.enumerate())
    assert h.stats()["rows_written"] == 5000
    h.close()
    with Historian(
        tmp_path / "h.db", HistorianConfig()
    ) as h2:  # what was written survives a reopen
        assert len(h2.raw("s", 0, NOW)) == 5000 and h2.latest()["s"].value == 1.0


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    bad = tmp_path / "history.db"
    bad.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(HistorianError, match=r"history\.db.*not a database"):
        Historian(bad, HistorianConfig())


def test_read_only_tools_do_not_create_a_database(tmp_path):
    with pytest.raises(HistorianError, match="no history database"):
        Historian(tmp_path / "missing.db", HistorianConfig(), create=False)
    assert not (tmp_path / "missing.db").exists()


def test_writes_are_kept_when_the_writer_never_ran(tmp_path):
    h = Historian(tmp_path / "h.db", HistorianConfig())
    (tid,) = h.tag_ids(["p"])
    h.write([tid], [NOW - 3], [7.0], [GOOD])
    assert not h.flush(timeout=0.1)  # no writer thread: nothing committed yet
    h.close()  # ...but closing writes what was queued
    with Historian(tmp_path / "h.db", HistorianConfig(), create=False) as h2:
        assert h2.raw("p", 0, NOW).value.tolist() == [7.0]
