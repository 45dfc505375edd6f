"""Screen labels of tags come from the tag config: every detector on every screen shows its
location from its tag label, and a screen whose drawn text disagrees with the config fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hmi import paths
from hmi.config import load_station
from hmi.ui.mimic.screen import ScreenError, load_screen
from tests.stations import station_of_screen

ROOT = Path(__file__).resolve().parents[2]
SCREENS = sorted(p.stem for p in paths.screens_dir().glob("*.svg"))


@pytest.fixture(scope="module")
def cfg():
    return load_station(ROOT / "station_configs" / "demo_city_gate")


@pytest.mark.parametrize("name", SCREENS)
def test_every_detector_on_a_screen_takes_its_location_from_the_config(cfg, name):
    folder = station_of_screen(name)
    if folder.name != cfg.station.id:  # another demo station's screen: against its own config
        cfg = load_station(folder)
    screen = load_screen(paths.screens_dir(), name, cfg)  # raises when a label disagrees
    detectors = {b.tag for b in screen.bindings if b.kind == "detector"}
    labelled = {tag for tag, _part in screen.labels.values()}
    assert detectors <= labelled, (
        f"{name}: detectors without a config label: {detectors - labelled}"
    )
    for lang in ("zh_CN", "en"):
        texts = screen.label_texts(lang)
        for eid, (tag, _part) in screen.labels.items():
            assert texts[eid] and texts[eid] in cfg.tag(tag).label.get(lang)
    if name == "city_gate":
        zh = screen.label_texts("zh_CN")
        assert zh["L_gd01"] == "进站切断区" and zh["L_gd04"] == "加热炉间"
        svg = screen.doc.background(set(), "", "", None, zh).decode("utf-8")
        assert "进站切断区" in svg and ">inlet/ESD<" not in svg
    if name == "regulator_station":
        assert screen.label_texts("zh_CN")["L_gd03"] == "过滤计量区"
        assert screen.label_texts("en")["L_gd01"] == "regulator room, run 1"


def test_a_drawn_label_that_differs_from_the_tag_label_fails(cfg, tmp_path):
    folder = tmp_path / "screens"
    shutil.copytree(paths.screens_dir(), folder)
    svg = folder / "city_gate.svg"
    text = svg.read_text(encoding="utf-8")
    # the old error: GD-01 drawn as "Reg. room 1" while the config puts it at the inlet
    svg.write_text(text.replace(">inlet/ESD</text>", ">Reg. room 1</text>"), encoding="utf-8")
    with pytest.raises(ScreenError) as ei:
        load_screen(folder, "city_gate", cfg)
    msg = "\n".join(ei.value.problems)
    assert "labels.L_gd01: the SVG says 'Reg. room 1' but tag gd01.lel is 'inlet/ESD'" in msg
