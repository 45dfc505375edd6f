"""The dispatch console's window on a real mosquitto with synthetic stations.

The stations are :class:`EdgeNodeSim` nodes published by the test (births with the
metadata contract's properties); a station's ``Commands/Reply`` to a remote ack is sent
by the test too — the real station's answer is covered in tests/integration/test_dispatch.py.
"""

from __future__ import annotations

import json

import pytest

from hmi.core.fleet import DispatchHost
from hmi.core.fleet.config import DispatchConfig, PipelineEntry
from hmi.core.fleet.generator import EdgeNodeSim
from hmi.core.fleet.station import ActiveAlarm, Metric
from hmi.core.uplink import sparkplug_b_pb2 as pb
from hmi.core.users import TEST_PARAMS, Console, UserStore
from hmi.ui.dispatch.alarm_list import COLUMNS
from hmi.ui.i18n import i18n
from tests.fleet_rig import FleetPublisher, alarm_event
from tests.mqtt_broker import MosquittoBroker, Recorder

PW = "Gate-7391"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("dispatch_ui")
    broker = MosquittoBroker(root / "mqtt").start()
    users = UserStore(root / "d" / "users.db", station_id="d", params=TEST_PARAMS)
    users.add_user("op", PW, "operator", by="test", origin="system")
    users.add_user("eng", PW, "engineer", by="test", origin="system")
    host = DispatchHost(broker.url, root / "d", "disp-ui", audit=users.audit)
    host.start()
    pub = FleetPublisher(broker.host, broker.port)
    rec = Recorder(broker, ["spBv1.0/+/NCMD/#", "spBv1.0/+/DCMD/#"]).start()
    nodes = [
        EdgeNodeSim(
            f"gate_{c}", n_tags=12, name=f"City gate {c.upper()}", remote_write=("aux010.value",)
        )
        for c in "abc"
    ]
    for n in nodes:
        pub.send(n.births(1.0e9))
    pub.send(
        [
            nodes[1].alarm(
                1.0e9,
                alarm_event(
                    "outlet.pressure.hh",
                    "outlet.pressure",
                    1,
                    "ACTIVE_UNACK",
                    "outlet",
                    "Outlet pressure high high",
                    "出站压力高高",
                    0.47,
                    "HH",
                ),
            )
        ]
    )
    pub.send([nodes[0].data(1.0e9, {"outlet.pressure": 0.41, "outlet.flow": 12000.0})])
    pub.send([nodes[2].death()])
    try:
        yield host, users, pub, rec, nodes
    finally:
        rec.stop()
        pub.stop()
        host.stop()
        users.close()
        broker.stop()


@pytest.fixture
def win(qtbot, hmi_app, fleet):
    from hmi.ui.dispatch.window import DispatchWindow

    host, users, *_ = fleet
    i18n().set_language("en")
    cfg = DispatchConfig(
        pipeline=[PipelineEntry(station="gate_c"), PipelineEntry(station="gate_a")]
    )
    w = DispatchWindow(host, Console(users), cfg)
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitUntil(
        lambda: (
            len(w.overview.tiles) == 3
            and "gate_c" in host.model.stations
            and not host.model.stations["gate_c"].online
            and bool(host.model.active_alarms())
        ),
        timeout=10000,
    )
    w.refresh()
    yield w
    w.timer.stop()


def test_tiles_sorted_by_severity_with_key_figures(win):
    assert win.overview.order == ["gate_c", "gate_b", "gate_a"]  # offline, P1 alarm, normal
    a = win.overview.tiles["gate_a"]
    assert a.figures["pressure"][1].text() == "0.410 MPa"
    assert a.figures["flow"][1].text() == "12,000 Sm³/h"
    assert win.overview.tiles["gate_c"].state.text() == "OFFLINE"
    assert win.overview.tiles["gate_b"].property("alarm") == "1"
    assert win.network.order == ["gate_c", "gate_a", "gate_b"]  # pipeline order first


def test_alarm_filter_and_remote_ack_needs_login_then_shows_confirmation(
    win, fleet, qtbot, monkeypatch
):
    host, users, pub, rec, nodes = fleet
    t = win.alarms
    assert t.table.rowCount() == 1
    t.priority.setCurrentIndex(t.priority.findData(3))
    assert t.table.rowCount() == 0
    t.priority.setCurrentIndex(0)
    t.table.selectRow(0)
    monkeypatch.setattr(type(t), "ask_comment", staticmethod(lambda _p, n: ("on my way", True)))
    refused = []
    monkeypatch.setattr(win, "_refused", lambda exc: refused.append(str(exc)))
    t.ack.click()
    assert refused and "operator" in refused[0]
    win.console.login("op", PW)
    t.table.selectRow(0)
    t.ack.click()
    qtbot.waitUntil(lambda: bool(rec.on("NCMD/gate_b")), timeout=5000)
    cmd = pb.Payload.FromString(rec.on("NCMD/gate_b")[-1].payload)
    body = json.loads(cmd.metrics[0].string_value)
    assert cmd.metrics[0].name == "Alarms/Ack" and body["user"] == "dispatch:op"
    assert body["alarm_ids"] == ["outlet.pressure.hh"] and body["comment"] == "on my way"
    qtbot.waitUntil(lambda: t.acks.rowCount() == 1, timeout=3000)
    assert "waiting" in t.acks.item(0, 3).text()
    pub.reply(nodes[1], body["id"], body["alarm_ids"])
    qtbot.waitUntil(lambda: "confirmed" in t.acks.item(0, 3).text(), timeout=5000)
    win.console.logout()


def test_station_page_values_by_area_and_rebirth_for_engineers(win, fleet, qtbot):
    host, users, pub, rec, nodes = fleet
    win.open_station("gate_a")
    page = win.station
    assert set(page.areas) >= {"outlet", "inlet", "metering"}
    item = page.items["outlet.pressure"]
    assert (item.text(2), item.text(3), item.text(4)) == ("Outlet pressure", "0.410", "MPa")
    assert item.text(1) == "PT-101"  # the InstrumentTag of the birth
    assert not page.rebirth.isEnabled() and not page.write.isEnabled()
    win.console.login("eng", PW)
    win.refresh()
    assert page.rebirth.isEnabled()
    page.rebirth.click()
    qtbot.waitUntil(
        lambda: any(
            m.name == "Node Control/Rebirth"
            for msg in rec.on("NCMD/gate_a")
            for m in pb.Payload.FromString(msg.payload).metrics
        ),
        timeout=5000,
    )
    assert users.audit.records(action="rebirth_request")[-1].user == "eng"
    win.console.logout()


def test_station_page_shows_a_discrete_tag_by_its_state_text(win):
    """A tag whose birth carries State/<value> texts reads as its state, in the language."""
    win.open_station("gate_a")
    page = win.station
    m = Metric(
        "gd.01.fault",
        device="plc",
        value=1.0,
        area="gas_detection",
        states={0: ("OK", "正常"), 1: ("Fault", "故障")},
    )
    page.refresh([m], "")
    assert page.items["gd.01.fault"].text(3) == "Fault"
    i18n().set_language("zh_CN")
    try:
        page.refresh([m], "")
        assert page.items["gd.01.fault"].text(3) == "故障"
        m.value = 7.0  # a value without a state text: the number
        page.refresh([m], "")
        assert page.items["gd.01.fault"].text(3) == "7.000"
    finally:
        i18n().set_language("en")


def test_alarm_list_shows_a_discrete_alarms_value_by_its_state_text(win):
    t = win.alarms
    fault = ActiveAlarm(
        "gate_a", "gd.01.fault.fault", "gd.01.fault", "fault", 3, "ACTIVE_UNACK", 1.0, value=1.0
    )
    high = ActiveAlarm(
        "gate_a", "pt.hh", "outlet.pressure", "HH", 1, "ACTIVE_UNACK", 2.0, value=0.47
    )
    states = {("gate_a", "gd.01.fault"): {0: ("OK", "正常"), 1: ("Fault", "故障")}}
    value = COLUMNS.index("Value")
    try:
        t.refresh([high, fault], ["gate_a"], [], states)
        cells = {t.table.item(r, 4).text(): t.table.item(r, value).text() for r in range(2)}
        assert list(cells.values()) == ["0.470", "Fault"]  # a measured value stays a number
        i18n().set_language("zh_CN")
        t.refresh([high, fault], ["gate_a"], [], states)
        assert t.table.item(1, value).text() == "故障"
    finally:
        i18n().set_language("en")
        win.refresh()


def test_dispatch_values_take_the_tags_precision_from_the_birth(win):
    """A count alarm (precision 0) reads 2, not 2.000; a pressure with precision 3 keeps
    its three digits; without a formatString the magnitude decides, as before."""
    t = win.alarms
    count = ActiveAlarm(
        "gate_a", "gas.detectors_level1.h", "gas.detectors_level1", "H", 2, "ACTIVE_UNACK",
        1.0, value=2.0,
    )  # fmt: skip
    high = ActiveAlarm(
        "gate_a", "pt.hh", "outlet.pressure", "HH", 1, "ACTIVE_UNACK", 2.0, value=0.47
    )
    flow = ActiveAlarm("gate_a", "fq.h", "m1.flow", "H", 3, "ACTIVE_UNACK", 3.0, value=24000.0)
    digits = {("gate_a", "gas.detectors_level1"): 0, ("gate_a", "m1.flow"): 1}
    value = COLUMNS.index("Value")
    try:
        t.refresh([count, high, flow], ["gate_a"], [], {}, digits)
        cells = {t.table.item(r, 4).text(): t.table.item(r, value).text() for r in range(3)}
        assert sorted(cells.values()) == ["0.470", "2", "24,000.0"]
    finally:
        win.refresh()
    win.open_station("gate_a")
    m = Metric("gas.detectors_level1", device="calc", value=2.0, precision=0)
    win.station.refresh([m], "")
    assert win.station.items["gas.detectors_level1"].text(3) == "2"


def test_chinese_texts(win):
    i18n().set_language("zh_CN")
    try:
        assert win.tabs.tabText(0) == "站群总览"
        assert win.overview.tiles["gate_c"].state.text() == "离线"
    finally:
        i18n().set_language("en")


def test_cli_dispatch_gui_starts_and_stops(fleet, tmp_path):
    import os
    import subprocess
    import sys

    host = fleet[0]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmi",
            "dispatch",
            "--broker",
            f"mqtt://{host.broker.host}:{host.broker.port}",
            "--host-id",
            "disp-cli",
            "--data-dir",
            str(tmp_path),
            "--duration",
            "3",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert r.returncode == 0, r.stderr
    assert "dispatch disp-cli on mqtt://" in r.stdout
    assert (tmp_path / "fleet.db").is_file() and (tmp_path / "users.db").is_file()
    # the host's retained STATE says offline after a clean stop, with the online timestamp
    probe = Recorder(fleet[3].broker, "spBv1.0/STATE/disp-cli").start()
    try:
        probe.wait_for(lambda ms: bool(ms), 10, "the retained STATE")
        state = json.loads(probe.take()[0].payload)
        assert state["online"] is False and state["timestamp"] > 0
        assert probe.take()[0].retain
    finally:
        probe.stop()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmi",
            "dispatch",
            "--broker",
            "http://x",
            "--headless",
            "--data-dir",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "mqtt://HOST:PORT" in bad.stderr


def test_remote_write_only_where_the_station_allows_it(fleet, qtbot):
    from hmi.core.users import Role, Session

    host, users, pub, rec, nodes = fleet
    op = Session("op", Role.OPERATOR)
    with pytest.raises(PermissionError, match="operator"):
        host.write(Session.viewer(), "gate_a", "aux010.value", 42.0)
    with pytest.raises(PermissionError, match="does not allow"):
        host.write(op, "gate_a", "outlet.pressure", 0.5)
    host.write(op, "gate_a", "aux010.value", 42.0)
    qtbot.waitUntil(lambda: bool(rec.on("DCMD/gate_a/plc")), timeout=5000)
    p = pb.Payload.FromString(rec.on("DCMD/gate_a/plc")[-1].payload)
    m = p.metrics[0]
    assert (m.name, m.alias, m.double_value) == ("aux010.value", 1010, 42.0)
    assert (
        list(m.properties.keys) == ["User"] and m.properties.values[0].string_value == "dispatch:op"
    )
    results = [r.result for r in users.audit.records(action="remote_write")]
    assert results == ["denied", "denied", "sent"]


def test_network_rows_one_per_supply_with_what_it_feeds():
    from hmi.ui.dispatch.network import network_rows

    cfg = DispatchConfig(
        pipeline=[
            PipelineEntry(station="gate_n"),
            PipelineEntry(station="gate_e"),
            PipelineEntry(station="reg_1", feeds_from="gate_n"),
            PipelineEntry(station="reg_2", feeds_from="gate_e"),
            PipelineEntry(station="reg_3", feeds_from="gate_n"),
            PipelineEntry(station="reg_4", feeds_from="reg_3"),
            PipelineEntry(station="gone", feeds_from="gate_n"),  # not heard of: left out
            PipelineEntry(station="reg_5", feeds_from="nowhere"),  # feed unknown: a supply
        ]
    )
    ids = ["gate_e", "gate_n", "reg_1", "reg_2", "reg_3", "reg_4", "reg_5", "x_new"]
    assert network_rows(cfg, ids) == [
        [("gate_n", ""), ("reg_1", "gate_n"), ("reg_3", "gate_n"), ("reg_4", "reg_3")],
        [("gate_e", ""), ("reg_2", "gate_e")],
        [("reg_5", "")],
        [("x_new", "")],
    ]
