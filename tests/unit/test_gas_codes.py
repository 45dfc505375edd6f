"""Every station config keeps to the gas codes: the GB 50028 §6.6.10 protection ladder, latched
gas-detector alarms (GB/T 50493) and Sm³ for volumes at 20 °C; bad configs fail with file:line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from hmi.config import ConfigError, load_station
from hmi.config.gascodes import is_normal_cubic
from hmi.config.protection import max_protection_setting

ROOT = Path(__file__).resolve().parents[2]
STATIONS = sorted(p for p in (ROOT / "station_configs").iterdir() if (p / "station.yaml").is_file())


@pytest.fixture(params=STATIONS, ids=[p.name for p in STATIONS])
def station(request: pytest.FixtureRequest):
    return load_station(request.param)


def test_every_station_has_an_ordered_ladder_within_the_code(station):
    assert station.protection.runs, "a station with regulator runs states their ladder"
    for run in station.protection.runs:
        values = [v for _r, v in run.ladder()]
        assert values == sorted(values) and len(set(values)) == len(values), run.id
        assert max(values[1:]) <= max_protection_setting(run.working_max) + 1e-9, run.id


def test_every_gas_detector_alarm_latches_and_no_volume_is_nm3(station):
    detectors = [t for t in station.tags if t.unit == "%LEL"]
    assert detectors
    for t in detectors:
        levels = [a for a in t.alarms if a.kind in ("H", "HH")]
        assert len(levels) == 2 and all(a.latched for a in levels), t.name
    assert not [t.name for t in station.tags if is_normal_cubic(t.unit)]


def test_gb50028_limits_by_outlet_class():
    assert max_protection_setting(0.4) == pytest.approx(0.44)
    assert max_protection_setting(0.2) == pytest.approx(0.24)
    assert max_protection_setting(1.6) == pytest.approx(1.76)
    assert max_protection_setting(0.05) == pytest.approx(0.075)


def _edit(tmp_path: Path, file: str, old: str, new: str) -> Path:
    dest = tmp_path / "st"
    shutil.copytree(ROOT / "station_configs" / "demo_city_gate", dest)
    path = dest / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return dest


def _problems(d: Path) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        load_station(d)
    return [str(p) for p in ei.value.problems]


def _line_of(d: Path, file: str, needle: str) -> int:
    lines = (d / file).read_text(encoding="utf-8").splitlines()
    return next(i + 1 for i, line in enumerate(lines) if needle in line)


def test_ladder_out_of_order_is_rejected_with_file_and_line(tmp_path):
    # the old demo error: the relief set above the slam-shut
    d = _edit(
        tmp_path, "station.yaml", "relief: 0.43, slam_shut: 0.435", "relief: 0.44, slam_shut: 0.435"
    )
    probs = _problems(d)
    line = _line_of(d, "station.yaml", "relief: 0.44")
    assert len(probs) == 1, probs
    assert f"station.yaml:{line}: " in probs[0]
    assert "protection.runs[reg1].slam_shut: ladder out of order" in probs[0]


def test_ladder_beyond_the_code_is_rejected(tmp_path):
    # the old demo ladder: monitor 0.44, relief 0.52, slam-shut 0.48 for a 0.4 MPa outlet
    d = _edit(
        tmp_path,
        "station.yaml",
        "monitor: 0.42, relief: 0.43, slam_shut: 0.435",
        "monitor: 0.44, relief: 0.46, slam_shut: 0.48",
    )
    probs = _problems(d)
    assert any(
        re.search(
            r"station\.yaml:\d+: protection\.runs\[reg1\]\.slam_shut: slam_shut 0\.48 MPa is "
            r"beyond GB 50028 §6\.6\.10 .*0\.44",
            p,
        )
        for p in probs
    ), probs
    assert any("relief 0.46 MPa is beyond" in p for p in probs)
    assert not any("monitor 0.44" in p for p in probs)  # exactly at the limit is allowed


def test_outlet_alarm_outside_the_ladder_and_inlet_above_its_class(tmp_path):
    d = _edit(tmp_path, "tags_odorizer_outlet.yaml", "limit: 0.425", "limit: 0.47")
    probs = _problems(d)
    line = _line_of(d, "tags_odorizer_outlet.yaml", "limit: 0.47")
    assert any(
        f"tags_odorizer_outlet.yaml:{line}: tags[outlet.pressure].alarms[0].limit: HH" in p
        for p in probs
    ), probs
    d2 = _edit(tmp_path / "b", "tags_inlet_filters.yaml", "limit: 3.96", "limit: 4.2")
    probs = _problems(d2)
    assert any("above the high_A class ceiling (4 MPa)" in p for p in probs), probs


def test_unlatched_gas_alarm_and_nm3_unit_are_rejected(tmp_path):
    d = _edit(tmp_path, "tags_gas_detection.yaml", "        latched: true\n", "")
    _edit_in_place(d / "tags_metering.yaml", "unit: Sm³/h", "unit: Nm³/h")
    probs = _problems(d)
    assert any(
        "tags[gd01.lel].alarms[0].latched: gas level 2 alarm must latch until reset" in p
        for p in probs
    ), probs
    assert any(
        re.search(
            r"tags_metering\.yaml:\d+: tags\[m1\.flow\.std\]\.unit: 'Nm³/h'.* Write 'Sm³/h'", p
        )
        for p in probs
    ), probs


def _edit_in_place(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
