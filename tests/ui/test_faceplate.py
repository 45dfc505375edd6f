"""Faceplates: value, quality, limits, trend, alarms of the tag, confirmed writes."""

from __future__ import annotations

from tests.helpers import wait_until


def test_faceplate_shows_value_quality_limits_and_trend(window, table_runtime):
    table_runtime.set({"outlet.pressure": 0.401})
    window.live.refresh()
    fp = window.open_faceplate("outlet.pressure")
    assert fp is not None and fp.isVisible()
    assert fp.value.text() == "0.401 MPa"
    assert fp.value.property("quality") == "good"
    assert fp.quality.text() == "GOOD"
    assert "HH 0.425" in fp.props.text() and "0 … 0.6 MPa" in fp.props.text()
    assert fp.bar is not None and fp.trend is not None
    # the protection ladder of both runs from the station config, beside the value
    assert fp.ladder is not None and [r.id for r in fp.ladder.runs] == ["reg1", "reg2"]
    assert fp.ladder.runs[0].ladder() == [
        ("active", 0.40), ("monitor", 0.42), ("relief", 0.43), ("slam_shut", 0.435)
    ]  # fmt: skip
    assert fp.ladder.value == 0.401 and fp.ladder.quality == "good"
    assert not fp.ladder.grab().toImage().isNull()
    assert window.open_faceplate("heater.water.temperature").ladder is None
    assert window.open_faceplate("outlet.pressure") is fp
    assert fp.alarm_table.rowCount() == len(window.live.cfg.tag("outlet.pressure").alarms)
    table_runtime.set_bad(["outlet.pressure"], "PLC not answering")
    window.live.refresh()
    assert fp.value.text() == "BAD" and fp.value.property("quality") == "bad"
    assert "PLC not answering" in fp.reason.text()
    assert window.open_faceplate("outlet.pressure") is fp  # one faceplate per tag


def test_setpoint_write_needs_confirmation_showing_old_and_new(window, table_runtime, qtbot):
    table_runtime.set({"reg1.active.setpoint": 0.40})
    window.live.refresh()
    fp = window.open_faceplate("reg1.active.setpoint")
    assert fp.entry is not None
    seen = {}

    def refuse(dialog):
        seen["old"], seen["new"] = dialog.old.text(), dialog.new.text()
        return False

    fp.confirm = refuse
    fp.entry.setText("0.41")
    fp._write_entry()
    assert seen == {"old": "0.400 MPa", "new": "0.410 MPa"}
    assert table_runtime.writes == []
    fp.confirm = lambda dialog: True
    fp.entry.setText("0.41")
    fp._write_entry()
    wait_until(lambda: table_runtime.writes, 10, what="write sent")
    assert table_runtime.writes == [("reg1.active.setpoint", 0.41, "operator")]
    qtbot.waitUntil(lambda: "written and read back" in fp.result.text(), timeout=10000)
    fp.entry.setText("0.9")
    fp._write_entry()
    assert "Outside the range" in fp.result.text()
    assert len(table_runtime.writes) == 1


def test_discrete_command_buttons_come_from_the_tag_states(window, table_runtime):
    fp = window.open_faceplate("esd.close_cmd")
    labels = sorted(b.text() for b, _k in fp.cmd_buttons)
    assert labels == ["No", "Yes"]
    fp.confirm = lambda dialog: True
    button, key = next((b, k) for b, k in fp.cmd_buttons if b.text() == "Yes")
    button.click()
    wait_until(lambda: table_runtime.writes, 10, what="command sent")
    assert table_runtime.writes[0][:2] == ("esd.close_cmd", key)


def test_read_only_tag_has_no_commands(window):
    fp = window.open_faceplate("inlet.pressure")
    assert fp.cmd_box is None and fp.entry is None


def test_chinese_faceplate_shows_reasons_and_write_results_in_chinese(window, table_runtime, qtbot):
    from hmi.ui.i18n import i18n

    i18n().set_language("zh_CN")
    try:
        table_runtime.set_bad(["outlet.pressure"], "timeout after 1.0 s on hr 0-9")
        window.live.refresh()
        fp = window.open_faceplate("outlet.pressure")
        assert fp.reason.text() == "保持寄存器 0-9：超时（1.0 s 无应答）"
        assert "保持寄存器 0-9：超时（1.0 s 无应答）" in fp.value.toolTip()
        assert "timeout" not in fp.value.toolTip()
        table_runtime.set({"reg1.active.setpoint": 0.40})
        window.live.refresh()
        fp = window.open_faceplate("reg1.active.setpoint")
        fp.confirm = lambda dialog: True
        fp.entry.setText("0.41")
        fp._write_entry()
        qtbot.waitUntil(lambda: "已写入并回读确认" in fp.result.text(), timeout=10000)
        assert "written" not in fp.result.text()
    finally:
        i18n().set_language("en")
