"""Scenario timelines as data: loading, validation with file:line, evaluation, the CLI list."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.sim.model import Faults, StationModel
from drivers.sim.scenarios import SCENARIOS, TIMELINES, TimelineScenario, register_timeline_file
from drivers.sim.timeline import TimelineError, TimelineState, load_timeline, parse_time
from hmi.cli import main as cli_main
from hmi.config import load_station

ROOT = Path(__file__).resolve().parents[2]
START = 1704852000.0

DRILL = """\
name: my_drill
title: {en: My drill, zh: 我的演练}
description: {en: "Leak then fault", zh: "泄漏后故障"}
speed: 20
duration: 5 min
expected_alarms: [gd02.lel.h]
timeline:
  - {at: 10 s, ramp: leak, unit: 2, from: 0, to: 40, over: 20 s, note: a flange weeps}
  - {at: 1 min, set: detector_fault, unit: 2}
  - {at: 2 min, clear: leak, unit: 2}
  - {at: 2 min, set: supply_feed, value: 0.5}
"""


def test_every_builtin_scenario_is_a_timeline_file_with_both_languages():
    files = sorted(TIMELINES.glob("*.yaml"))
    assert len(files) >= 28
    names = {load_timeline(f).name for f in files}
    assert names <= set(SCENARIOS)
    for name in (
        "regulator_fail_closed", "pilot_freeze", "nuisance_slam_shut", "downstream_rupture",
        "upstream_overpressure", "transmitter_stuck", "transmitter_drift",
        "transmitter_underrange", "detector_drift", "detector_fault", "odorant_tank_low",
        "esd_spurious_close", "intrusion", "plc_stop", "serial_gateway_fault", "frozen_values",
        "outlet_overpressure", "gas_leak", "heater_trip", "supply_loss", "power_loss",
    ):  # fmt: skip
        cls = SCENARIOS[name]
        assert issubclass(cls, TimelineScenario), name
        assert cls.summary("en") and cls.summary("zh") != cls.summary("en")
        assert cls.speed >= 10 and cls.duration > 0
        text = cls.timeline()
        assert cls.summary("zh") in text and " s  " in text  # the events with their times


def test_expected_alarms_name_alarms_the_demo_station_has():
    cfg = load_station(ROOT / "station_configs" / "demo_city_gate")
    known = {t.alarm_id(a) for t in cfg.tags for a in t.alarms}
    known |= {f"{d.id}.comm" for d in cfg.devices if d.comm_alarm is not None}
    for name, cls in SCENARIOS.items():
        unknown = set(cls.expected_alarms) | set(cls.possible_alarms)
        unknown -= known
        assert not unknown, f"{name} names alarms the demo station does not have: {unknown}"


def test_times_parse_with_units():
    assert parse_time(90) == 90.0 and parse_time("90 s") == 90.0
    assert parse_time("45 min") == 2700.0 and parse_time("2 h") == 7200.0
    for bad in ("soon", -1, True, "5 weeks"):
        with pytest.raises(ValueError, match="is not a time"):
            parse_time(bad)


def test_a_drill_sets_ramps_and_clears_deterministically(tmp_path):
    path = tmp_path / "my_drill.yaml"
    path.write_text(DRILL, encoding="utf-8")
    spec = load_timeline(path)
    assert (spec.speed, spec.duration, spec.expected_alarms) == (20.0, 300.0, ("gd02.lel.h",))
    state = TimelineState(spec)
    assert state.value("leak", 2, 5.0) is None
    assert state.value("leak", 2, 20.0) == pytest.approx(20.0)  # half way up the ramp
    assert state.value("leak", 2, 90.0) == pytest.approx(40.0)
    assert state.value("leak", 2, 121.0) is None  # cleared
    f = Faults()
    state.apply(f, 61.0)
    assert f.leak == {2: pytest.approx(40.0)} and f.detector_fault == {2} and f.supply_feed == 1.0
    state.apply(f, 130.0)
    assert f.leak == {} and f.supply_feed == 0.5
    text = spec.timeline_text()
    assert "ramp leak[2] 0 -> 40.0 over 20 s  (a flange weeps)" in text and "泄漏后故障" in text

    register_timeline_file(path)
    try:
        runs = []
        for _ in range(2):
            m = StationModel(seed=3, start_time=START, scenario="my_drill")
            m.step(40.0)
            runs.append(m.get("gd02.lel"))
        assert runs[0] == runs[1] and runs[0] > 30.0  # same seed, same drill, same values
    finally:
        SCENARIOS.pop("my_drill")


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        ("  - {at: 1 min, set: detector_fault, unit: 2}", 9, "unknown fault 'detectr_fault'"),
        ("  - {at: 10 s, ramp: leak", 8, "fault leak needs unit:"),
        ("  - {at: 1 min, set: detector_fault, unit: 2}", 9, "unknown key 'colour'"),
        (
            "  - {at: 2 min, set: supply_feed, value: 0.5}",
            11,
            "supply_feed: value must be a number",
        ),
        ("  - {at: 1 min, set: detector_fault, unit: 2}", 9, "'soon' is not a time"),
        ("description:", 3, "description needs both languages"),
    ],
)
def test_bad_drills_name_file_line_and_the_problem(tmp_path, change, line, message):
    bad = {
        "unknown fault 'detectr_fault'": ("set: detector_fault", "set: detectr_fault"),
        "fault leak needs unit:": ("unit: 2, from", "from"),
        "unknown key 'colour'": ("unit: 2}", "unit: 2, colour: red}"),
        "supply_feed: value must be a number": ("value: 0.5", "value: half"),
        "'soon' is not a time": ("at: 1 min", "at: soon"),
        "description needs both languages": ('zh: "泄漏后故障"', 'fr: "fuite"'),
    }[message]
    lines = DRILL.splitlines()
    i = next(k for k, text in enumerate(lines) if text.startswith(change))
    lines[i] = lines[i].replace(*bad)
    path = tmp_path / "drill.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TimelineError) as err:
        load_timeline(path)
    assert str(err.value).startswith(f"{path}:{line}: ") and message in str(err.value)


def test_broken_yaml_and_missing_file_are_clear(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntimeline: [\n  {at: 1,\n", encoding="utf-8")
    with pytest.raises(TimelineError, match=rf"^{path}:\d+: not valid YAML"):
        load_timeline(path)
    with pytest.raises(TimelineError, match="cannot read the scenario file"):
        load_timeline(tmp_path / "none.yaml")


def test_cli_lists_every_scenario_in_zh_and_en(capsys, tmp_path):
    assert cli_main(["simulate", "--list-scenarios"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(SCENARIOS)} scenarios")
    for name, cls in SCENARIOS.items():
        assert f"\n{name}  (x" in out and cls.summary("zh") in out and cls.summary("en") in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(DRILL.replace("set: detector_fault", "set: nothing"), encoding="utf-8")
    assert cli_main(["simulate", "--scenario-file", str(bad), "--list-scenarios"]) == 2
    assert f"{bad}:9: unknown fault 'nothing'" in capsys.readouterr().err


def test_the_example_drill_in_the_docs_loads_and_plays(tmp_path):
    doc = (ROOT / "docs" / "SIMULATOR.md").read_text(encoding="utf-8")
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = load_timeline(tmp_path / "flange_then_fault.yaml", text=block)
    assert spec.name == "flange_then_fault" and spec.expected_alarms
    state = TimelineState(spec)
    f = Faults()
    state.apply(f, 11 * 60.0)
    assert f.leak == {5: pytest.approx(25.0)} and f.detector_fault == {5}
    for name in SCENARIOS:
        assert f"`{name}`" in doc, f"docs/SIMULATOR.md does not list {name}"
