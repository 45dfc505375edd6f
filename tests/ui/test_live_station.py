"""End to end: simulator (Modbus servers on free ports) -> Runtime -> HMI -> alarm journal.

One simulator and runtime for the module (all five devices: the screenshot helper gives
the simulated OPC UA controller a throwaway keyring and trusts its certificate). The
window is logged in as ``operator``.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from hmi.core.alarms.journal import open_db, read_journal
from hmi.ui.mimic.view import MimicView
from tests.helpers import wait_until
from tests.ui.conftest import switch_user
from tests.ui.imaging import content


@pytest.fixture(scope="module")
def station(demo_cfg: Any, qapp: Any) -> Any:
    from hmi.core.users import TEST_PARAMS
    from hmi.ui.app import show_main_window
    from hmi.ui.screenshot import live_station
    from hmi.ui.tasks import wait_pool

    with live_station(demo_cfg, "normal", seed=3) as (rt, sim):
        rt.users.params = TEST_PARAMS  # throwaway users.db: cheap hashes
        win = show_main_window(rt, lang="en", theme="light", horn=False, period_ms=200)
        switch_user(win, "operator")
        win.resize(1920, 1080)
        try:
            yield rt, sim, win
        finally:
            win.close()
            wait_pool()
            win.deleteLater()


def _journal(rt: Any, transition: str) -> list[dict[str, Any]]:
    rt.alarms.flush()
    eng = open_db(rt.data_dir / "alarms.db", readonly=True)
    try:
        return [e for e in read_journal(eng) if e["transition"] == transition]
    finally:
        eng.dispose()


def test_live_values_reach_the_screen(station, qtbot):
    _rt, _sim, win = station
    win.navigate("pid")
    view = win.pid.current_view()
    assert isinstance(view, MimicView)
    item = view.item_for("V_out_p")
    qtbot.waitUntil(lambda: item.quality == "good" and item.text.endswith("MPa"), timeout=15000)
    value = float(item.text.split()[0])
    assert 0.3 < value < 0.45
    qtbot.waitUntil(lambda: any(d["state"] == "up" for d in win.live.devices), timeout=15000)
    win.navigate("diagnostics")
    assert win.diagnostics.table.rowCount() == len(win.live.devices) >= 4
    shown = {
        win.diagnostics.table.item(r, 0).toolTip(): win.diagnostics.table.item(r, 0).text()
        for r in range(win.diagnostics.table.rowCount())
    }
    from hmi.ui.i18n import i18n

    label = win.live.cfg.device("plc").label.get(i18n().lang)
    assert label and shown["plc"] == label  # the device's name, its id in the tooltip


def test_acknowledge_from_banner_and_summary_reaches_the_journal(station, qtbot):
    rt, sim, win = station
    sim.call(lambda: sim.model.faults.leak.__setitem__(5, 70.0))
    try:
        qtbot.waitUntil(
            lambda: any(v.alarm_id == "gd05.lel.hh" for v in win.banner.ordered), timeout=20000
        )
        win.banner.selected_id = "gd05.lel.hh"
        qtbot.mouseClick(win.banner.ack, Qt.MouseButton.LeftButton)
        wait_until(
            lambda: any(e["alarm_id"] == "gd05.lel.hh" for e in _journal(rt, "ack")),
            15,
            what="banner ack journaled",
        )
        e = next(e for e in _journal(rt, "ack") if e["alarm_id"] == "gd05.lel.hh")
        assert e["user"] == "operator" and not e["remote"]
        # the level-1 alarm (on-delay 2 s) from the summary page, as another user
        page = win.alarms
        win.navigate("alarms")
        qtbot.waitUntil(lambda: page.model.row_of("gd05.lel.h") >= 0, timeout=20000)
        switch_user(win, "shift-b")
        page.table.clearSelection()
        page.table.selectRow(page.model.row_of("gd05.lel.h"))
        page.ack_selected()
        wait_until(
            lambda: any(e["alarm_id"] == "gd05.lel.h" for e in _journal(rt, "ack")),
            15,
            what="summary ack journaled",
        )
        e = next(e for e in _journal(rt, "ack") if e["alarm_id"] == "gd05.lel.h")
        assert e["user"] == "shift-b"
    finally:
        switch_user(win, "operator")
        sim.call(lambda: sim.model.faults.leak.pop(5, None))


def test_faceplate_write_goes_to_the_device_and_reads_back(station, qtbot):
    _rt, sim, win = station
    fp = win.open_faceplate("odor.dose.setpoint")
    fp.confirm = lambda dialog: True
    fp.entry.setText("24")
    fp._write_entry()
    qtbot.waitUntil(
        lambda: "read back" in fp.result.text() or "failed" in fp.result.text().lower(),
        timeout=20000,
    )
    assert fp.result.property("state") == "ok", fp.result.text()
    assert abs(sim.call(lambda: sim.model.v["odor.dose.setpoint"]) - 24.0) < 0.01
    fp.close()


def test_screenshot_of_a_live_screen(station, tmp_path):
    from hmi.ui.screenshot import capture

    _rt, _sim, win = station
    out = capture(
        win, "faceplate:outlet.pressure", tmp_path / "fp.png", after=0.5, size=(1366, 768)
    )
    fp = content(out)
    assert (fp.width, fp.height) == (1366, 768)
    fp.assert_drawn()
    assert fp.dark > 0.001, "no text drawn"
    out = capture(win, "diagnostics", tmp_path / "diag.png", after=0.3, size=(1920, 1080))
    diag = content(out)
    assert diag.width == 1920
    diag.assert_drawn()
    assert diag.dark > 0.001, "no text drawn"
    with pytest.raises(ValueError, match="unknown screen"):
        capture(win, "nope", tmp_path / "x.png", after=0.0)
