"""Screenshots of the dispatch console: fleet overview, alarm list, station page (en, zh_CN).

A local mosquitto, the real DispatchHost and synthetic stations (EdgeNodeSim births with the
metadata properties, values, alarms, one dead station, one remote ack confirmed).
``QT_QPA_PLATFORM=offscreen .venv/bin/python -m tools.dispatch_screenshots [OUT_DIR]``
"""

from __future__ import annotations

import sys
import tempfile
import time
import zlib
from pathlib import Path

from hmi.core.fleet import DispatchHost
from hmi.core.fleet.config import DispatchConfig, PipelineEntry
from hmi.core.fleet.generator import EdgeNodeSim
from hmi.core.users import TEST_PARAMS, Console, UserStore
from tests.fleet_rig import FleetPublisher, alarm_event
from tests.helpers import wait_until
from tests.mqtt_broker import MosquittoBroker

STATIONS = [
    ("gate_north", "North city gate", {"outlet.pressure": 0.402, "outlet.flow": 14250.0}),
    ("gate_east", "East city gate", {"outlet.pressure": 0.463, "outlet.flow": 9870.0}),
    ("gate_south", "South city gate", {"outlet.pressure": 0.398, "outlet.flow": 11020.0}),
    ("gate_west", "West city gate", {"outlet.pressure": 0.405, "outlet.flow": 8300.0}),
    ("reg_harbour", "Harbour regulator", {"outlet.pressure": 0.331, "outlet.flow": 2410.0}),
    ("reg_airport", "Airport regulator", {"outlet.pressure": 0.401, "outlet.flow": 3050.0}),
    ("reg_hospital", "Hospital regulator", {"outlet.pressure": 0.399, "outlet.flow": 640.0}),
]
ALARMS = [
    (
        "gate_east",
        "outlet.pressure.hh",
        "outlet.pressure",
        1,
        "ACTIVE_UNACK",
        "outlet",
        "Outlet pressure high high",
        "出站压力高高",
        0.463,
        "HH",
    ),
    (
        "gate_east",
        "gd05.h",
        "gd05.lel",
        2,
        "ACTIVE_ACK",
        "regulation",
        "Gas detector GD-05 high",
        "可燃气体探测器 GD-05 高",
        22.0,
        "H",
    ),
    (
        "reg_harbour",
        "outlet.pressure.l",
        "outlet.pressure",
        3,
        "ACTIVE_UNACK",
        "outlet",
        "Outlet pressure low",
        "出站压力低",
        0.331,
        "L",
    ),
    (
        "gate_south",
        "filter1.dp.h",
        "filter1.dp",
        3,
        "ACTIVE_UNACK",
        "filters",
        "Filter 1 differential pressure high",
        "1#过滤器差压高",
        52.0,
        "H",
    ),
    (
        "reg_airport",
        "odor.level.l",
        "odor.level",
        4,
        "RTN_UNACK",
        "odorizer",
        "Odorant tank level low",
        "加臭剂储罐液位低",
        18.0,
        "L",
    ),
]


def main() -> None:
    """Write the PNGs."""
    from PySide6.QtWidgets import QApplication

    from hmi.ui import theme
    from hmi.ui.app import create_app
    from hmi.ui.dispatch.window import DispatchWindow
    from hmi.ui.i18n import i18n

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots")
    app = create_app()
    theme.install(app, "light")
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(Path(tmp) / "mqtt").start()
        users = UserStore(Path(tmp) / "d" / "users.db", station_id="d", params=TEST_PARAMS)
        users.add_user("li.dispatch", "Gate-7391", "operator", by="demo", origin="system")
        host = DispatchHost(broker.url, Path(tmp) / "d", "shots", audit=users.audit)
        host.start()
        pub = FleetPublisher(broker.host, broker.port, "shots-gen")
        nodes = {}
        try:
            wait_until(lambda: host.connected, 10)
            now = time.time()
            for sid, name, values in STATIONS:
                n = nodes[sid] = EdgeNodeSim(sid, n_tags=12, name=name)
                pub.send(n.births(now, config_hash=f"{zlib.crc32(sid.encode()):08x}"))
                pub.send([n.data(now, values)])
            for sid, *a in ALARMS:
                pub.send([nodes[sid].alarm(now, alarm_event(*a))])
            pub.send([nodes["reg_hospital"].death()])
            wait_until(
                lambda: (
                    len(host.model.active_alarms()) == len(ALARMS)
                    and not host.model.stations["reg_hospital"].online
                ),
                10,
            )
            console = Console(users)
            console.login("li.dispatch", "Gate-7391")
            req = host.acknowledge(
                console.session, [("gate_south", "filter1.dp.h")], "crew dispatched"
            )
            pub.reply(nodes["gate_south"], req.request_id, ["filter1.dp.h"])
            wait_until(lambda: req.done, 10)
            cfg = DispatchConfig(pipeline=[PipelineEntry(station=s) for s, _n, _v in STATIONS])
            for lang in ("en", "zh_CN"):
                i18n().set_language(lang)
                win = DispatchWindow(host, console, cfg)
                win.resize(1366, 768)
                win.show()
                for tab, name in ((0, "overview"), (1, "alarms")):
                    win.tabs.setCurrentIndex(tab)
                    win.refresh()
                    _pump(app)
                    win.grab().save(str(out / f"dispatch_{name}_{lang}_1366x768.png"))
                win.open_station("gate_east")
                _pump(app)
                win.grab().save(str(out / f"dispatch_station_{lang}_1366x768.png"))
                win.tabs.setCurrentIndex(3)
                _pump(app)
                win.grab().save(str(out / f"dispatch_network_{lang}_1366x768.png"))
                win.timer.stop()
                win.close()
                win.deleteLater()
                _pump(app)
        finally:
            pub.stop()
            host.stop()
            users.close()
            broker.stop()
    QApplication.processEvents()


def _pump(app: object, seconds: float = 0.3) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


if __name__ == "__main__":
    main()
