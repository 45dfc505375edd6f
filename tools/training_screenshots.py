"""Screenshots of training mode: a page during a drill and the drill report (en, zh_CN, 1920x1080).

The simulated demo station at speed 10 runs the ``gas_leak`` scenario as a drill started
by an engineer; an operator acknowledges the first detector alarm and writes the odorant
dose set point, then the engineer stops the drill and the report shows in the dialog.
``QT_QPA_PLATFORM=offscreen .venv/bin/python -m tools.training_screenshots [OUT_DIR]``
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Any

from hmi import paths
from hmi.config import load_station


def _login(win: Any, name: str, role: str) -> None:
    store = win.actions.console.store
    pw = "Shot-" + secrets.token_hex(8)  # forgotten at once: the data folder is temporary
    if store.get(name) is None:
        store.add_user(name, pw, role, by="screenshot", origin="system")
    else:
        store.set_password(name, pw, by="screenshot", origin="system")
    win.actions.console.login(name, pw)
    win.actions.session_changed()


def _until(what: str, cond: Any, timeout: float = 60.0) -> None:
    from hmi.ui.screenshot import pump

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"screenshot: {what} did not happen within {timeout:g} s")
        pump(0.2)


def shoot(out: Path, lang: str) -> list[Path]:
    """The two pictures in ``lang``."""
    from hmi.ui.app import show_main_window
    from hmi.ui.screenshot import grab, live_station, pump

    cfg = load_station(paths.station_configs_dir() / "demo_city_gate")
    written: list[Path] = []
    with live_station(cfg, "normal", seed=2, speed=10.0) as (rt, sim):
        win = show_main_window(rt, lang=lang, theme="light", horn=False, simulator=sim)
        win.resize(1920, 1080)
        try:
            _login(win, "trainer", "engineer")
            ctl = win.training
            dlg = ctl.open_dialog()
            dlg.select("gas_leak")
            dlg.operator.setEditText("zhang")
            dlg.start()
            _until("drill start", lambda: ctl.marks.active)
            dlg.close()
            _login(win, "zhang", "operator")
            win.navigate("pid")
            _until(
                "detector alarm",
                lambda: any(v.alarm_id == "gd05.lel.h" for v in win.banner.ordered),
            )
            pump(3.0)  # the operator reads the alarm before acknowledging it
            win.banner.selected_id = "gd05.lel.h"
            win.banner.ack.click()
            fp = win.open_faceplate("odor.dose.setpoint")
            fp.confirm = lambda dialog: True
            fp.entry.setText("23")
            fp._write_entry()
            _until(
                "set point read back",
                lambda: "read back" in fp.result.text() or "回读" in fp.result.text(),
            )
            pump(6.0)  # the leak grows: level 2 comes in unacknowledged
            win.live.refresh()
            path = out / f"training_pid_{lang}_1920x1080.png"
            grab(win, fp).save(str(path))
            written.append(path)
            fp.close()
            _login(win, "trainer", "engineer")
            dlg = ctl.open_dialog()
            dlg.stop()
            _until("drill report", lambda: ctl.service.last is not None and not ctl.busy)
            dlg.refresh()
            dlg.resize(1400, 860)
            pump(0.5)
            path = out / f"training_report_{lang}_1920x1080.png"
            pm = win.grab()
            from PySide6.QtCore import QPoint
            from PySide6.QtGui import QPainter

            p = QPainter(pm)
            img = dlg.grab()
            x, y = (pm.width() - img.width()) // 2, (pm.height() - img.height()) // 2
            p.drawPixmap(QPoint(x, y), img)
            p.setPen(win.palette().dark().color())
            p.drawRect(x - 1, y - 1, img.width() + 1, img.height() + 1)
            p.end()
            pm.save(str(path))
            written.append(path)
            dlg.close()
        finally:
            win.close()
    return written


def main(argv: list[str]) -> int:
    """Write the pictures (into argv[0], default docs/screenshots); print their paths."""
    from hmi.ui.screenshot import write_pictures

    return write_pictures(shoot, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
