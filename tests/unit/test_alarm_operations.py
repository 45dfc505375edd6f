"""Alarm engine: acknowledge, shelving, suppression by design, out of service, horn, conflicts, snapshot."""

from __future__ import annotations

import pytest

from tests.unit.test_alarm_support import harness_factory, journal_rows, station, tag


@pytest.fixture
def make(tmp_path):
    """Factory of engines on a shared injected clock (closed after the test)."""
    yield from harness_factory(tmp_path)


def _three(make, **kw):
    cfg = station(
        tag("a", {"kind": "H", "limit": 5, "priority": 3, "max_shelve": 3600}),
        tag("b", {"kind": "H", "limit": 5, "priority": 1}),
        tag("c", {"kind": "H", "limit": 5, "priority": 4}),
    )
    h = make(cfg, **kw)
    return h, h.engine


def test_ack_one_set_and_all_with_user_and_comment(make):
    h, e = _three(make)
    h.feed({"a": 6, "b": 6, "c": 6})
    r = e.ack("a.h", "li", "called the field crew")
    assert r.ok and r.done == ("a.h",)
    r = e.ack(["b.h", "c.h"], "wang", remote=True)
    assert r.ok and set(r.done) == {"b.h", "c.h"}
    acks = [ev for ev in h.events if ev["transition"] == "ack"]
    assert [(a["alarm_id"], a["user"], a["comment"], a["remote"]) for a in acks] == [
        ("a.h", "li", "called the field crew", False),
        ("b.h", "wang", "", True),
        ("c.h", "wang", "", True),
    ]
    h.feed({"a": 4, "b": 4})
    h.feed({"a": 6, "b": 6, "c": 4})  # a, b raised again; c back to normal (acked -> NORMAL)
    r = e.ack("all", "zhao")
    assert r.ok and set(r.done) == {"a.h", "b.h"}
    assert all(v.state == "ACTIVE_ACK" and v.ack_user == "zhao" for v in e.snapshot()[1])
    r = e.ack("all", "zhao")
    assert r.ok and r.done == () and r.message == "nothing to acknowledge"
    # journaled with who and when
    assert e.flush()
    rows = journal_rows(h.db)
    assert [(x["alarm_id"], x["user"], x["comment"]) for x in rows if x["transition"] == "ack"][
        :1
    ] == [("a.h", "li", "called the field crew")]


def test_conflicts_get_clear_answers(make):
    h, e = _three(make)
    h.feed({"a": 6})
    assert e.ack("a.h", "op").ok
    assert e.ack("a.h", "op").refused == {"a.h": "already acknowledged"}
    assert e.ack("b.h", "op").refused == {"b.h": "not in alarm"}
    assert e.ack(["a.h", "nope"], "op").refused == {
        "a.h": "already acknowledged",
        "nope": "unknown alarm",
    }
    assert not e.ack("a.h", "").ok  # who acknowledges is never anonymous
    assert e.reset("nope", "op").refused == {"nope": "unknown alarm"}
    assert e.reset("a.h", "op").refused == {"a.h": "not latched"}
    assert e.shelve("a.h", "op", "   ").refused == {"a.h": "reason required"}
    assert e.shelve("a.h", "op", "sensor work", 7200).refused == {
        "a.h": "exceeds maximum shelve time (3600 s)"
    }
    assert e.shelve("a.h", "op", "sensor work", -5).refused == {
        "a.h": "shelve duration must be positive"
    }
    assert e.unshelve("a.h", "op").refused == {"a.h": "not shelved"}
    assert e.shelve("a.h", "op", "sensor work", 600).ok
    assert e.shelve("a.h", "op", "again", 600).refused == {"a.h": "already shelved"}
    assert e.set_out_of_service("b.h", "eng", "").refused == {"b.h": "reason required"}
    assert e.set_out_of_service("b.h", "eng", "transmitter replaced", False).refused == {
        "b.h": "not out of service"
    }
    assert e.set_out_of_service("b.h", "eng", "transmitter replaced").ok
    assert e.set_out_of_service("b.h", "eng", "again").refused == {"b.h": "already out of service"}
    r = e.shelve("nope", "op", "x")
    assert not r.ok and r.message == "nope: unknown alarm"
    assert (
        sum(ev["transition"] in ("shelve", "out_of_service") for ev in h.events) == 2
    )  # refusals journal nothing


def test_timed_shelve_expires_and_the_alarm_sounds_again(make):
    h, e = _three(make)
    h.feed({"a": 6})
    assert e.annunciation().sounding == ("a.h",)
    r = e.shelve("a.h", "li", "transmitter being calibrated", 600)
    assert r.ok
    assert not e.annunciation().horn  # shelved: tracked, not annunciated
    v = e.view("a.h")
    assert (
        v.shelved
        and v.shelved_until == h.clock.t + 600
        and v.shelve_reason == "transmitter being calibrated"
    )
    shelve_ev = h.events[-1]
    assert (
        shelve_ev["transition"] == "shelve"
        and shelve_ev["shelved"]
        and "transmitter being calibrated" in shelve_ev["comment"]
    )
    assert e.ack("all", "li").done == ()  # "all" means all visible: the shelved alarm is not
    h.feed({"a": 4})
    h.feed({"a": 6})  # still evaluated and journaled while shelved, but silent
    assert h.events[-1]["transition"] == "raise" and h.events[-1]["shelved"] is True
    assert not e.annunciation().horn
    h.at(599)
    assert e.view("a.h").shelved
    h.at(2)
    last = h.events[-1]
    assert (last["transition"], last["user"], last["comment"]) == (
        "unshelve",
        "system",
        "shelve time expired",
    )
    assert e.annunciation().sounding == ("a.h",)  # unacknowledged and visible again


def test_one_shot_shelve_ends_when_the_alarm_returns_to_normal(make):
    h, e = _three(make)
    h.feed({"a": 6})
    assert e.shelve("a.h", "li", "known problem, crew on site").ok
    assert e.view("a.h").shelve_oneshot
    h.feed({"a": 4})
    assert [t for _, t, _ in h.transitions("a.h")][-2:] == ["clear", "unshelve"]
    assert not e.view("a.h").shelved
    assert e.annunciation().sounding == ("a.h",)  # RTN_UNACK, still to be acknowledged


def test_one_shot_shelve_is_bounded_by_the_maximum_shelve_time(make):
    h, e = _three(make)
    h.feed({"a": 6})
    assert e.shelve("a.h", "li", "crew on site").ok
    h.at(3599)
    assert e.view("a.h").shelved
    h.at(2)
    assert not e.view("a.h").shelved and h.events[-1]["transition"] == "unshelve"


def test_manual_unshelve(make):
    h, e = _three(make)
    h.feed({"b": 6})
    e.shelve("b.h", "li", "test", 60)
    r = e.unshelve("b.h", "li", "done")
    assert r.ok and h.events[-1]["comment"] == "done" and e.annunciation().priority == 1


def test_suppressed_by_design_while_condition_tag_is_nonzero(make):
    cfg = station(
        tag("run2.active"),
        tag("run2.dp", {"kind": "H", "limit": 50, "suppressed_by": "run2.active"}),
    )
    h = make(cfg)
    e = h.engine
    h.feed({"run2.active": 0, "run2.dp": 10})
    h.feed({"run2.active": 1})  # standby run taken out: its alarms are suppressed
    assert h.transitions() == [("run2.dp.h", "suppress", "NORMAL")]
    assert [v.alarm_id for v in e.snapshot()[1]] == ["run2.dp.h"] and e.view("run2.dp.h").suppressed
    h.feed({"run2.dp": 80})
    assert h.events[-1]["transition"] == "raise" and h.events[-1]["suppressed"]
    assert not e.annunciation().horn
    h.feed({"run2.active": 1}, quality=0)  # a BAD condition tag changes nothing
    assert e.view("run2.dp.h").suppressed
    h.feed({"run2.active": 0})
    assert h.events[-1]["transition"] == "unsuppress"
    assert e.annunciation().sounding == ("run2.dp.h",)


def test_out_of_service_is_tracked_but_silent(make):
    h, e = _three(make)
    assert e.set_out_of_service("c.h", "eng", "transmitter removed for repair").ok
    h.feed({"c": 9})
    assert not e.annunciation().horn
    v = e.view("c.h")
    assert v.out_of_service and v.state == "ACTIVE_UNACK"
    assert [ev["transition"] for ev in h.events] == ["out_of_service", "raise"]
    assert (
        h.events[0]["comment"] == "transmitter removed for repair" and h.events[0]["user"] == "eng"
    )
    assert e.set_out_of_service("c.h", "eng", "", False).ok
    assert h.events[-1]["transition"] == "in_service"
    assert e.annunciation().sounding == ("c.h",)


def test_horn_priority_silence_and_realarm(make):
    h, e = _three(make, realarm_after=300.0)
    assert e.annunciation().horn is False and e.annunciation().priority is None
    h.feed({"c": 6})
    assert e.annunciation().priority == 4
    h.feed({"b": 6})
    ann = e.annunciation()
    assert ann.horn and ann.priority == 1 and ann.sounding == ("b.h", "c.h")
    assert e.silence("li").ok
    ann = e.annunciation()
    assert not ann.horn and ann.unacked == 2  # silenced, not acknowledged
    assert e.view("b.h").state == "ACTIVE_UNACK"
    h.at(100)
    h.feed({"a": 6})  # a new alarm sounds the horn again
    assert e.annunciation().sounding == ("a.h",)
    assert e.ack("a.h", "li").ok
    assert not e.annunciation().horn
    h.at(199)
    assert not e.annunciation().horn
    h.at(2)  # 300 s after the silence: still unacknowledged -> re-annunciated
    assert e.annunciation().sounding == ("b.h", "c.h")
    assert [ev["alarm_id"] for ev in h.events if ev["transition"] == "rearm"] == ["b.h", "c.h"]
    assert e.ack("all", "li").ok
    n = len(h.events)
    h.at(1000)
    assert not e.annunciation().horn and len(h.events) == n  # acknowledged alarms never re-sound


def test_returned_to_normal_unacked_alarm_keeps_sounding_until_ack_or_silence(make):
    h, e = _three(make)
    h.feed({"a": 6})
    h.feed({"a": 4})
    assert e.annunciation().sounding == ("a.h",)
    e.ack("a.h", "li")
    assert not e.annunciation().horn and e.snapshot()[1] == []


def test_snapshot_is_versioned_and_sorted_by_priority_then_time(make):
    h, e = _three(make)
    v0, rows = e.snapshot()
    assert rows == []
    h.feed({"c": 6})
    h.clock.advance(1)
    h.feed({"a": 6})
    h.clock.advance(1)
    h.feed({"b": 6})
    v1, rows = e.snapshot()
    assert v1 > v0 and [r.alarm_id for r in rows] == ["b.h", "a.h", "c.h"]
    assert e.snapshot()[0] == v1  # nothing changed: same version
    e.shelve("c.h", "li", "noisy", 60)
    v2, rows = e.snapshot()
    assert v2 > v1 and rows[-1].shelved
    row = rows[0]
    assert (row.tag, row.kind, row.priority, row.value, row.limit) == ("b", "H", 1, 6.0, 5.0)
    assert row.message("zh") == "b高报警 (>= 5)" and row.as_dict()["alarm_id"] == "b.h"
    stats = e.stats()
    assert (stats["active"], stats["unacked"], stats["shelved"]) == (3, 3, 1)


def test_listener_failure_does_not_stop_processing(make):
    h, e = _three(make)

    def broken(_ev):
        raise RuntimeError("listener bug")

    e.add_listener(broken)
    h.feed({"a": 6})
    assert h.transitions() == [("a.h", "raise", "ACTIVE_UNACK")]
    e.remove_listener(broken)


def test_a_raise_waits_at_start_up_for_its_suppressing_condition(make):
    """A standby run's alarm is not annunciated before its suppression tag's first value."""
    cfg = station(
        tag("run2.standby"),
        tag("run2.monitor", {"kind": "L", "limit": 99, "suppressed_by": "run2.standby"}),
    )
    h = make(cfg)
    e = h.engine
    h.feed({"run2.monitor": 86})  # the monitor's position comes first, the calc tag later
    h.at(1.0)
    assert h.transitions() == [] and not e.annunciation().horn
    h.feed({"run2.standby": 1})
    h.at(0.5)
    assert [t[1] for t in h.transitions()] == ["suppress", "raise"]
    assert e.view("run2.monitor.l").suppressed and not e.annunciation().horn


def test_an_unknown_suppressing_condition_never_hides_an_alarm_for_good(make):
    from hmi.core.alarms.engine import SUPPRESSION_GRACE

    cfg = station(
        tag("run2.standby"),
        tag("run2.monitor", {"kind": "L", "limit": 99, "suppressed_by": "run2.standby"}),
    )
    h = make(cfg)
    e = h.engine
    h.feed({"run2.monitor": 86})
    h.feed({"run2.standby": 1}, quality=0)  # the condition tag is BAD: no GOOD value yet
    h.at(SUPPRESSION_GRACE - 1)
    assert h.transitions() == []
    h.at(2.0)
    assert h.transitions() == [("run2.monitor.l", "raise", "ACTIVE_UNACK")]
    assert e.annunciation().sounding == ("run2.monitor.l",)
