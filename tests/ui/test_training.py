"""Training mode end to end: simulator (speed 10) -> Runtime -> HMI, an instructor and an operator.

One simulator and runtime for the module, like tests/ui/test_live_station.py. The
engineer ``trainer`` starts the ``gas_leak`` scenario from the training dialog, the
operator ``op1`` acknowledges the detector alarm from the banner and writes a set point
from a faceplate; the drill report's times are checked against the alarm journal and the
audit trail. Pictures of the marked pages go to the test's temporary folder.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from PySide6.QtCore import Qt

from hmi.core.alarms.journal import open_db, read_journal
from hmi.core.training import TrainingError
from hmi.ui.training.marking import FRAME
from tests.helpers import wait_until
from tests.ui.conftest import switch_user

SPEED = 10.0


@pytest.fixture(scope="module")
def station(demo_cfg: Any, qapp: Any) -> Any:
    from hmi.core.users import TEST_PARAMS
    from hmi.ui.app import show_main_window
    from hmi.ui.screenshot import live_station
    from hmi.ui.tasks import wait_pool

    with live_station(demo_cfg, "normal", seed=5, speed=SPEED) as (rt, sim):
        rt.users.params = TEST_PARAMS
        win = show_main_window(
            rt, lang="en", theme="light", horn=False, period_ms=200, simulator=sim
        )
        win.resize(1920, 1080)
        try:
            yield rt, sim, win
        finally:
            win.close()
            wait_pool()
            win.deleteLater()


def _journal(rt: Any) -> list[dict[str, Any]]:
    rt.alarms.flush()
    eng = open_db(rt.data_dir / "alarms.db", readonly=True)
    try:
        return read_journal(eng)
    finally:
        eng.dispose()


def _yellow_share(path: Any, y0: int, y1: int, cols: tuple[int, int] | None = None) -> float:
    """Share of the training yellow (#ffd400) in rows y0..y1 (and columns ``cols``) of a PNG."""
    import numpy as np
    from PySide6.QtGui import QImage

    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    w, h = img.width(), img.height()
    raw = np.frombuffer(img.constBits(), dtype=np.uint32, count=h * img.bytesPerLine() // 4)
    c0, c1 = cols or (0, w)
    px = raw.reshape(h, img.bytesPerLine() // 4)[y0:y1, c0:c1] & 0xFFFFFF
    return float(np.count_nonzero(px == 0xFFD400) / px.size)


def _menu_action(win: Any) -> Any:
    menu = win.login.open_menu()
    act = next(a for a in menu.actions() if a.objectName() == "trainingAction")
    menu.close()
    return act


def test_an_operator_cannot_start_a_drill(station, qtbot):
    rt, _sim, win = station
    switch_user(win, "op1")
    act = _menu_action(win)
    assert not act.isEnabled()
    assert "engineer" in act.toolTip()
    assert win.training.open_dialog() is None
    with pytest.raises(TrainingError, match="engineer"):
        win.training.service.start("gas_leak", win.actions.session, "op1")
    denied = rt.audit.records(action="training_start")
    assert denied and denied[-1].result == "denied" and denied[-1].user == "op1"
    assert not win.training.marks.band.isVisible()
    assert rt.training == ""


def test_a_drill_is_timed_marked_and_reported(station, qtbot, tmp_path):
    rt, sim, win = station
    switch_user(win, "trainer", "engineer")
    assert _menu_action(win).isEnabled()
    dlg = win.training.open_dialog()
    assert dlg is not None
    names = [s.name for s in dlg.scenarios]
    assert "gas_leak" in names and "normal" not in names
    dlg.select("gas_leak")
    dlg.operator.setEditText("op1")
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.training.marks.active, timeout=15000)
    info = win.training.service.active
    assert info.scenario == "gas_leak" and info.instructor == "trainer" and info.operator == "op1"
    assert sim.call(lambda: sim.simulator.scenario) == "gas_leak"
    # the instructor hands the console over: an operator cannot stop the drill
    switch_user(win, "op1")
    assert not dlg.stop_button.isEnabled() and "engineer" in dlg.stop_button.toolTip()
    switch_user(win, "trainer", "engineer")
    assert dlg.stop_button.isEnabled() and not dlg.start_button.isEnabled()
    dlg.close()

    # every main page is marked: band, frame, the page's corner tag, the banner's, the title
    marks = win.training.marks
    assert win.windowTitle().startswith("[培训 TRAINING]")
    for page_id, page in win.page_ids.items():
        win.navigate(page_id)
        qtbot.waitUntil(lambda p=page: p.isVisible(), timeout=5000)
        assert marks.band.isVisible() and "TRAINING" in marks.band.text()
        assert marks.tags[id(win.banner)].isVisible()
        shot = tmp_path / f"{page_id}.png"
        assert win.grab().save(str(shot))
        band = marks.band.geometry()
        # the band's yellow fills the top of the window (its text is the rest) ...
        assert _yellow_share(shot, band.top(), band.bottom()) > 0.6, page_id
        # ... and the frame runs down both sides of the page
        top = page.mapTo(win, page.rect().topLeft()).y()
        left = _yellow_share(shot, top, top + page.height(), cols=(0, FRAME))
        right = _yellow_share(shot, top, top + page.height(), cols=(1920 - FRAME, 1920))
        assert left == right == 1.0, page_id
    for plot in (win.trends.plot, win.overview.trend):
        assert not marks.tags[id(plot)].isHidden()  # shown with its page
    win.navigate("overview")

    # the operator acknowledges the detector alarm and writes a set point
    switch_user(win, "op1")
    qtbot.waitUntil(
        lambda: any(v.alarm_id == "gd05.lel.h" for v in win.banner.ordered), timeout=30000
    )
    win.banner.selected_id = "gd05.lel.h"
    qtbot.mouseClick(win.banner.ack, Qt.MouseButton.LeftButton)
    wait_until(
        lambda: any(
            e["alarm_id"] == "gd05.lel.h" and e["transition"] == "ack" for e in _journal(rt)
        ),
        15,
        what="ack journaled",
    )
    fp = win.open_faceplate("odor.dose.setpoint")
    assert marks.tags[id(fp)].isVisible() and fp.windowTitle().startswith("[培训 TRAINING]")
    fp.confirm = lambda dialog: True
    fp.entry.setText("23")
    fp._write_entry()
    qtbot.waitUntil(lambda: "read back" in fp.result.text(), timeout=20000)
    fp.close()

    # the instructor ends the drill
    switch_user(win, "trainer", "engineer")
    dlg = win.training.open_dialog()
    qtbot.mouseClick(dlg.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.training.service.last is not None, timeout=20000)
    qtbot.waitUntil(lambda: not marks.active, timeout=5000)
    assert not marks.band.isVisible() and not win.windowTitle().startswith("[")
    assert rt.training == "" and sim.call(lambda: sim.simulator.scenario) == "normal"
    last = win.training.service.last
    # the trend plots shade the drill's span
    for plot in (win.trends.plot, win.overview.trend):
        regions = win.training.spans[id(plot)].regions
        assert regions, "no drill region on the trend"
        start, end = regions[-1][0].getRegion()
        assert start == pytest.approx(info.started_at) and end == pytest.approx(
            last.report["ended_at"]
        )
    recorded = win.training.service.events()
    assert recorded and all(e.get("training") == info.drill_id for e in recorded)
    report = json.loads(last.json_path.read_text(encoding="utf-8"))
    assert last.json_path.parent == rt.data_dir / "training"
    assert last.pdf_path is not None and last.pdf_path.read_bytes()[:5] == b"%PDF-"
    assert "gd05.lel.h" in dlg.report.toPlainText()

    # times against the journal and the audit trail
    t0 = report["drill"]["started_at"]
    journal = [e for e in _journal(rt) if e["ts"] >= t0 and e["alarm_id"] == "gd05.lel.h"]
    raised = next(e for e in journal if e["transition"] == "raise")
    acked = next(e for e in journal if e["transition"] == "ack")
    row = next(a for a in report["alarms"] if a["alarm_id"] == "gd05.lel.h")
    assert row["ack_user"] == "op1" and row["expected"] is True
    # the scenario declares its alarms: raised ones are not missed; whatever else came
    # (at speed 10 the outlet's rate-of-change alarm sometimes does) is listed as unexpected
    assert "gd05.lel.h" not in report["missed"]
    others = {a["alarm_id"] for a in report["alarms"] if not (a["expected"] or a["possible"])}
    assert report["unexpected"] == sorted(others) and "gd05.lel.h" not in others
    assert row["raised_s"] == pytest.approx(raised["ts"] - t0, abs=0.002)
    assert row["time_to_ack_s"] == pytest.approx(acked["ts"] - raised["ts"], abs=0.003)
    # the leak starts 15 model s after the selection (1.5 s at speed 10), level 1 later
    assert 1.0 < row["raised_s"] < 30.0
    writes = [
        r
        for r in rt.audit.records(since=t0, action="write")
        if r.target == "odor.dose.setpoint" and r.result != "requested"
    ]
    assert writes and writes[-1].details.get("training") == info.drill_id
    assert report["summary"]["first_action_s"] == pytest.approx(writes[-1].ts - t0, abs=0.002)
    kinds = [(a["action"], a["user"]) for a in report["actions"]]
    assert ("ack", "op1") in kinds and ("write", "op1") in kinds
    assert report["summary"]["first_ack_s"] < report["summary"]["first_action_s"]
    starts = rt.audit.records(since=t0 - 1, action="training_start")
    stops = rt.audit.records(since=t0 - 1, action="training_stop")
    assert starts[-1].result == "ok" and starts[-1].user == "trainer"
    assert stops[-1].result == "ok" and stops[-1].details["drill"] == info.drill_id
    from hmi.core.training import in_training, training_periods

    periods = training_periods(rt.data_dir)
    assert in_training(raised["ts"], periods) == info.drill_id
    assert in_training(t0 - 5.0, periods) == ""
    # the journal page names the drill's events as training
    from hmi.ui.pages.journal import JCOLS, search_journal

    found = search_journal(rt.data_dir / "alarms.db", t0 - 60, report["ended_at"] + 1, "gd05.lel.h")
    drill_rows = [e for e in found if t0 <= e["ts"] <= report["ended_at"]]
    assert drill_rows and all(e["training"] == info.drill_id for e in drill_rows)
    assert "培训 TRAINING" in JCOLS[3][1](drill_rows[0])
    assert all(e["training"] == "" for e in found if not t0 <= e["ts"] <= report["ended_at"])


def test_the_menu_entry_is_disabled_against_real_devices(window):
    from tests.ui.conftest import switch_user as su

    su(window, "eng", "engineer")
    act = _menu_action(window)
    assert not act.isEnabled()
    assert "real devices" in act.toolTip()
    assert window.training.open_dialog() is None
    with pytest.raises(TrainingError, match="real devices"):
        window.training.service.start("gas_leak", window.actions.session)
