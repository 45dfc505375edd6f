"""The drill report from alarm events and real audit records; the scenario catalog; drill spans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hmi.core.audit import AuditTrail
from hmi.core.training import (
    DrillInfo,
    build_report,
    drill_scenario,
    drill_scenarios,
    fmt_seconds,
    in_training,
    training_periods,
)
from hmi.core.training.reportpdf import write_drill_pdf

T0 = 1_800_000_000.0


def _ev(alarm_id: str, transition: str, t: float, user: str = "", tag: str = "") -> dict[str, Any]:
    return {
        "seq": int(t * 10),
        "alarm_id": alarm_id,
        "tag": tag or alarm_id.rsplit(".", 1)[0],
        "priority": 2,
        "transition": transition,
        "ts": T0 + t,
        "user": user,
        "message": {"en": f"{alarm_id} message", "zh": f"{alarm_id} 说明"},
    }


def _info(expected: tuple[str, ...] | None = None) -> DrillInfo:
    return DrillInfo(
        "d1", "demo", "gas_leak", "trainer", "op1", T0, 10.0, "A leak", "泄漏", expected
    )


@pytest.fixture
def audit(tmp_path: Any) -> AuditTrail:
    trail = AuditTrail(tmp_path / "users.db", "demo")
    yield trail
    trail.close()


def _records(audit: AuditTrail) -> list[Any]:
    audit.append("training_start", user="trainer", target="gas_leak", ts=T0)
    audit.append("login", user="op1", ts=T0 + 1.0)
    audit.append("ack", user="op1", target="gd05.lel.h", ts=T0 + 9.5)
    audit.append("write", user="op1", target="odor.dose.setpoint", result="requested",
                 details={"new": 23.0}, ts=T0 + 12.0)  # fmt: skip
    audit.append("write", user="op1", target="odor.dose.setpoint", result="success",
                 details={"new": 23.0}, ts=T0 + 12.4)  # fmt: skip
    audit.append("shelve", user="op1", target="gd06.lel.h", ts=T0 + 20.0)
    audit.append("reset", user="system", origin="system", target="x", ts=T0 + 21.0)
    audit.append("write", user="op1", target="late", result="success", ts=T0 + 99.0)
    return audit.records()


def test_times_to_acknowledge_and_to_act(audit):
    events = [
        _ev("old.alarm", "ack", 0.5, "op1"),  # raised before the drill: ignored
        _ev("gd05.lel.h", "raise", 4.0),
        _ev("gd05.lel.h", "ack", 9.5, "op1"),
        _ev("gd05.lel.h", "clear", 30.0),
        _ev("gd05.lel.h", "raise", 40.0),  # raised again: a second row, never acknowledged
        _ev("gd05.lel.hh", "raise", 15.0),
    ]
    r = build_report(_info(), events, _records(audit), T0 + 60.0)
    rows = [(a["alarm_id"], a["raised_s"], a["acked_s"], a["time_to_ack_s"], a["ack_user"])
            for a in r["alarms"]]  # fmt: skip
    assert rows == [
        ("gd05.lel.h", 4.0, 9.5, 5.5, "op1"),
        ("gd05.lel.hh", 15.0, None, None, ""),
        ("gd05.lel.h", 40.0, None, None, ""),
    ]
    assert r["alarms"][0]["cleared_s"] == 30.0
    s = r["summary"]
    assert (s["alarms_raised"], s["acknowledged"], s["unacknowledged"]) == (3, 1, 2)
    assert s["time_to_ack_s"] == {"mean": 5.5, "max": 5.5}
    assert s["first_ack_s"] == 9.5
    assert s["first_action_s"] == 12.4  # the write's result row, not its request
    # actions: no login, no "requested" row, no system row, nothing after the end
    assert [(a["t_s"], a["action"], a["result"]) for a in r["actions"]] == [
        (9.5, "ack", "ok"),
        (12.4, "write", "success"),
        (20.0, "shelve", "ok"),
    ]
    assert r["actions"][1]["value"] == 23.0
    assert r["missed"] is None and r["unexpected"] is None
    assert r["training"] is True and r["duration_s"] == 60.0


def test_expected_alarms_missed_and_unexpected(audit):
    events = [_ev("gd05.lel.h", "raise", 4.0), _ev("outlet.pressure.h", "raise", 8.0)]
    r = build_report(
        _info(("gd05.lel", "gd05.lel.hh", "gas.detectors_level1.h")), events, [], T0 + 30
    )
    assert r["missed"] == ["gd05.lel.hh", "gas.detectors_level1.h"]
    assert r["unexpected"] == ["outlet.pressure.h"]
    assert [a["expected"] for a in r["alarms"]] == [True, False]  # gd05.lel.h by its tag


def test_possible_and_hidden_alarms():
    info = DrillInfo("d1", "demo", "x", "trainer", "", T0, 10.0, expected=("gd05.lel.h",),
                     possible=("gas.detectors_level1.h",))  # fmt: skip
    hidden = _ev("gd06.lel.h", "raise", 6.0) | {"suppressed": True}
    events = [_ev("gd05.lel.h", "raise", 4.0), _ev("gas.detectors_level1.h", "raise", 5.0), hidden]
    r = build_report(info, events, [], T0 + 30)
    assert [a["alarm_id"] for a in r["alarms"]] == ["gd05.lel.h", "gas.detectors_level1.h"]
    assert r["missed"] == [] and r["unexpected"] == []
    assert r["alarms"][1]["possible"] and not r["alarms"][1]["expected"]
    assert r["drill"]["possible"] == ["gas.detectors_level1.h"]


def test_report_files(audit, tmp_path):
    from hmi.core.analytics.reportfile import write_json

    r = build_report(
        _info(("gd05.lel.h",)), [_ev("gd05.lel.h", "raise", 4.0)], _records(audit), T0 + 60
    )
    r["station"] = {"id": "demo", "name": {"en": "Demo", "zh": "演示"}, "timezone": "Asia/Shanghai"}
    write_json(r, tmp_path / "training" / "d1.json")
    write_drill_pdf(r, tmp_path / "training" / "d1.pdf", "zh_CN")
    assert (tmp_path / "training" / "d1.pdf").read_bytes()[:5] == b"%PDF-"
    periods = training_periods(tmp_path)
    assert periods == [(T0, T0 + 60, "d1")]
    assert in_training(T0 + 10, periods) == "d1"
    assert in_training(T0 + 61, periods) == ""
    # a drill still running (no end yet) covers everything after its start
    running = {
        "drill": _info().as_dict() | {"drill_id": "d2", "started_at": T0 + 100},
        "ended_at": None,
    }
    (tmp_path / "training" / "d2.json").write_text(json.dumps(running), encoding="utf-8")
    (tmp_path / "training" / "broken.json").write_text("{", encoding="utf-8")
    assert in_training(T0 + 10_000, training_periods(tmp_path)) == "d2"


def test_catalog_descriptions_and_fallbacks():
    names = [s.name for s in drill_scenarios()]
    assert "gas_leak" in names and "normal" not in names
    s = drill_scenario("gas_leak")
    assert s.description("en") and s.description("zh_CN")  # zh falls back to en when missing
    assert "gd05" in s.timeline
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        drill_scenario("nope")


def test_fmt_seconds():
    assert [fmt_seconds(v) for v in (None, 5.25, 65.0, 3600.0)] == [
        "—",
        "5.2 s",
        "1 min 05 s",
        "60 min 00 s",
    ]
