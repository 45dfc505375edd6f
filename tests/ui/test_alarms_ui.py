"""Alarm banner and summary page against the real alarm engine (journal in tmp_path)."""

from __future__ import annotations

import csv
import time

from PySide6.QtCore import Qt

from hmi.core.alarms.journal import open_db, read_journal
from tests.helpers import wait_until
from tests.ui.conftest import switch_user


def _journal(rt, transition: str) -> list[dict]:
    rt.alarms.flush()
    eng = open_db(rt.data_dir / "alarms.db", readonly=True)
    try:
        return [e for e in read_journal(eng) if e["transition"] == transition]
    finally:
        eng.dispose()


def _refresh_until(window, predicate, what):
    def check():
        window.live.refresh()
        return predicate()

    wait_until(check, 10, what=what)


def test_banner_shows_most_important_first_and_acknowledges(window, table_runtime, qtbot):
    table_runtime.set({"flt1.dp": 60.0})  # H, priority 3 (on-delay may apply)
    table_runtime.set({"gd05.lel": 62.0})  # HH priority 1 (+ H priority 2 after its on-delay)
    _refresh_until(
        window,
        lambda: any(v.alarm_id.startswith("gd05.lel.hh") for v in window.banner.ordered),
        "gd05 HH in the banner",
    )
    top = window.banner.ordered[0]
    assert top.priority == 1 and top.tag == "gd05.lel"
    row = window.banner.rows[0]
    assert row.glyph.priority == 1 and "GD-05" in row.msg.text()
    assert row.tag.text() == "GD-05"  # the instrument number beside the description
    assert window.banner.counts[1][1].text() == "1"
    qtbot.mouseClick(window.banner.ack, Qt.MouseButton.LeftButton)
    wait_until(lambda: _journal(table_runtime, "ack"), 10, what="ack in the journal")
    ack = _journal(table_runtime, "ack")[0]
    assert ack["alarm_id"] == top.alarm_id and ack["user"] == "operator"
    _refresh_until(
        window,
        lambda: all(
            v.alarm_id != top.alarm_id or v.state == "ACTIVE_ACK" for v in window.banner.ordered
        ),
        "acked state shown",
    )


def test_summary_page_acknowledge_selected_reaches_the_journal(window, table_runtime):
    switch_user(window, "night-op")
    table_runtime.set({"gd03.lel": 65.0, "gd04.lel": 66.0})
    window.navigate("alarms")
    page = window.alarms
    _refresh_until(window, lambda: page.model.row_of("gd04.lel.hh") >= 0, "gd04 HH listed")
    row = page.model.row_of("gd04.lel.hh")
    page.table.selectRow(row)
    assert page.selected_ids() == ["gd04.lel.hh"]
    page.ack_selected()
    wait_until(
        lambda: any(e["alarm_id"] == "gd04.lel.hh" for e in _journal(table_runtime, "ack")),
        10,
        what="ack journaled",
    )
    e = next(e for e in _journal(table_runtime, "ack") if e["alarm_id"] == "gd04.lel.hh")
    assert e["user"] == "night-op"
    assert not any(e["alarm_id"] == "gd03.lel.hh" for e in _journal(table_runtime, "ack"))
    # acknowledge page: every unacknowledged alarm visible
    page.ack_page()
    wait_until(
        lambda: any(e["alarm_id"] == "gd03.lel.hh" for e in _journal(table_runtime, "ack")),
        10,
        what="page ack journaled",
    )


def test_shelve_with_reason_and_duration_moves_the_alarm(window, table_runtime):
    table_runtime.set({"gd06.lel": 70.0})
    window.navigate("alarms")
    page = window.alarms
    _refresh_until(window, lambda: page.model.row_of("gd06.lel.hh") >= 0, "gd06 listed")
    page.table.selectRow(page.model.row_of("gd06.lel.hh"))

    def confirm(dialog):
        dialog.reason.setText("detector under calibration")
        dialog.duration.setCurrentIndex(0)
        return True

    page.confirm = confirm
    page.shelve_selected()
    _refresh_until(
        window, lambda: page.shelved_model.row_of("gd06.lel.hh") >= 0, "gd06 on the shelved list"
    )
    assert page.model.row_of("gd06.lel.hh") < 0
    shelve = [e for e in _journal(table_runtime, "shelve") if e["alarm_id"] == "gd06.lel.hh"]
    assert (
        shelve
        and "detector under calibration" in shelve[0]["comment"]
        and shelve[0]["user"] == "operator"
    )


def test_filter_sort_and_export(window, table_runtime, tmp_path):
    table_runtime.set({"gd01.lel": 70.0, "gd09.lel": 70.0})
    window.navigate("alarms")
    page = window.alarms
    _refresh_until(window, lambda: page.model.row_of("gd01.lel.hh") >= 0, "gd01 listed")
    total = len(page.model.rows)
    page.f_prio.setCurrentIndex(page.f_prio.findData(1))
    assert page.model.rows and all(v.priority == 1 for v in page.model.rows)
    page.f_prio.setCurrentIndex(0)
    page.f_text.setText("gd09")
    assert (
        page.model.rows
        and all("gd09" in v.tag for v in page.model.rows)
        and len(page.model.rows) < total
    )
    page.f_text.setText("")
    assert len(page.model.rows) == total
    page.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # tag, Z..A
    tags = [v.tag for v in page.model.rows]
    assert tags == sorted(tags, reverse=True)
    out = tmp_path / "alarms.csv"
    page.export_csv(str(out))
    wait_until(out.exists, 10, what="CSV written")
    wait_until(
        lambda: len(list(csv.reader(out.open(encoding="utf-8-sig")))) == total + 1,
        10,
        what="all rows exported",
    )


def test_hidden_alarm_page_catches_up_when_shown(window, table_runtime):
    window.navigate("pid")
    table_runtime.set({"gd10.lel": 70.0})
    window.live.refresh()
    assert window.alarms.model.row_of("gd10.lel.hh") < 0  # deferred while hidden
    window.navigate("alarms")
    assert window.alarms.model.row_of("gd10.lel.hh") >= 0


def test_flood_of_thousands_stays_a_flat_model(window, table_runtime):
    from hmi.ui.pages.alarm_model import AlarmTableModel

    base = table_runtime.alarms.snapshot()[1]
    table_runtime.set({"gd02.lel": 70.0})
    window.live.refresh()
    views = table_runtime.alarms.snapshot()[1] or base
    flood = [v for v in views] * (3000 // max(len(views), 1) + 1)
    model = AlarmTableModel(("priority", "time", "tag", "message"), lambda v: True)
    model.set_views(flood)
    assert model.rowCount() == len(flood) >= 3000
    first = window.live.cfg.tag(model.rows[0].tag)
    assert model.data(model.index(0, 2)) == (first.instrument or first.name)


def test_journal_search_reads_alarms_db_off_the_gui_thread(window, table_runtime, qtbot):
    table_runtime.set({"gd07.lel": 70.0})
    table_runtime.alarms.flush()
    window.navigate("alarms")
    panel = window.alarms.journal
    panel.text.setText("gd07")
    panel.search()
    qtbot.waitUntil(lambda: not panel.searching, timeout=10000)
    assert panel.model.rowCount() >= 1
    assert all("gd07" in e["tag"] for e in panel.model.events)


def test_horn_follows_annunciation_until_silenced(window, table_runtime):
    window.horn.enabled = True
    table_runtime.set({"gd08.lel": 70.0})
    _refresh_until(window, lambda: window.horn.sounding, "horn sounding")
    assert window.horn.rings >= 1
    assert window.banner.silence.isEnabled()
    window.banner.silence.click()
    _refresh_until(window, lambda: not window.horn.sounding, "horn silenced")


def test_chinese_alarm_list_shows_instrument_numbers_and_area_names(window, table_runtime):
    from hmi.ui.i18n import i18n

    i18n().set_language("zh_CN")
    try:
        table_runtime.set({"gd03.lel": 70.0})
        window.navigate("alarms")
        _refresh_until(
            window, lambda: window.alarms.model.row_of("gd03.lel.hh") >= 0, "gd03 HH listed"
        )
        model = window.alarms.model
        row = model.row_of("gd03.lel.hh")
        cells = {
            key: model.data(model.index(row, col)) for col, key in enumerate(model.column_keys())
        }
        assert cells["tag"] == "GD-03"
        assert cells["area"] == "可燃气体检测"  # not the config's area id gas_detection
        assert (
            model.headerData(model.column_keys().index("tag"), Qt.Orientation.Horizontal) == "位号"
        )
        areas = [window.alarms.f_area.itemText(i) for i in range(window.alarms.f_area.count())]
        assert "可燃气体检测" in areas and "gas_detection" not in areas
        model.filter.text = "gd-03"  # the search finds the instrument number too
        model.refilter()
        assert model.row_of("gd03.lel.hh") >= 0
    finally:
        i18n().set_language("en")


def test_rate_and_limit_texts_carry_their_units(window):
    from types import SimpleNamespace

    from hmi.ui.banner import alarm_value_text
    from hmi.ui.pages.alarm_model import _limit, _value

    flow = window.live.cfg.tag("outlet.flow")
    roc = SimpleNamespace(tag="outlet.flow", kind="roc", value=-294259.0, limit=4000.0, unit="")
    assert _value(roc) == "-294,259 Sm³/h/min"  # a rate, digit-grouped, per minute
    assert _limit(roc) == "4000 Sm³/h/min"
    assert alarm_value_text(roc, flow) == "-294,259 Sm³/h/min"
    frozen = SimpleNamespace(tag="plc.heartbeat", kind="frozen", value=3.0, limit=10.0, unit="")
    assert _limit(frozen) == "10 s"
    total = SimpleNamespace(tag="m1.total.std", kind="H", value=None, limit=12345678.0, unit="")
    assert _limit(total) == "12,345,678 Sm³"


def test_chinese_banner_shows_the_comm_loss_reason_in_chinese(window, table_runtime):
    from drivers.base import DeviceState
    from hmi.ui.i18n import i18n
    from hmi.ui.pages.diagnostics import _cell

    reason = "connection refused 127.0.0.1:5020; retry in 2 s"
    i18n().set_language("zh_CN")
    try:
        eng = table_runtime.alarms
        table_runtime.call(
            eng.device_state, "plc", DeviceState.UP, DeviceState.BACKOFF, reason
        ).result(10)
        delay = eng.catalog.comm["plc"].d.on_delay  # its on-delay passes
        table_runtime.call(eng.tick, time.time() + delay + 1).result(10)
        _refresh_until(
            window,
            lambda: any(v.kind == "comm" for v in window.banner.ordered),
            "the PLC's comm-loss alarm in the banner",
        )
        row = next(r for r in window.banner.rows if "127.0.0.1:5020" in r.msg.text())
        assert "连接被拒绝：127.0.0.1:5020；2 s 后重试" in row.msg.text(), row.msg.text()
        assert "refused" not in row.msg.text() and "retry" not in row.msg.text()
        window.navigate("alarms")
        model = window.alarms.model
        view = next(v for v in window.banner.ordered if v.kind == "comm")
        _refresh_until(window, lambda: model.row_of(view.alarm_id) >= 0, "comm alarm listed")
        col = model.column_keys().index("message")
        assert "连接被拒绝" in model.data(model.index(model.row_of(view.alarm_id), col))
        # the journal keeps the driver's English reason
        raised = [e for e in _journal(table_runtime, "raise") if e["kind"] == "comm"]
        assert raised and reason in raised[0]["message"]["en"]
        assert reason in raised[0]["message"]["zh"]
        # the diagnostics page's last error too
        text = _cell("last_error", {"last_error": "timeout after 1.0 s on hr 0-9"})
        assert text.endswith("保持寄存器 0-9：超时（1.0 s 无应答）"), text
    finally:
        i18n().set_language("en")
    assert reason in _cell("last_error", {"last_error": reason})  # English screen: as it is


def test_chinese_alarm_list_shows_the_instrument_fault_with_its_reason(
    window, table_runtime, tmp_path
):
    from drivers.base import DeviceState
    from hmi.ui.i18n import i18n

    i18n().set_language("zh_CN")
    try:
        eng = table_runtime.alarms
        table_runtime.call(
            eng.device_state, "plc", DeviceState.CONNECTING, DeviceState.UP, ""
        ).result(10)
        table_runtime.set_bad(["outlet.pressure"], "")  # a NaN read: "bad value"
        delay = eng.catalog.records["outlet.pressure.bad_pv"].d.on_delay
        table_runtime.call(eng.tick, time.time() + delay + 1).result(10)
        window.navigate("alarms")
        model = window.alarms.model
        aid = "outlet.pressure.bad_pv"
        _refresh_until(window, lambda: model.row_of(aid) >= 0, "instrument fault listed")
        row = model.row_of(aid)
        cells = {
            key: model.data(model.index(row, col)) for col, key in enumerate(model.column_keys())
        }
        assert cells["message"] == "出站压力变送器PT-501故障：坏值", cells
        assert cells["tag"] == "PT-501" and cells["priority"] == "2"
        assert cells["value"] == ""  # a BAD value is no number, and no lone unit either
        assert window.grab().save(str(tmp_path / "alarms_bad_pv_zh.png"))
    finally:
        i18n().set_language("en")
