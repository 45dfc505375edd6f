"""Every screen in screens/ loads against the demo station that uses it, every binding resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi import paths
from hmi.ui.mimic.items import BarItem, LinkItem, SymbolItem, ValueItem
from hmi.ui.mimic.screen import ScreenError, load_screen
from hmi.ui.mimic.svgdoc import SvgDoc, SvgError
from hmi.ui.mimic.view import MimicView
from tests.stations import station_of_screen
from tests.ui.conftest import TableRuntime

SCREENS = sorted(p.stem for p in paths.screens_dir().glob("*.svg"))


def test_screens_folder_has_the_city_gate():
    assert "city_gate" in SCREENS
    assert "overview" in SCREENS


@pytest.mark.parametrize("name", SCREENS)
def test_screen_loads_and_every_binding_resolves(
    name, demo_cfg, hmi_app, table_runtime, qtbot, tmp_path, request
):
    from hmi.config import load_station
    from hmi.ui.live import LiveData

    folder = station_of_screen(name)
    if folder.name != demo_cfg.station.id:  # another demo station's screen: its own config
        demo_cfg = load_station(folder)
        (tmp_path / "own").mkdir()
        table_runtime = TableRuntime(demo_cfg, tmp_path / "own")
        request.addfinalizer(table_runtime.close)
        table_runtime.fill_normal()
    ids = {s.id for s in demo_cfg.screens}
    screen = load_screen(paths.screens_dir(), name, demo_cfg, ids)
    assert screen.bindings, f"{name} has no bindings"
    tags = demo_cfg.tag_map()
    for b in screen.bindings:
        assert b.element in screen.doc.ids
        for t in b.tag_names():
            assert t in tags
    live = LiveData(table_runtime)
    view = MimicView(screen, live)
    qtbot.addWidget(view)
    assert len(view.items_) == len(screen.bindings)
    kinds = {type(i) for i in view.items_}
    assert ValueItem in kinds and LinkItem in kinds
    if name == "city_gate":
        assert SymbolItem in kinds and BarItem in kinds
        # the P&ID covers the demo station's equipment
        for tag in (
            "esd.open",
            "flt1.dp",
            "flt2.dp",
            "m1.flow.std",
            "m2.flow.std",
            "heater.burner.on",
            "reg1.ssv.closed",
            "reg2.ssv.closed",
            "reg1.monitor.position",
            "reg2.active.position",
            "relief.open",
            "odor.tank.level",
            "outlet.pressure",
            "gd01.lel",
            "gd10.lel",
            "bypass.valve.open",
        ):
            assert tag in view.by_tag, tag
    if name == "regulator_station":
        assert SymbolItem in kinds and BarItem in kinds
        for tag in (  # every piece of the regulator station's equipment
            "esd.open",
            "flt1.dp",
            "m1.flow.std",
            "m1.total.std",
            "reg1.ssv.closed",
            "reg2.ssv.closed",
            "reg1.monitor.position",
            "reg2.active.position",
            "reg1.active.setpoint",
            "relief.open",
            "outlet.pressure",
            "outlet.valve.open",
            "gd01.lel",
            "gd03.lel",
            "ups.battery",
            "plc.run",
            "cp.potential",
            "door.station_gate",
        ):
            assert tag in view.by_tag, tag
    for item in view.items_:
        assert item.rect.width() > 0, item.binding.element
        assert item.rect.height() > 0, item.binding.element


def test_broken_bindings_are_reported_with_file_and_key(tmp_path, demo_cfg):
    src = paths.screens_dir()
    (tmp_path / "x.svg").write_text(
        (src / "city_gate.svg").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "x.yaml").write_text(
        "bindings:\n  XV101: {kind: valve, tag: no.such.tag}\n  nope: {kind: value, tag: outlet.pressure}\n"
        "  V_out_p: {kind: gauge, tag: outlet.pressure}\n  NAV_overview: {kind: link, screen: nowhere}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScreenError) as exc:
        load_screen(tmp_path, "x", demo_cfg, {"city_gate"})
    text = "\n".join(exc.value.problems)
    assert "x.yaml:2: bindings.XV101.tag: unknown tag 'no.such.tag'" in text
    assert "x.yaml:3: bindings.nope: no element with id 'nope'" in text
    assert "x.yaml:4: bindings.V_out_p.kind: unknown kind 'gauge'" in text
    assert "x.yaml:5: bindings.NAV_overview.screen: unknown screen 'nowhere'" in text


def test_malformed_svg_is_a_clear_error(tmp_path):
    with pytest.raises(SvgError, match="not valid XML"):
        SvgDoc.parse("<svg><g></svg>", "bad.svg")


def test_symbol_library_is_complete_and_valid():
    folder = Path(paths.resources_dir()) / "symbols"
    names = {p.stem for p in folder.glob("*.svg")}
    for needed in (
        "esd_valve",
        "ball_valve",
        "filter",
        "ultrasonic_meter",
        "heater",
        "regulator",
        "monitor_regulator",
        "slam_shut",
        "relief_valve",
        "odorizer",
        "gas_detector",
        "pump",
        "tank",
    ):
        assert needed in names
    for p in folder.glob("*.svg"):
        text = p.read_text(encoding="utf-8")
        doc = SvgDoc.parse(text, p.name)
        assert p.stem in doc.ids, f"{p.name}: no element with id {p.stem!r}"
        assert "body" in text or "shell" in text, f"{p.name}: no body or shell part"
