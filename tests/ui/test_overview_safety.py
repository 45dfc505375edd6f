"""The overview at 3 a.m.: the gas-detection / shut-off valve / power tile and the trend with
an axis per unit, on the real main window offscreen (values from the table runtime)."""

from __future__ import annotations


def test_safety_tile_counts_levels_faults_and_shows_valves_and_power(window, table_runtime):
    card = window.overview.safety_card
    table_runtime.set({"gd04.lel": 3.0, "gd05.lel": 1.0, "esd.open": 1, "esd.closed": 0,
                       "reg1.ssv.open": 1, "reg1.ssv.closed": 0, "reg2.ssv.open": 1,
                       "reg2.ssv.closed": 0, "power.mains_ok": 1, "ups.on_battery": 0,
                       "ups.battery": 98})  # fmt: skip
    window.live.refresh()
    card.refresh()
    assert card.gas_counts.text() == "Level 1: 0 · Level 2: 0 · Faulted: 0"
    assert card.gas.property("alarm") == "0"
    assert "ESD: open" in card.valve_label.text() and "Slam-shut 2: open" in card.valve_label.text()
    assert card.power.text() == "Mains power OK · UPS 98 %"
    table_runtime.set({"gd05.lel": 31.0, "gd07.lel": 55.0, "gd04.fault": 1, "reg1.ssv.open": 0,
                       "reg1.ssv.closed": 1, "power.mains_ok": 0, "ups.on_battery": 1})  # fmt: skip
    window.live.refresh()
    card.refresh()
    g = card.gas_figures()
    assert (g["level1"], g["level2"], g["faulted"]) == (1, 1, 1)
    assert g["top"] == ("gd07.lel", 55.0) and "55.0 %LEL at GD-07" in card.gas.text()
    assert card.gas.property("alarm") == "1"  # level 2: critical coding
    assert (
        "Slam-shut 1: closed" in card.valve_label.text()
        and card.valve_label.property("alarm") == "2"
    )
    assert card.power.text().startswith("On UPS battery")
    table_runtime.set_bad(["esd.closed"], "PLC not answering")
    window.live.refresh()
    card.refresh()
    assert "ESD: unknown" in card.valve_label.text()  # never a plausible state


def test_overview_trend_gives_each_unit_its_own_axis(window):
    trend = window.overview.trend
    assert trend is not None
    assert window.overview.trend_names == ["outlet.pressure", "outlet.flow", "outlet.temperature"]
    assert trend.axes.units == ["MPa", "Sm³/h", "°C"]


def test_the_chinese_safety_tile_names_valves_and_detectors_for_the_operator(window, table_runtime):
    from hmi.ui.i18n import i18n

    card = window.overview.safety_card
    i18n().set_language("zh_CN")
    try:
        table_runtime.set({"gd09.lel": 12.0, "esd.open": 1, "esd.closed": 0, "reg1.ssv.open": 1,
                           "reg1.ssv.closed": 0, "reg2.ssv.open": 1, "reg2.ssv.closed": 0})  # fmt: skip
        window.live.refresh()
        card.refresh()
        valves = card.valve_label.text()
        assert "紧急切断阀: 开" in valves and "1#切断阀" in valves and "2#切断阀" in valves
        assert "reg" not in valves and "ESD" not in valves
        assert "GD-09" in card.gas.text()
    finally:
        i18n().set_language("en")
