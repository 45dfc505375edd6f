"""Every kind of faceplate fits a 1366x768 screen: nothing is clipped below its lower edge.

The outlet-pressure faceplate carries the protection ladder of both runs, a trend, its alarms
and (for set points) the write controls; at 768 px they share the height instead of running
off the screen."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QWidget

from hmi.ui.faceplates.faceplate import SCREEN_MARGIN

SCREEN = (1366, 768)


def _kinds(cfg):
    """One tag of each faceplate shape: ladder, set point, command states, manual, bool, text."""
    tags = cfg.tags
    picks = {"outlet.pressure", "reg1.outlet.pressure", "reg1.active.setpoint"}
    for test in (
        lambda t: t.access == "rw" and bool(t.states),
        lambda t: t.access == "manual",
        lambda t: t.type == "bool" or bool(t.states),
        lambda t: t.type == "string",
        lambda t: t.access == "r" and not t.alarms,
    ):
        picks.update(t.name for t in tags if test(t))
    return sorted(picks)


def test_every_kind_of_faceplate_fits_1366x768(window, table_runtime):
    window.resize(*SCREEN)
    table_runtime.fill_normal()
    window.live.refresh()
    room = SCREEN[1] - SCREEN_MARGIN
    checked = 0
    for name in _kinds(window.live.cfg)[:40]:
        fp = window.open_faceplate(name)
        assert fp is not None
        need = fp.minimumSizeHint()
        assert need.height() <= room and need.width() <= SCREEN[0], (name, need)
        fp.resize(fp.width(), room)
        fp.layout().activate()
        for w in fp.findChildren(QWidget):
            if w.isVisible() and w.parentWidget() is fp:
                bottom = w.mapTo(fp, QPoint(0, w.height())).y()
                assert bottom <= fp.height(), (name, w.objectName() or type(w).__name__, bottom)
        fp.close()
        checked += 1
    assert checked >= 8


def test_the_ladder_faceplate_shows_the_instrument_and_every_part(window, table_runtime):
    window.resize(*SCREEN)
    table_runtime.fill_normal()
    window.live.refresh()
    fp = window.open_faceplate("outlet.pressure")
    assert fp.title.text().startswith("PT-501  ")  # 位号 beside the description
    assert fp.ladder is not None and fp.trend is not None and fp.alarm_box.isVisible()
    fp.resize(fp.width(), SCREEN[1] - SCREEN_MARGIN)
    fp.layout().activate()
    assert fp.side_by_side  # trend and alarms share the width, not the height
    assert fp.trend.height() >= 200 and fp.ladder.height() >= 170
    assert fp.width() <= SCREEN[0]
    assert fp.alarm_table.height() >= 84


def test_on_a_full_hd_screen_the_faceplate_stacks_its_parts(window, table_runtime):
    window.resize(1920, 1080)
    fp = window.open_faceplate("outlet.pressure")
    assert not fp.side_by_side and fp.width() == 620
    assert fp.height() <= 1080 - SCREEN_MARGIN
