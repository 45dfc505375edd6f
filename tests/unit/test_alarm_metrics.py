"""Alarm-system metrics (ISA-18.2 / EEMUA 191) from a real journal, and the pure figure functions."""

from __future__ import annotations

import pytest

from hmi.core.alarms.metrics import chattering, flood_periods, peak_in_window
from tests.unit.test_alarm_support import harness_factory, station, tag


@pytest.fixture
def make(tmp_path):
    """Factory of engines on a shared injected clock (closed after the test)."""
    yield from harness_factory(tmp_path)


def _timeline(h):
    """1 stale alarm, a 12-alarm flood, one chattering alarm; returns t0."""
    t0 = h.clock.t
    h.feed({"stale": 9})
    h.clock.t = t0 + 3600
    for i in range(12):  # 12 low-priority alarms, one every 20 s
        h.feed({f"f{i}": 9})
        h.clock.advance(20)
    h.clock.t = t0 + 3600 + 300
    h.feed({f"f{i}": 1 for i in range(12)})
    h.clock.t = t0 + 7200
    for _ in range(3):  # raised three times within 40 s
        h.feed({"ch": 9})
        h.clock.advance(10)
        h.feed({"ch": 1})
        h.clock.advance(5)
    return t0


def test_metrics_from_the_journal(make):
    cfg = station(
        tag("stale", {"kind": "H", "limit": 5, "priority": 1}),
        tag("ch", {"kind": "H", "limit": 5, "priority": 3}),
        *[tag(f"f{i}", {"kind": "H", "limit": 5, "priority": 4}) for i in range(12)],
    )
    h = make(cfg)
    t0 = _timeline(h)
    e = h.engine
    e.shelve("ch.h", "li", "being fixed", 60)
    h.feed({"ch": 9})  # a shelved activation: a bad actor still, but not annunciated load
    assert e.flush()
    until = t0 + 25 * 3600
    m = e.metrics(t0 - 1, until)
    assert m["alarms"] == 16 and m["activations_all"] == 17
    assert m["per_10min_peak"] == 12
    assert m["flood_count"] == 1
    flood = m["floods"][0]
    # starts with the 11th alarm inside 10 min, ends when fewer than 5 remain in the window
    assert (flood["start"], flood["end"]) == (t0 + 3600 + 200, t0 + 3600 + 740)
    assert flood["alarms"] == 12 and flood["peak_per_10min"] == 12
    assert abs(m["flood_share_pct"] - round(100 * 540 / (25 * 3600 + 1), 2)) < 1e-9
    assert m["chattering"] == [{"alarm_id": "ch.h", "max_per_minute": 4, "activations": 4}]
    assert [s["alarm_id"] for s in m["stale"]] == ["stale.h"] and m["stale"][0]["hours"] == 25.0
    assert m["bad_actors"][0] == {
        "alarm_id": "ch.h",
        "activations": 4,
        "share_pct": 23.5,
        "priority": 3,
        "kind": "H",
        "tag": "ch",
    }
    assert len(m["bad_actors"]) == 10
    assert m["priority"]["counts"] == {"1": 1, "2": 0, "3": 3, "4": 12}
    assert m["priority"]["share_pct"] == {"high": 6.2, "medium": 18.8, "low": 75.0}
    assert m["priority"]["target_pct"] == {"high": 5.0, "medium": 15.0, "low": 80.0}
    assert m["load"] == "manageable"
    # a window that sees only the quiet end has no load and no flood
    quiet = e.metrics(t0 + 3 * 3600, until)
    assert (
        quiet["alarms"] == 0
        and quiet["flood_count"] == 0
        and quiet["stale"][0]["alarm_id"] == "stale.h"
    )


def test_peak_and_chatter_windows():
    assert peak_in_window([], 60) == 0
    assert peak_in_window([0, 30, 59.9, 60, 119], 60) == 3
    assert chattering({"a": [0, 30, 59], "b": [0, 30, 61], "c": [0, 1]}) == [
        {"alarm_id": "a", "max_per_minute": 3, "activations": 3}
    ]


def test_flood_periods_edge_cases():
    assert (
        flood_periods([float(t) for t in range(10)], 0, 3600) == []
    )  # 10 in 10 min is not a flood
    times = [float(t) for t in range(11)]
    (f,) = flood_periods(times, 0, 3600)
    assert f["start"] == 10.0 and f["end"] == 606.0  # 11 -> 4 left when the 7th leaves
    # a flood still running at the end of the period is cut there
    (f,) = flood_periods(times, 0, 300)
    assert (f["start"], f["end"], f["duration_s"]) == (10.0, 300, 290.0)
    # two separate floods
    two = flood_periods(times + [5000.0 + t for t in range(12)], 0, 7200)
    assert [round(x["start"]) for x in two] == [10, 5010] and two[1]["alarms"] == 12
