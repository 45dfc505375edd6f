"""Screenshots of the dispatch console over real simulated stations (en and zh_CN).

What ``make demo-fleet`` runs: a private mosquitto, copies of both demo stations
(``gas-hmi demo --headless`` processes with their simulators and scenarios, uplink on,
gated on the dispatch as primary host), and the console on top — here the real
:class:`~hmi.core.fleet.DispatchHost` and :class:`~hmi.ui.dispatch.window.DispatchWindow`
in this process, offscreen. One station is stopped (offline tile), one alarm is
acknowledged remotely with a comment, one set point written remotely, then the fleet
overview, the alarm list, a station page and the network view are saved::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tools.fleet_screenshots [OUT_DIR]

Takes about two minutes (the scenarios unfold at 4x speed).
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

from hmi.cli.demo_fleet import (
    GATE,
    HOST_ID,
    REMOTE_WRITE,
    instances,
    mosquitto,
    pipeline_config,
    start_stations,
    stop,
)
from hmi.core.fleet import DispatchHost
from hmi.core.fleet.config import load_dispatch_config
from hmi.core.users import TEST_PARAMS, Console, UserStore

SIZES = ((1366, 768), (1920, 1080))
STOPPED = "gate_west"  # shown offline
PAGE = "gate_north"  # the station page shown (and remotely written)


def _wait(what: str, predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    print(f"fleet_screenshots: gave up waiting for {what}", file=sys.stderr)
    return False


def _live(host: DispatchHost, ids: list[str]) -> bool:
    model = host.model
    summaries = {s.station_id: s for s in model.summaries()}
    return all(
        sid in summaries
        and summaries[sid].online
        and {"flow", "pressure"} <= set(summaries[sid].figures)
        and all(f.quality == 192 for f in summaries[sid].figures.values())
        for sid in ids
    )


def main() -> None:
    """Run the fleet, drive it, write the PNGs."""
    from hmi.ui import theme
    from hmi.ui.app import create_app

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    app = create_app()
    theme.install(app, "light")
    chosen = instances(4, 3)
    ids = [sid for sid, *_ in chosen]
    with tempfile.TemporaryDirectory(prefix="gas-hmi-shots-") as tmp_name:
        tmp = Path(tmp_name)
        broker, port = mosquitto(tmp)
        procs = [broker]
        users = UserStore(tmp / "d" / "users.db", station_id=HOST_ID, params=TEST_PARAMS)
        host = DispatchHost(f"mqtt://127.0.0.1:{port}", tmp / "d", HOST_ID, audit=users.audit)
        try:
            host.start()
            stations = start_stations(chosen, port, tmp, tmp / "data", speed=4.0)
            procs += stations
            _wait("every station live", lambda: _live(host, ids), 120)
            stations[ids.index(STOPPED)].send_signal(signal.SIGTERM)
            _wait(f"{STOPPED} offline", lambda: not host.model.stations[STOPPED].online, 30)
            _wait("the scenarios' alarms", lambda: len(host.model.active_alarms()) >= 6, 90)
            users.add_user("li.dispatch", "Gate-7391", "operator", by="demo", origin="system")
            console = Console(users)
            console.login("li.dispatch", "Gate-7391")
            _commands(host, console)
            cfg = load_dispatch_config(pipeline_config(tmp, chosen))
            _shoot(app, host, console, cfg, out)
        finally:
            host.stop()
            users.close()
            stop(list(reversed(procs)))


def _commands(host: DispatchHost, console: Console) -> None:
    """One remote acknowledgement with a comment, one remote write, both confirmed."""
    unacked = [a for a in host.model.active_alarms() if a.unacked and a.station != STOPPED]
    if unacked:
        req = host.acknowledge(console.session, [unacked[-1].key], "crew dispatched")
        _wait("the ack confirmation", lambda: req.done, 10)
    [tag] = REMOTE_WRITE[GATE]
    write = host.write(console.session, PAGE, tag, 22.0)
    _wait("the write confirmation", lambda: write.done, 10)
    _wait(
        "the written value back", lambda: host.model.stations[PAGE].metrics[tag].value == 22.0, 10
    )


def _shoot(app, host: DispatchHost, console: Console, cfg, out: Path) -> None:
    from PySide6.QtWidgets import QTreeWidget

    from hmi.ui.dispatch.window import DispatchWindow
    from hmi.ui.i18n import i18n

    for lang in ("en", "zh_CN"):
        i18n().set_language(lang)
        win = DispatchWindow(host, console, cfg)
        for w, h in SIZES:
            win.resize(w, h)
            win.show()
            for tab, name in ((0, "overview"), (1, "alarms"), (3, "network")):
                win.tabs.setCurrentIndex(tab)
                win.refresh()
                _pump()
                win.grab().save(str(out / f"dispatch_{name}_{lang}_{w}x{h}.png"))
            win.open_station(PAGE)
            _pump()
            item = win.station.items.get(REMOTE_WRITE[GATE][0])
            if item is not None:  # the written set point, selected and in view
                win.station.tree.setCurrentItem(item)
                win.station.tree.scrollToItem(item, QTreeWidget.ScrollHint.PositionAtCenter)
                _pump(0.2)
            win.grab().save(str(out / f"dispatch_station_{lang}_{w}x{h}.png"))
        win.timer.stop()
        win.close()
        win.deleteLater()
        _pump()
    i18n().set_language("en")


def _pump(seconds: float = 0.6) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


if __name__ == "__main__":
    main()
