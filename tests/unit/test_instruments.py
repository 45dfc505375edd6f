"""One name per instrument: every field instrument tag of both demo stations has its ISA
number, no number names two tags, and the P&ID bubbles show the numbers of the tags bound
there (the old error: the filter inlet valves drawn as XV-101, the ESD valve's number)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hmi import paths
from hmi.config import ConfigError, load_station
from hmi.config.instruments import instrument_tokens, loop_of
from hmi.ui.mimic.screen import ScreenError, load_screen

ROOT = Path(__file__).resolve().parents[2]
STATIONS = sorted(p.parent for p in (ROOT / "station_configs").glob("*/station.yaml"))

#: tags whose instrument the P&ID and the uplink rely on (name -> ISA number), per station
EXPECTED = {
    "demo_city_gate": {
        "outlet.pressure": "PT-501",
        "inlet.pressure": "PT-101",
        "esd.open": "ZSO-101",
        "esd.closed": "ZSC-101",
        "flt1.in_service": "ZSO-102",
        "flt2.in_service": "ZSO-103",
        "m1.flow.std": "FQI-201A",
        "reg1.monitor.position": "ZT-401M",
        "reg2.active.setpoint": "PIC-402",
        "gd10.lel": "GD-10",
        "odor.dose": "AIT-601",
    },
    "demo_regulator_station": {
        "outlet.pressure": "PT-501",
        "esd.open": "ZSO-101",
        "m1.flow.std": "FQI-201",
        "reg1.ssv.trip_low": "PZSL-401",
        "outlet.valve.open": "ZSO-502",
        "gd03.lel": "GD-03",
    },
}
#: read from a device but not a measurement of its own: figures the flow computer, the UPS
#: or the chromatograph compute, protection settings, and the heater/odorizer controller's
#: mirrors of PLC tags (the PLC tag carries the number)
_NOT_INSTRUMENTS = (
    "total",
    "zfactor",
    "velocity",
    "sos",
    "health",
    "load",
    "used",
    "battery",
    "monitor.setpoint",
    "ssv.setpoint",
    "relief.setpoint",
)


def _is_field_measurement(cfg, t) -> bool:
    """A read-only value with an engineering unit from a field device (not system/calc)."""
    protocol = next(d.protocol for d in cfg.devices if d.id == t.device)
    return (
        t.access == "r"
        and t.unit not in ("", "Sm³", "m³", "kg")
        and protocol not in ("calc", "system")
        and t.device not in ("hoc", "gc")
        and not any(part in t.name for part in _NOT_INSTRUMENTS)
    )


@pytest.mark.parametrize("folder", STATIONS, ids=lambda p: p.name)
def test_every_field_measurement_has_one_isa_number(folder):
    cfg = load_station(folder)  # raises on a duplicate or misspelled number, or a wrong bubble
    missing = [t.name for t in cfg.tags if _is_field_measurement(cfg, t) and not t.instrument]
    assert not missing, f"{folder.name}: field measurements without instrument: {missing}"
    numbers = [t.instrument for t in cfg.tags if t.instrument]
    assert len(numbers) == len(set(numbers))
    for name, number in EXPECTED.get(folder.name, {}).items():
        assert cfg.tag(name).instrument == number


def test_the_filter_valves_are_not_numbered_like_the_esd_valve():
    svg = (paths.screens_dir() / "city_gate.svg").read_text(encoding="utf-8")
    assert svg.count(">XV-101<") == 1  # the ESD valve's bubble only
    assert "Filter run A inlet valve XV-102" in svg and "Filter run B inlet valve XV-103" in svg


def test_tokens_and_loops():
    assert instrument_tokens("Set point PIC-401, F-101A, ODR-601, GD-01") == ["PIC-401", "GD-01"]
    assert loop_of("PCV-401M") == loop_of("ZT-401M") == "401M"


def _copy_station(tmp_path: Path) -> Path:
    station = tmp_path / "station"
    shutil.copytree(ROOT / "station_configs" / "demo_city_gate", station)
    return station


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_number_given_to_two_tags_is_refused_with_file_and_line(tmp_path):
    station = _copy_station(tmp_path)
    _edit(station / "tags_inlet_filters.yaml", "instrument: ZSC-101", "instrument: ZSO-101")
    with pytest.raises(ConfigError) as ei:
        load_station(station)
    msg = str(ei.value)
    assert "tags_inlet_filters.yaml:" in msg
    assert "instrument ZSO-101 is already tag esd.open" in msg


def test_a_misspelled_number_is_refused(tmp_path):
    station = _copy_station(tmp_path)
    _edit(station / "tags_odorizer_outlet.yaml", "instrument: PT-501", "instrument: PT501")
    with pytest.raises(ConfigError) as ei:
        load_station(station)
    assert "'PT501' is not an ISA instrument number" in str(ei.value)


@pytest.fixture(scope="module")
def city_gate():
    return load_station(ROOT / "station_configs" / "demo_city_gate")


def _screens_with(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "screens"
    shutil.copytree(paths.screens_dir(), folder)
    _edit(folder / "city_gate.svg", old, new)
    return folder


def test_the_old_duplicate_valve_number_fails(city_gate, tmp_path):
    folder = _screens_with(
        tmp_path,
        '<text class="tagno" x="362" y="234" text-anchor="middle">XV-102</text>',
        '<text class="tagno" x="362" y="234" text-anchor="middle">XV-101</text>',
    )
    with pytest.raises(ScreenError) as ei:
        load_screen(folder, "city_gate", city_gate)
    msg = "\n".join(ei.value.problems)
    assert "bindings.XV_flt1: the P&ID shows XV-101 at XV_flt1" in msg
    assert "flt1.in_service = ZSO-102" in msg


def test_a_bubble_naming_an_instrument_no_tag_has_fails(city_gate, tmp_path):
    folder = _screens_with(tmp_path, ">Stack TT-304<", ">Stack TT-399<")
    with pytest.raises(ScreenError) as ei:
        load_screen(folder, "city_gate", city_gate)
    msg = "\n".join(ei.value.problems)
    assert "city_gate.svg: the P&ID names instrument TT-399" in msg
    assert "bindings.V_htr_stack: the P&ID shows TT-399" in msg


def test_a_value_bubble_showing_another_tags_number_fails(city_gate, tmp_path):
    # both numbers exist; the bubble above the run 1 pressure field names run 2's transmitter
    folder = _screens_with(
        tmp_path,
        '<text class="tagno" x="1432" y="160" text-anchor="end">PT-401</text>',
        '<text class="tagno" x="1432" y="160" text-anchor="end">PT-402</text>',
    )
    with pytest.raises(ScreenError) as ei:
        load_screen(folder, "city_gate", city_gate)
    msg = "\n".join(ei.value.problems)
    assert "bindings.V_reg1_p: the P&ID shows PT-402 at V_reg1_p" in msg
    assert "reg1.outlet.pressure = PT-401" in msg


def test_the_uplink_sends_the_number_of_the_demo_tags(city_gate):
    from hmi.core.uplink.meta import tag_properties

    assert tag_properties(city_gate.tag("outlet.pressure"))["InstrumentTag"] == ("String", "PT-501")
    assert "InstrumentTag" not in tag_properties(city_gate.tag("m1.total.std"))
