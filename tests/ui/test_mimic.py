"""Live values on the P&ID: updates, BAD quality, symbol states, alarm markers, clicks."""

from __future__ import annotations

from PySide6.QtCore import Qt

from hmi.ui.mimic.items import SymbolItem, ValueItem
from hmi.ui.mimic.view import MimicView


def _pid(window) -> MimicView:
    window.navigate("pid")
    view = window.pid.current_view()
    assert isinstance(view, MimicView)
    return view


def test_values_update_from_the_tag_table(window, table_runtime):
    view = _pid(window)
    item = view.item_for("V_out_p")
    assert isinstance(item, ValueItem)
    table_runtime.set({"outlet.pressure": 0.3871})
    window.live.refresh()
    assert item.text == "0.387 MPa"
    assert item.quality == "good"
    table_runtime.set({"outlet.pressure": 0.4012})
    window.live.refresh()
    assert item.text == "0.401 MPa"


def test_bad_tag_renders_as_bad_never_as_a_number(window, table_runtime):
    view = _pid(window)
    item = view.item_for("V_m1_t")
    table_runtime.set({"m1.temperature": 8.5})
    window.live.refresh()
    assert item.text.startswith("8.5")
    table_runtime.set_bad(["m1.temperature"], "device fc1 timeout")
    window.live.refresh()
    assert item.text == "BAD" and item.quality == "bad"
    assert "device fc1 timeout" in item.tooltip_text() and "BAD" in item.tooltip_text()
    assert "8.5" not in item.text
    meter = view.item_for("FT201")
    table_runtime.set_bad(["m1.flow.std"], "device fc1 timeout")
    window.live.refresh()
    assert isinstance(meter, SymbolItem) and meter.state == "unknown" and meter.qcls == "q-bad"
    # the rendered pixels differ from a GOOD value box (hatched, magenta frame)
    image = view.grab().toImage()
    assert not image.isNull()


def test_symbol_states_follow_the_process(window, table_runtime):
    view = _pid(window)
    ssv = view.item_for("SSV1")
    table_runtime.set({"reg1.ssv.open": 1, "reg1.ssv.closed": 0})
    window.live.refresh()
    assert ssv.state == "open"
    table_runtime.set({"reg1.ssv.open": 0, "reg1.ssv.closed": 1})
    window.live.refresh()
    assert ssv.state == "closed"
    table_runtime.set({"reg1.ssv.open": 0, "reg1.ssv.closed": 0})
    window.live.refresh()
    assert ssv.state == "travel"
    reg = view.item_for("PCV1A")
    table_runtime.set({"reg1.active.position": 45.0})
    window.live.refresh()
    assert reg.state == "travel"
    heater = view.item_for("E301")
    table_runtime.set({"heater.burner.on": 1, "heater.burner.trip": 0})
    window.live.refresh()
    assert heater.state == "on"
    table_runtime.set({"heater.burner.trip": 1})
    window.live.refresh()
    assert heater.state == "fault"
    pipe = view.item_for("P_reg1")
    table_runtime.set({"reg1.active.position": 0.0})
    window.live.refresh()
    assert pipe.state == "noflow"
    gd = view.item_for("GD05")
    table_runtime.set({"gd05.lel": 30.0})
    window.live.refresh()
    assert gd.state == "level1"


def test_alarm_shows_on_value_and_symbol(window, table_runtime):
    view = _pid(window)
    table_runtime.set({"gd05.lel": 62.0})
    window.live.refresh()
    value, symbol = view.item_for("V_gd05"), view.item_for("GD05")
    assert value.alarm == 1 and value.unack
    assert symbol.alarm == 1 and symbol.state == "level2"


def test_clicking_a_symbol_opens_its_faceplate(window, qtbot):
    view = _pid(window)
    qtbot.waitExposed(window)
    item = view.item_for("XV101")
    pos = view.mapFromScene(item.rect.center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert "esd.open" in window.faceplates
    fp = window.faceplates["esd.open"]
    assert fp.isVisible()
    # a value box opens the faceplate of its tag
    item = view.item_for("V_out_p")
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(item.rect.center())
    )
    assert "outlet.pressure" in window.faceplates


def test_navigation_link_changes_page(window, qtbot):
    view = _pid(window)
    qtbot.waitExposed(window)
    link = view.item_for("NAV_overview")
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(link.rect.center())
    )
    assert window.current_page == "overview"


def test_theme_switch_restyles_the_mimic(window):
    from hmi.ui import theme

    view = _pid(window)
    light = theme.colors().color("background").name()
    window.toggle_theme()
    try:
        assert theme.theme().name == "dark"
        assert theme.colors().color("background").name() != light
        assert "dark theme" in theme.theme().svg_css
        assert view.grab().toImage().pixelColor(5, 5).lightness() < 100
    finally:
        window.toggle_theme()
    assert theme.theme().name == "light"


def test_faulted_detector_shows_fault_never_a_number(window, table_runtime):
    view = _pid(window)
    item = view.item_for("V_gd04")
    assert isinstance(item, ValueItem)
    table_runtime.set({"gd04.lel": 3.2, "gd04.fault": 0})
    window.live.refresh()
    assert item.text.startswith("3.2")
    table_runtime.set({"gd04.lel": 0.0, "gd04.fault": 1})  # the controller reports 0 with a fault
    window.live.refresh()
    assert item.text == "Fault" and item.quality == "bad" and "0" not in item.text
    table_runtime.set({"gd04.fault": 0})
    window.live.refresh()
    assert item.text.startswith("0.0") and item.quality == "good"
