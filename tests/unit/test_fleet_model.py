"""Fleet model fed with Sparkplug and JSON messages (payloads built by the fleet generator)."""

from __future__ import annotations

import json

from hmi.core.fleet import FleetModel, FleetStore
from hmi.core.fleet.generator import EdgeNodeSim
from hmi.core.fleet.json_host import JsonHost
from hmi.core.fleet.sparkplug_host import SparkplugHost
from hmi.core.fleet.station import Metric
from hmi.core.uplink import sparkplug_b_pb2 as pb

T0 = 1_700_000_000.0


def _host() -> tuple[FleetModel, SparkplugHost, list[tuple[str, bytes]]]:
    model = FleetModel(stale_after=30.0, clock=lambda: T0)
    sent: list[tuple[str, bytes]] = []
    return model, SparkplugHost(model, lambda t, p, q, r: sent.append((t, p))), sent


def _feed(host: SparkplugHost, msgs: list[tuple[str, bytes]], t: float = T0) -> None:
    for topic, payload in msgs:
        host.handle(topic, payload, t)


def test_births_metadata_and_key_figures() -> None:
    model, host, sent = _host()
    node = EdgeNodeSim("gate_a", n_tags=20, name="Gate A")
    _feed(host, node.births(T0, config_hash="abc123"))
    st = model.stations["gate_a"]
    assert st.online and st.name == "Gate A" and st.config_hash == "abc123"
    assert st.version == "fleetgen"
    p = st.metrics["outlet.pressure"]
    assert (p.unit, p.area, p.instrument, p.high) == ("MPa", "outlet", "PT-101", 1.6)
    assert p.limits == {"H": 0.44, "HH": 0.46, "L": 0.34, "LL": 0.3}
    _feed(host, [node.data(T0 + 1, {"outlet.pressure": 0.47, "outlet.flow": 15000.0})], T0 + 1)
    figs = model.summaries()[0].figures
    assert figs["pressure"].value == 0.47 and figs["pressure"].limit_state == "HH"
    assert figs["flow"].value == 15000.0 and figs["flow"].unit == "Sm³/h"
    assert sent == []  # nothing out of order: no rebirth request


def test_metering_runs_summed_when_no_outlet_flow() -> None:
    model, host, _ = _host()
    node = EdgeNodeSim("gate_b", n_tags=6)
    node.tags = [t for t in node.tags if t.name != "outlet.flow"]
    _feed(host, node.births(T0))
    _feed(host, [node.data(T0, {"m1.flow.std": 100.0, "m2.flow.std": 250.0})])
    assert model.summaries()[0].figures["flow"].value == 350.0


def test_seq_gap_requests_one_rebirth_and_death_matches_bdseq() -> None:
    model, host, sent = _host()
    node = EdgeNodeSim("gate_c", n_tags=5)
    _feed(host, node.births(T0))
    node.seq += 3  # three messages lost
    _feed(host, [node.data(T0 + 1)], T0 + 1)
    _feed(host, [node.data(T0 + 1.5)], T0 + 1.5)
    assert len(sent) == 1 and sent[0][0] == "spBv1.0/gas-stations/NCMD/gate_c"
    cmd = pb.Payload.FromString(sent[0][1])
    assert cmd.metrics[0].name == "Node Control/Rebirth" and cmd.metrics[0].boolean_value
    old = EdgeNodeSim("gate_c", n_tags=5)
    old.bdseq = 7  # a Will of an earlier session must not take the node offline
    _feed(host, [old.death()])
    assert model.stations["gate_c"].online
    _feed(host, [node.death()])
    assert not model.stations["gate_c"].online


def test_alarm_events_ack_reply_and_stale() -> None:
    model, host, _ = _host()
    node = EdgeNodeSim("gate_d", n_tags=5)
    _feed(host, node.births(T0))
    ev = {
        "alarm_id": "outlet.pressure.hh",
        "tag": "outlet.pressure",
        "kind": "HH",
        "priority": 1,
        "state": "ACTIVE_UNACK",
        "ts": T0,
        "message": {"en": "HH", "zh": "高高"},
    }
    _feed(host, [node.alarm(T0, ev)])
    assert [a.alarm_id for a in model.active_alarms()] == ["outlet.pressure.hh"]
    assert model.summaries()[0].alarms_by_priority[1] == 1
    _feed(host, [node.alarm(T0, {**ev, "state": "NORMAL", "transition": "clear"})])
    assert model.active_alarms() == []
    assert model.check_stale(T0 + 10) == []
    assert model.check_stale(T0 + 31) == ["gate_d"]
    assert model.summaries()[0].stale


def test_json_station_status_meta_telemetry() -> None:
    model = FleetModel(clock=lambda: T0)
    host = JsonHost(model, "gas")
    meta = {"tags": {"outlet.pressure": {"engUnit": "MPa", "Area": "outlet", "Alarm/H": 0.44}}}
    host.handle(
        "gas/rs1/status",
        json.dumps({"online": True, "version": "1.2", "config_hash": "ff"}).encode(),
        T0,
    )
    host.handle("gas/rs1/meta", json.dumps(meta).encode(), T0)
    tele = {
        "device": "plc",
        "sent_ts": T0,
        "values": [{"tag": "outlet.pressure", "value": 0.45, "quality": 192, "ts": T0}],
    }
    host.handle("gas/rs1/telemetry", json.dumps(tele).encode(), T0)
    s = model.summaries()[0]
    assert (s.online, s.version, s.config_hash, s.mode) == (True, "1.2", "ff", "json")
    assert s.figures["pressure"].value == 0.45 and s.figures["pressure"].limit_state == "H"
    host.handle("gas/rs1/status", b'{"online": false, "state": "offline"}', T0 + 1)
    assert not model.summaries()[0].online


def test_store_round_trip_and_retention(tmp_path) -> None:
    store = FleetStore(tmp_path / "fleet.db", retention_days=1)
    ev = {"alarm_id": "a1", "priority": 2, "state": "ACTIVE_UNACK", "ts": T0 - 3 * 86400}
    row = {
        "station": "s1",
        "name": "S1",
        "mode": "sparkplug",
        "online": 1,
        "stale": 0,
        "last_seen": int(T0 * 1000),
        "version": "1",
        "config_hash": "h",
    }
    store.write(
        [row], None, [("s1", ev)], [("s1", "flow", T0 - 2 * 86400, 1.0), ("s1", "flow", T0, 2.0)]
    )
    assert store.stations()[0]["online"] is True
    assert store.prune(T0) == 2
    assert store.figures("s1", "flow") == [(T0, 2.0)]
    store.close()


def test_ddeath_marks_the_device_unavailable() -> None:
    model, host, _ = _host()
    node = EdgeNodeSim("gate_e", n_tags=3)
    _feed(host, node.births(T0))
    assert model.summaries()[0].devices_up == 1
    p = pb.Payload()
    p.timestamp, p.seq = int(T0 * 1000), node.seq
    host.handle(node.topic("DDEATH", node.device), p.SerializeToString(), T0)
    s = model.summaries()[0]
    assert (s.devices_up, s.devices, s.online) == (0, 1, True)


def test_remote_write_property_only_where_the_station_policy_lets_writes_through() -> None:
    from hmi.config.schema import TagConfig
    from hmi.core.uplink.meta import tag_meta, tag_properties

    sp = TagConfig.model_validate(
        {"name": "odor.dose.setpoint", "device": "plc", "address": "hr:21:u16", "access": "rw"}
    )
    open_tag = sp.model_copy(update={"remote_write": True})
    assert "RemoteWrite" not in tag_properties(open_tag)  # remote_commands off
    assert "RemoteWrite" not in tag_properties(sp, remote_commands=True)  # tag not opened
    assert tag_properties(open_tag, remote_commands=True)["RemoteWrite"] == ("Boolean", True)
    assert tag_meta(open_tag, remote_commands=True)["RemoteWrite"] is True


def test_write_reply_without_id_matches_the_open_write_of_that_tag_and_user() -> None:
    from hmi.core.fleet import WriteRequest

    model = FleetModel(clock=lambda: T0 + 0.25)
    model.add_write(WriteRequest("w1", "gate_a", "sp", 1.0, "li", T0))
    model.add_write(WriteRequest("w2", "gate_a", "sp", 2.0, "wang", T0))
    reply = {"id": "", "cmd": "write", "ok": True, "message": "success", "tag": "sp"}
    model.on_reply("gate_b", {**reply, "user": "dispatch:wang"})  # another station's
    model.on_reply("gate_a", {**reply, "user": "dispatch:wang"})
    w = {r.request_id: r for r in model.write_requests("gate_a")}
    assert not w["w1"].done and w["w2"].done and w["w2"].ok
    assert w["w2"].confirmed == T0 + 0.25
    model.on_reply("gate_a", {**reply, "id": "w1", "ok": False, "message": "timeout"})
    [w1] = [r for r in model.write_requests("gate_a") if r.request_id == "w1"]
    assert w1.done and not w1.ok and w1.message == "timeout"


def test_dispatch_config_names_stations_in_the_screen_language() -> None:
    from hmi.core.fleet.config import DispatchConfig, PipelineEntry

    cfg = DispatchConfig(
        pipeline=[PipelineEntry(station="gate_n", name={"en": "North gate", "zh": "北门站"})]
    )
    assert cfg.display_name("gate_n", "zh_CN", "Birth name") == "北门站"
    assert cfg.display_name("gate_n", "en", "Birth name") == "North gate"
    assert cfg.display_name("reg_x", "zh_CN", "Birth name") == "Birth name"  # not listed
    assert cfg.display_name("reg_x", "en") == "reg_x"


def test_state_texts_from_birth_properties_name_a_discrete_value() -> None:
    from hmi.core.fleet.station import states_of

    props = {
        "State/0": "OK",
        "State/0/zh": "正常",
        "State/1": "Fault",
        "State/x": "?",
        "Area": "gd",
    }
    m = Metric("gd.01.fault", states=states_of(props))
    assert m.states == {0: ("OK", "正常"), 1: ("Fault", "")}
    m.value = 1.0
    assert (m.state_text("en"), m.state_text("zh_CN")) == ("Fault", "Fault")
    m.value = 0
    assert (m.state_text("en"), m.state_text("zh_CN")) == ("OK", "正常")
    for v in (2, 0.5, None, "RUN"):  # no such state, not a whole number, none, text
        m.value = v
        assert m.state_text("en") == ""


def test_precision_of_an_ignition_number_pattern():
    from hmi.config.schema import TagConfig
    from hmi.core.fleet.station import precision_of
    from hmi.core.uplink.meta import format_string

    assert [precision_of(p) for p in ("#,##0", "#,##0.0", "#,##0.000", "0.00")] == [0, 1, 3, 2]
    assert [precision_of(p) for p in (None, "", 3, "#,##0.0 MPa", "%.2f")] == [None] * 5
    tag = TagConfig(name="pt.out", device="plc", address="hr:1", precision=3)
    assert format_string(tag) == "#,##0.000" and precision_of(format_string(tag)) == 3
    count = TagConfig(name="n.gd", device="plc", address="hr:2", type="int", precision=2)
    assert format_string(count) == "#,##0"
