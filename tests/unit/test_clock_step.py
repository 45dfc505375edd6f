"""Clock steps (NTP correction, CMOS battery): timers measure durations, timestamps follow the clock.

The alarm engine, the tag table and the historian's rollups with an injected wall clock
and an injected monotonic clock: the wall clock jumps back 1 h or forward 1 day while the
monotonic clock runs on, as the kernel does on a real step.
"""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest

from drivers.base import Batch, Quality
from hmi.config.schema import HistorianConfig
from hmi.core.clock import StepClock
from hmi.core.historian import Historian
from hmi.core.tagtable import TagTable
from tests.unit.test_alarm_support import Clock, harness_factory, station, tag

GOOD = int(Quality.GOOD)
UNCERTAIN = int(Quality.UNCERTAIN)
BACK_1H, FORWARD_1D = -3600.0, 86400.0


class Mono:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Clocks:
    """Wall and monotonic clock: ``run(dt)`` moves both, ``step(d)`` only the wall clock."""

    def __init__(self, wall: Clock) -> None:
        self.wall, self.mono = wall, Mono()

    def run(self, dt: float) -> None:
        self.wall.t += dt
        self.mono.t += dt

    def step(self, d: float) -> None:
        self.wall.t += d


@pytest.fixture
def make(tmp_path):
    yield from harness_factory(tmp_path)


def test_step_clock_reports_steps_not_slew():
    c = Clocks(Clock(1.7e9))
    seen: list[float] = []
    sc = StepClock(seen.append, c.wall, c.mono)
    c.run(10)
    c.wall.t += 0.5  # NTP slewing / jitter: not a step
    assert sc() == c.wall.t and seen == []
    c.step(BACK_1H)
    assert sc() == c.wall.t and seen == [BACK_1H]
    c.run(5)
    assert sc() == c.wall.t and seen == [BACK_1H]


@pytest.mark.parametrize("step", [BACK_1H, FORWARD_1D])
def test_on_delay_completes_after_its_duration_whatever_the_clock_does(make, step):
    h0 = make(station(tag("p", {"kind": "H", "limit": 5.0, "on_delay": 10.0})))
    h0.engine.close()
    c = Clocks(h0.clock)
    h = make(h0.cfg, mono=c.mono)
    h.feed({"p": 6.0})
    c.run(4)
    h.engine.tick()
    c.step(step)  # 4 s of the 10 s delay have passed
    h.engine.tick()
    assert h.events == []  # forward: not completed early
    c.run(5)
    h.engine.tick()
    assert h.events == []
    c.run(1.5)  # 10.5 s of real time: done (back: not stuck for an hour)
    h.engine.tick()
    assert h.transitions() == [("p.h", "raise", "ACTIVE_UNACK")]
    assert h.events[0]["ts"] == c.wall.t  # the journal stamps the (new) wall time


@pytest.mark.parametrize("step", [BACK_1H, FORWARD_1D])
def test_shelve_lasts_its_duration_and_shows_the_new_expiry(make, step):
    h0 = make(station(tag("p", {"kind": "H", "limit": 5.0})))
    h0.engine.close()
    c = Clocks(h0.clock)
    h = make(h0.cfg, mono=c.mono)
    h.feed({"p": 6.0})
    assert h.engine.shelve("p.h", "op", "sensor work", 600).ok
    c.run(100)
    h.engine.tick()
    c.step(step)
    h.engine.tick()
    view = h.engine.view("p.h")
    assert view.shelved and view.shelved_until == pytest.approx(c.wall.t + 500)
    c.run(499)
    h.engine.tick()
    assert h.engine.view("p.h").shelved
    c.run(2)
    h.engine.tick()
    assert not h.engine.view("p.h").shelved  # expired on time, in both directions
    assert h.transitions("p.h")[-1][1] == "unshelve"


def test_staleness_measures_time_since_the_last_read_not_the_wall_clock():
    cfg = station(tag("p"))
    mono = Mono()
    tt = TagTable(cfg.tags, [1.0], mono=mono)
    tt.apply(Batch(np.array([0]), np.array([1.0]), GOOD, "", 1.7e9, 1.7e9))
    mono.t += 1.0
    assert not len(tt.check_stale(now=1.7e9 + FORWARD_1D))  # a day later on the wall: not stale
    assert not len(tt.check_stale(now=1.7e9 + BACK_1H))
    mono.t += 3.5  # no read for 3.5 poll periods: stale, whatever the wall clock says
    assert len(tt.check_stale(now=1.7e9 + BACK_1H)) == 1
    assert tt.quality[0] == UNCERTAIN


def test_rollup_buckets_stay_exact_when_samples_step_back(tmp_path):
    """Samples stamped an hour earlier after a step land in their own (old) buckets exactly:
    every 1 min and 1 h rollup row equals the aggregate of the raw samples of its bucket."""
    h = Historian(tmp_path / "history.db", HistorianConfig())
    h.start()
    try:
        tid = int(h.tag_ids(["p"])[0])
        t0 = float(int(time.time() // 3600 * 3600)) - 3 * 3600
        ts1 = t0 + 3600 + np.arange(0, 1800, 1.0)  # half an hour, then the clock goes back 1 h
        ts2 = ts1[-1] + 1 + BACK_1H + np.arange(0, 600, 1.0)
        ts3 = ts2[-1] + 1 + FORWARD_1D + np.arange(0, 120, 1.0)  # ...and later a day forward
        for ts, v in ((ts1, 1.0), (ts2, 3.0), (ts3, 5.0)):
            h.write(np.full(len(ts), tid), ts, np.full(len(ts), v), np.full(len(ts), GOOD))
            assert h.flush(10)
    finally:
        h.stop()  # writes the open buckets
    con = sqlite3.connect(tmp_path / "history.db")
    try:
        for width, table in ((60_000, "rollup_1m"), (3_600_000, "rollup_1h")):
            truth = con.execute(
                f"SELECT (ts / {width}) * {width} AS b, count(*), sum(value), min(value), "
                "max(value) FROM samples WHERE tag_id = ? GROUP BY b ORDER BY b",
                (tid,),
            ).fetchall()
            rows = con.execute(
                f"SELECT bucket, n, vsum, vmin, vmax FROM {table} WHERE tag_id = ? ORDER BY bucket",
                (tid,),
            ).fetchall()
            assert rows == truth, table
            assert sum(r[1] for r in rows) == len(ts1) + len(ts2) + len(ts3)
    finally:
        con.close()
