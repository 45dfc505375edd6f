"""Alarm engine: state model transitions, conditions, delays, deadband, latching, BAD input, comm loss."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.base import DeviceState, Quality
from hmi.core.tagtable import TagUpdate
from tests.unit.test_alarm_support import harness_factory, station, tag


@pytest.fixture
def make(tmp_path):
    """Factory of engines on a shared injected clock (closed after the test)."""
    yield from harness_factory(tmp_path)


BAD = int(Quality.BAD)
UNCERTAIN = int(Quality.UNCERTAIN)
EVENT_KEYS = {
    "seq", "alarm_id", "tag", "kind", "priority", "state", "prev_state", "transition", "shelved",
    "suppressed", "out_of_service", "latched", "ts", "value", "limit", "user", "comment", "remote",
    "message", "area",
}  # fmt: skip


def test_every_transition_of_the_state_model(make):
    cfg = station(
        tag(
            "p",
            {
                "kind": "H",
                "limit": 5.0,
                "priority": 2,
                "area": "outlet",
                "message": {"en": "Outlet high", "zh": "出口压力高"},
            },
        )
    )
    h = make(cfg)
    e = h.engine
    h.feed({"p": 4.0})
    assert h.events == [] and h.state("p.h") == "NORMAL"
    h.feed({"p": 5.0})  # NORMAL -> ACTIVE_UNACK (limit reached)
    h.clock.advance(1)
    assert e.ack("p.h", "op1", "seen").ok  # ACTIVE_UNACK -> ACTIVE_ACK
    h.feed({"p": 4.0})  # ACTIVE_ACK -> NORMAL
    h.feed({"p": 6.0})  # NORMAL -> ACTIVE_UNACK
    h.feed({"p": 4.0})  # ACTIVE_UNACK -> RTN_UNACK
    h.feed({"p": 6.0})  # RTN_UNACK -> ACTIVE_UNACK
    h.feed({"p": 4.0})  # -> RTN_UNACK
    assert e.ack("p.h", "op1").ok  # RTN_UNACK -> NORMAL
    assert [(ev["prev_state"], ev["transition"], ev["state"]) for ev in h.events] == [
        ("NORMAL", "raise", "ACTIVE_UNACK"),
        ("ACTIVE_UNACK", "ack", "ACTIVE_ACK"),
        ("ACTIVE_ACK", "clear", "NORMAL"),
        ("NORMAL", "raise", "ACTIVE_UNACK"),
        ("ACTIVE_UNACK", "clear", "RTN_UNACK"),
        ("RTN_UNACK", "raise", "ACTIVE_UNACK"),
        ("ACTIVE_UNACK", "clear", "RTN_UNACK"),
        ("RTN_UNACK", "ack", "NORMAL"),
    ]
    first = h.events[0]
    assert set(first) == EVENT_KEYS
    assert first["kind"] == "H" and first["priority"] == 2 and first["area"] == "outlet"
    assert (
        first["value"] == 5.0
        and first["limit"] == 5.0
        and first["message"] == {"en": "Outlet high", "zh": "出口压力高"}
    )
    assert (
        h.events[1]["user"] == "op1"
        and h.events[1]["comment"] == "seen"
        and h.events[1]["remote"] is False
    )
    assert [ev["seq"] for ev in h.events] == list(range(1, 9))
    assert e.snapshot()[1] == []


def test_low_limits_deadband_and_independent_hh_h(make):
    cfg = station(
        tag("p", {"kind": "LL", "limit": 1.0}, {"kind": "L", "limit": 2.0, "deadband": 0.5}),
        tag("q", {"kind": "HH", "limit": 9.0}, {"kind": "H", "limit": 7.0, "deadband": 1.0}),
    )
    h = make(cfg)
    h.feed({"p": 3.0, "q": 5.0})
    h.feed({"p": 2.0, "q": 9.5})  # L reached; HH and H both raised
    assert sorted(h.transitions()) == [
        ("p.l", "raise", "ACTIVE_UNACK"),
        ("q.h", "raise", "ACTIVE_UNACK"),
        ("q.hh", "raise", "ACTIVE_UNACK"),
    ]
    h.events.clear()
    h.feed({"p": 2.4, "q": 6.5})  # inside both deadbands: L and H stay; HH (no deadband) clears
    assert h.transitions() == [("q.hh", "clear", "RTN_UNACK")]
    h.feed({"p": 2.6, "q": 5.9})  # beyond the deadbands: both clear
    assert sorted(h.transitions()[1:]) == [
        ("p.l", "clear", "RTN_UNACK"),
        ("q.h", "clear", "RTN_UNACK"),
    ]
    h.events.clear()
    h.feed({"p": 0.5})  # LL and L together
    assert sorted(h.transitions()) == [
        ("p.l", "raise", "ACTIVE_UNACK"),
        ("p.ll", "raise", "ACTIVE_UNACK"),
    ]


def test_on_delay_needs_a_persisting_condition(make):
    h = make(station(tag("p", {"kind": "H", "limit": 5.0, "on_delay": 3.0})))
    h.feed({"p": 6.0})
    h.at(2.0)
    h.feed({"p": 4.0})  # gone before the delay: nothing
    h.at(2.0)
    assert h.events == []
    h.feed({"p": 6.0})
    h.at(2.9)
    assert h.events == []
    h.at(0.2)
    assert h.transitions() == [("p.h", "raise", "ACTIVE_UNACK")]
    assert h.events[0]["ts"] == h.clock.t


def test_off_delay_holds_the_alarm(make):
    h = make(station(tag("p", {"kind": "H", "limit": 5.0, "off_delay": 10.0})))
    h.feed({"p": 6.0})
    h.feed({"p": 4.0})
    h.at(5.0)
    h.feed({"p": 6.0})  # back before the off-delay ran out: still the same alarm
    h.at(10.0)
    assert h.transitions() == [("p.h", "raise", "ACTIVE_UNACK")]
    h.feed({"p": 4.0})
    h.at(9.0)
    assert len(h.events) == 1
    h.at(1.5)
    assert h.transitions()[-1] == ("p.h", "clear", "RTN_UNACK")


def test_latched_alarm_needs_reset_after_return_to_normal(make):
    h = make(
        station(
            tag("esd", {"kind": "discrete", "alarm_value": 1, "latched": True, "priority": 1}),
            tag("p", {"kind": "H", "limit": 5}),
        )
    )
    e = h.engine
    h.feed({"esd": 1.0})
    r = e.reset("esd.discrete", "op1")
    assert not r.ok and "condition still active" in r.refused["esd.discrete"]
    assert e.reset("p.h", "op1").refused == {"p.h": "not latched"}
    h.feed({"esd": 0.0})  # condition normal, alarm held
    assert h.state("esd.discrete") == "ACTIVE_UNACK"
    assert h.events[-1]["transition"] == "clear" and h.events[-1]["latched"] is True
    view = e.view("esd.discrete")
    assert view.latched and view.latching and not view.condition
    assert e.ack("esd.discrete", "op1").ok
    assert h.state("esd.discrete") == "ACTIVE_ACK"  # acknowledged, still waiting for reset
    h.feed({"esd": 1.0})  # back in alarm while held: same alarm, no new raise
    assert [t for _, t, _ in h.transitions()] == ["raise", "clear", "ack"]
    assert (
        e.reset("esd.discrete", "op1").refused["esd.discrete"].startswith("condition still active")
    )
    h.feed({"esd": 0.0})
    r = e.reset("esd.discrete", "op2", "checked on site")
    assert r.ok and r.done == ("esd.discrete",)
    assert h.state("esd.discrete") == "NORMAL"
    last = h.events[-1]
    assert (last["transition"], last["user"], last["comment"], last["latched"]) == (
        "reset",
        "op2",
        "checked on site",
        False,
    )
    assert e.reset("esd.discrete", "op2").refused == {"esd.discrete": "not latched"}


def test_reset_of_unacknowledged_latched_alarm_acknowledges_it(make):
    h = make(station(tag("ss", {"kind": "discrete", "normal_value": 0, "latched": True})))
    h.feed({"ss": 1.0})
    h.feed({"ss": 0.0})
    assert h.engine.annunciation().horn
    assert h.engine.reset("ss.discrete", "op1").ok
    assert h.state("ss.discrete") == "NORMAL"
    assert not h.engine.annunciation().horn


def test_bad_or_uncertain_input_neither_raises_nor_clears(make):
    h = make(station(tag("p", {"kind": "H", "limit": 5.0}), tag("q", {"kind": "L", "limit": 1.0})))
    h.feed({"p": 6.0, "q": 2.0})
    assert h.transitions() == [("p.h", "raise", "ACTIVE_UNACK")]
    # stale / bad values on the wrong side of the limits change nothing
    h.feed({"p": 0.0, "q": 0.0}, quality=BAD)
    h.feed({"p": 0.0, "q": 0.0}, quality=UNCERTAIN)
    h.feed({"p": np.nan, "q": np.nan}, quality=BAD)
    assert len(h.events) == 1 and h.state("p.h") == "ACTIVE_UNACK" and h.state("q.l") == "NORMAL"
    h.feed({"p": 4.0, "q": 0.5})  # GOOD again: evaluated
    assert h.transitions()[1:] == [("p.h", "clear", "RTN_UNACK"), ("q.l", "raise", "ACTIVE_UNACK")]


def test_bad_input_cancels_a_running_on_delay(make):
    h = make(station(tag("p", {"kind": "H", "limit": 5.0, "on_delay": 2.0})))
    h.feed({"p": 6.0})
    h.at(1.0)
    h.feed({"p": 6.0}, quality=BAD)
    h.at(2.0)
    assert h.events == []
    h.feed({"p": 6.0})  # fresh GOOD value: the delay starts again
    h.at(1.0)
    assert h.events == []
    h.at(1.1)
    assert h.transitions() == [("p.h", "raise", "ACTIVE_UNACK")]


def test_deviation_from_setpoint_tag_and_fixed_setpoint(make):
    cfg = station(
        tag("sp", range=(0, 1)),
        tag(
            "p",
            {"kind": "deviation", "setpoint_tag": "sp", "deviation": 0.05, "deadband": 0.01},
            range=(0, 1),
        ),
        tag("odor", {"kind": "deviation", "setpoint": 20.0, "deviation": 5.0}),
    )
    h = make(cfg)
    h.feed({"sp": 0.40, "p": 0.42, "odor": 21})
    assert h.events == []
    h.feed({"sp": 0.30})  # the set point moved: p is now 0.12 off
    assert h.transitions() == [("p.deviation", "raise", "ACTIVE_UNACK")]
    assert abs(h.events[0]["value"] - 0.12) < 1e-9 and h.events[0]["limit"] == 0.05
    h.feed({"p": 0.345})  # 0.045 off: inside the deadband, stays
    assert len(h.events) == 1
    h.feed({"sp": 0.30}, quality=BAD)  # set point BAD: not evaluated
    h.feed({"p": 0.30})
    assert len(h.events) == 1
    h.feed({"sp": 0.30})
    assert h.transitions()[-1] == ("p.deviation", "clear", "RTN_UNACK")
    h.feed({"odor": 14.0})
    assert h.transitions()[-1] == ("odor.deviation", "raise", "ACTIVE_UNACK")


def test_rate_of_change_in_units_per_minute(make):
    h = make(station(tag("p", {"kind": "roc", "rate": 0.6}, range=(0, 10))), roc_window=10.0)
    t = h.clock.t
    for k in range(12):  # 0.005 per second = 0.3 per minute: fine
        h.feed({"p": 1.0 + 0.005 * k}, ts=t + k)
    assert h.events == []
    base = 1.0 + 0.005 * 11
    for k in range(1, 12):  # 0.02 per second = 1.2 per minute: alarm
        h.feed({"p": base + 0.02 * k}, ts=t + 11 + k)
    assert h.transitions() == [("p.roc", "raise", "ACTIVE_UNACK")]
    assert h.events[0]["value"] >= 0.6 and h.events[0]["limit"] == 0.6
    top = base + 0.02 * 11
    for k in range(1, 12):  # steady again
        h.feed({"p": top}, ts=t + 22 + k)
    assert h.transitions()[-1] == ("p.roc", "clear", "RTN_UNACK")


def test_frozen_value_alarm_for_a_stopped_heartbeat(make):
    h = make(station(tag("hb", {"kind": "frozen", "limit": 10.0, "priority": 2}, range=(0, 65535))))
    t = h.clock.t
    for k in range(15):  # counting: never frozen
        h.feed({"hb": float(k)}, ts=t + k)
    assert h.events == []
    for k in range(15, 26):  # stuck at 14 for 11 s
        h.feed({"hb": 14.0}, ts=t + k)
    assert h.transitions() == [("hb.frozen", "raise", "ACTIVE_UNACK")]
    assert h.events[0]["value"] >= 10.0 and h.events[0]["limit"] == 10.0
    h.feed({"hb": 0.0}, ts=t + 26)  # counting again (wrapped)
    assert h.transitions()[-1] == ("hb.frozen", "clear", "RTN_UNACK")
    h.feed({"hb": 0.0}, quality=BAD, ts=t + 27)  # a gap in the data is not a frozen value
    for k in range(28, 36):
        h.feed({"hb": 0.0}, ts=t + k)
    assert h.transitions()[-1] == ("hb.frozen", "clear", "RTN_UNACK")


def test_discrete_and_fault_alarms(make):
    cfg = station(
        tag("door", {"kind": "discrete", "alarm_value": 1, "priority": 4}),
        tag("esd", {"kind": "discrete", "normal_value": 1, "priority": 1}),
        tag("gd1", {"kind": "fault", "alarm_value": 1}),
    )
    h = make(cfg)
    h.feed({"door": 0, "esd": 1, "gd1": 0})
    assert h.events == []
    h.feed({"door": 1, "esd": 0, "gd1": 1})
    assert sorted(h.transitions()) == [
        ("door.discrete", "raise", "ACTIVE_UNACK"),
        ("esd.discrete", "raise", "ACTIVE_UNACK"),
        ("gd1.fault", "raise", "ACTIVE_UNACK"),
    ]
    h.feed({"esd": 2})  # any value but the normal one is abnormal: still active, no new event
    assert len(h.events) == 3


def test_comm_loss_alarm_says_why(make):
    h = make(station(tag("p", {"kind": "H", "limit": 5})))
    e = h.engine
    e.device_state("plc", DeviceState.STOPPED, DeviceState.CONNECTING, "")
    h.at(2.0)
    e.device_state("plc", DeviceState.CONNECTING, DeviceState.UP, "")
    h.at(10.0)
    assert h.events == []  # connected within the on-delay: no alarm
    e.device_state(
        "plc", DeviceState.UP, DeviceState.BACKOFF, "connection refused by 127.0.0.1:5020"
    )
    h.at(4.0)
    assert h.events == []
    h.at(1.5)
    assert h.transitions() == [("plc.comm", "raise", "ACTIVE_UNACK")]
    ev = h.events[0]
    assert ev["kind"] == "comm" and ev["tag"] == "plc" and ev["priority"] == 2
    assert (
        ev["message"]["en"]
        == "Communication lost: Station PLC: connection refused by 127.0.0.1:5020"
    )
    assert ev["message"]["zh"].startswith("通信中断：站控PLC")
    view = [v for v in e.snapshot()[1] if v.alarm_id == "plc.comm"][0]
    assert "connection refused" in view.message("en")
    e.device_state("plc", DeviceState.BACKOFF, DeviceState.CONNECTING, "timeout after 1.0 s")
    assert "timeout" in e.view("plc.comm").message_en  # the reason follows the device
    e.device_state("plc", DeviceState.CONNECTING, DeviceState.STOPPED, "stopping")
    assert h.state("plc.comm") == "ACTIVE_UNACK"  # shutdown is not a recovery
    e.device_state("plc", DeviceState.CONNECTING, DeviceState.UP, "")
    assert h.transitions()[-1] == ("plc.comm", "clear", "RTN_UNACK")
    e.device_state("nosuch", DeviceState.UP, DeviceState.BACKOFF, "x")  # unknown device: ignored


def test_disabled_alarms_and_comm_alarms_are_not_built(make):
    cfg = station(
        tag("p", {"kind": "H", "limit": 5, "enabled": False}),
        devices=[{"id": "plc", "protocol": "modbus_tcp", "comm_alarm": {"enabled": False}}],
    )
    h = make(cfg)
    assert h.engine.alarm_ids() == []
    h.feed({"p": 9})
    h.engine.device_state("plc", DeviceState.UP, DeviceState.BACKOFF, "x")
    h.at(60)
    assert h.events == []


def test_string_updates_are_ignored_by_numeric_alarms(make):
    cfg = station(tag("p", {"kind": "H", "limit": 5}), tag("s", type="string"))
    h = make(cfg)
    upd = TagUpdate(
        np.array([1], np.int32),
        np.array(["text"], dtype=object),
        np.array([192], np.uint8),
        np.array([h.clock.t]),
        [""],
    )
    h.engine.process(upd)
    h.engine.process(TagUpdate.empty())
    assert h.events == []


def test_vectorized_limits_match_a_plain_evaluation(make):
    rng = np.random.default_rng(7)
    n = 400
    tags = [
        tag(
            f"t{i}",
            {"kind": "HH", "limit": 90.0},
            {"kind": "H", "limit": 70.0, "deadband": 2.0},
            {"kind": "L", "limit": 20.0},
        )
        for i in range(n)
    ]
    h = make(station(*tags))
    active = {}
    for _ in range(6):
        values = rng.uniform(0, 100, n)
        quality = rng.choice([192, 192, 192, 0], n)
        for q in (192, 0):
            sel = np.nonzero(quality == q)[0]
            h.feed({f"t{i}": values[i] for i in sel}, quality=q)
        for i in range(n):  # the same rules, written out per tag
            if quality[i] != 192:
                continue
            v = values[i]
            active[f"t{i}.hh"] = v >= 90.0
            prev_h = active.get(f"t{i}.h", False)
            active[f"t{i}.h"] = v >= 68.0 if prev_h else v >= 70.0
            active[f"t{i}.l"] = v <= 20.0
    got = {v.alarm_id for v in h.engine.snapshot()[1] if v.condition}
    assert got == {a for a, on in active.items() if on}


def test_bad_pv_alarm_while_the_device_talks_and_not_on_comm_loss(make):
    pv = {
        "kind": "bad_pv",
        "priority": 3,
        "on_delay": 5,
        "message": {"en": "PT-501 instrument fault", "zh": "PT-501仪表故障"},
    }
    h = make(station(tag("p", pv, {"kind": "H", "limit": 5})))
    e = h.engine
    assert e.view("p.bad_pv").kind == "bad_pv"
    h.feed({"p": 1.0}, quality=BAD)  # BAD before the device was ever UP: no instrument fault
    h.at(10.0)
    assert h.events == []
    e.device_state("plc", DeviceState.CONNECTING, DeviceState.UP, "")
    h.feed({"p": 1.0})
    h.feed({"p": float("nan")}, quality=BAD)  # the device talks, the value is BAD
    h.at(4.0)
    assert h.events == []  # within the on-delay
    h.at(1.5)
    assert h.transitions() == [("p.bad_pv", "raise", "ACTIVE_UNACK")]
    assert h.events[0]["message"]["en"] == "PT-501 instrument fault: bad value"
    assert h.events[0]["message"]["zh"] == "PT-501仪表故障：bad value"
    h.feed({"p": 2.0})  # GOOD again: clears at once (no off-delay)
    assert h.transitions()[-1] == ("p.bad_pv", "clear", "RTN_UNACK")
    assert e.ack("p.bad_pv", "op1").ok
    h.events.clear()
    # comm loss: the tags go BAD first, the device state follows within the on-delay
    h.feed({"p": 2.0}, quality=BAD)
    h.at(1.0)
    e.device_state("plc", DeviceState.UP, DeviceState.DEGRADED, "timeout after 1.0 s")
    h.at(10.0)
    assert h.transitions() == [("plc.comm", "raise", "ACTIVE_UNACK")]  # only the comm alarm
    # the device talks again: the old BAD values raise nothing; a fresh BAD read does
    e.device_state("plc", DeviceState.DEGRADED, DeviceState.UP, "recovered")
    h.at(6.0)
    assert h.transitions()[-1] == ("plc.comm", "clear", "RTN_UNACK")
    h.feed({"p": 2.0}, quality=BAD)
    h.at(6.0)
    assert h.transitions()[-2:] == [
        ("plc.comm", "clear", "RTN_UNACK"),
        ("p.bad_pv", "raise", "ACTIVE_UNACK"),
    ]
    h.feed({"p": 3.0}, quality=UNCERTAIN)  # stale is not BAD
    assert h.transitions()[-1] == ("p.bad_pv", "clear", "RTN_UNACK")
    assert h.state("p.h") == "NORMAL"  # BAD input never raised the limit alarm


def test_bad_pv_alarm_needs_an_on_delay():
    with pytest.raises(ValueError, match="a bad_pv alarm needs 'on_delay' > 0"):
        station(tag("p", {"kind": "bad_pv"}))
