"""Dispatch console against real stations WITH their simulators, through a real mosquitto.

Two ``gas-hmi demo --headless`` processes (runtime + the simulated devices of the station,
uplink on, as :mod:`hmi.cli.demo_fleet` starts them):

* the demo city gate in Sparkplug mode, ``odor.dose.setpoint`` open to remote writes;
* the demo regulator station in JSON mode with a 4 KB payload cap, so that its retained
  meta document comes in several parts, ``reg1.active.setpoint`` open to remote writes.

They show that the births/meta carry units, labels, areas and ``RemoteWrite``; that the
fleet model's key figures come from the right tags with GOOD values inside their ranges;
the remote write round trip (dispatch -> station -> read-back -> reply, audited on both
sides, the new value back in the fleet model) in both payload modes; and the JSON host
reassembling a split meta document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from hmi.config import load_station
from hmi.core.audit import AuditTrail
from hmi.core.fleet import DispatchHost
from hmi.core.fleet.demo import station_instance
from hmi.core.users import Role, Session, UserStore
from tests.helpers import stop_process, wait_until
from tests.mqtt_broker import MosquittoBroker, Recorder
from tests.stations import DEMO_STATION, REGULATOR_STATION, demo_station_copy

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
HOST_ID = "dispatch-sim"
GATE, REG = "gate_sim", "reg_sim"
GATE_WRITABLE, REG_WRITABLE = "odor.dose.setpoint", "reg1.active.setpoint"


class SimulatedStation:
    """One ``gas-hmi demo --headless`` process: the station's simulator and its runtime."""

    def __init__(self, root: Path, src: Path, sid: str, broker: MosquittoBroker, **kw) -> None:
        base, _ports = demo_station_copy(root / f"{sid}-ports", station=src)
        self.sid = sid
        self.dir = station_instance(
            base, root / sid, sid, (broker.host, broker.port), keepalive=5, **kw
        )
        self.cfg = load_station(self.dir)
        self.data = root / f"{sid}-data"
        self.log_path = root / f"{sid}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, GAS_HMI_DATA_ROOT=str(root / "xdg"))
        cmd = [sys.executable, "-m", "hmi", "demo", "--headless", "--station-dir", str(self.dir)]
        cmd += ["--uplink-on", "--scenario", "normal", "--data-dir", str(self.data)]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        stop_process(self.proc, 30)
        self.log.close()

    def audit(self) -> list:
        trail = AuditTrail(self.data / "users.db", create=False)
        try:
            return list(trail.records())
        finally:
            trail.close()


class Rig:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.broker = MosquittoBroker(root / "mqtt").start()
        self.rec = Recorder(self.broker, ["spBv1.0/#", "gas/#"]).start()
        self.users = UserStore(root / "dispatch" / "users.db", station_id=HOST_ID)
        self.host = DispatchHost(
            self.broker.url, root / "dispatch", HOST_ID, keepalive=5, audit=self.users.audit
        )
        self.host.start()
        self.gate = SimulatedStation(
            root, DEMO_STATION, GATE, self.broker, remote_write=(GATE_WRITABLE,)
        )
        self.reg = SimulatedStation(
            root,
            REGULATOR_STATION,
            REG,
            self.broker,
            mode="json",
            max_payload_kb=4,
            remote_write=(REG_WRITABLE,),
        )

    def close(self) -> None:
        try:
            self.host.stop()
            self.users.close()
            for s in (self.gate, self.reg):
                s.stop()
            self.rec.stop()
        finally:
            self.broker.stop()


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    r = Rig(tmp_path_factory.mktemp("dispatch-sim"))
    try:
        yield r
    finally:
        r.close()


def _metrics(rig: Rig, sid: str) -> dict:
    with rig.host.model.lock:
        st = rig.host.model.stations.get(sid)
        return {m.name: m for m in st.tag_metrics()} if st else {}


def _figures(rig: Rig, sid: str) -> dict:
    with rig.host.model.lock:
        st = rig.host.model.stations.get(sid)
        return rig.host.model.summary(st).figures if st else {}


def _good_figures(rig: Rig, sid: str) -> dict | None:
    f = _figures(rig, sid)
    ok = {"flow", "pressure"} <= set(f) and all(x.quality == 192 for x in f.values())
    return f if ok else None


def _uplink_tags(st: SimulatedStation) -> dict:
    return {t.name: t for t in st.cfg.tags if t.uplink}


@pytest.mark.parametrize("sid", [GATE, REG])
def test_metadata_of_a_real_station_reaches_the_fleet_model(rig, sid):
    st = rig.gate if sid == GATE else rig.reg
    tags = _uplink_tags(st)
    writable = GATE_WRITABLE if sid == GATE else REG_WRITABLE
    wait_until(
        lambda: set(tags) <= set(_metrics(rig, sid)), 90, 0.1, f"every tag of {sid} in the model"
    )
    metrics = _metrics(rig, sid)
    assert sum(bool(t.instrument) for t in tags.values()) >= 10  # the demo's ISA numbers
    assert sum(bool(t.states) for t in tags.values()) >= 3  # discrete tags with state texts
    for name, tag in tags.items():
        m = metrics[name]
        assert (m.unit, m.area) == (tag.unit, tag.area), name
        assert (m.label_en, m.label_zh) == (tag.label.en, tag.label.zh), name
        assert (m.low, m.high) == (float(tag.range[0]), float(tag.range[1])), name
        assert m.instrument == tag.instrument, name
        assert m.remote_write is (name == writable), name
        assert m.states == {k: (v.en or v.zh, v.zh or v.en) for k, v in tag.states.items()}, name
        digits = (
            None if tag.type == "string" else 0 if tag.type in ("int", "bool") else tag.precision
        )
        assert m.precision == digits, name


@pytest.mark.parametrize("sid", [GATE, REG])
def test_key_figures_are_good_values_of_the_outlet_tags(rig, sid):
    """Send-out flow and outlet pressure: GOOD, inside the tag's range, from the outlet tags."""
    st = rig.gate if sid == GATE else rig.reg
    tags = _uplink_tags(st)
    figures = wait_until(lambda: _good_figures(rig, sid), 120, 0.2, f"GOOD key figures of {sid}")
    flow, pressure = figures["flow"], figures["pressure"]
    # both demo stations have a send-out flow (FT-...) and pressure (PT-...) in area outlet:
    # the figures come from those tags, not from the meter runs or the station totalizer
    f_tag, p_tag = tags[flow.source], tags[pressure.source]
    assert (f_tag.area, f_tag.instrument[:2], f_tag.unit) == ("outlet", "FT", "Sm³/h")
    assert (p_tag.area, p_tag.instrument[:2], p_tag.unit) == ("outlet", "PT", "MPa")
    assert (flow.unit, pressure.unit) == ("Sm³/h", "MPa")
    assert (pressure.low, pressure.high) == tuple(float(x) for x in p_tag.range)
    # live values inside the configured ranges: not a zero, a stale default or a raw count
    assert p_tag.range[0] < pressure.value <= p_tag.range[1]
    assert f_tag.range[0] < flow.value <= f_tag.range[1]


def test_json_meta_document_split_under_the_payload_cap_and_reassembled(rig):
    tags = _uplink_tags(rig.reg)
    wait_until(lambda: set(tags) <= set(_metrics(rig, REG)), 90, 0.1, "the regulator's meta")
    late = Recorder(rig.broker, [f"gas/{REG}/meta/#"]).start()  # the retained parts
    try:
        late.wait_for(lambda ms: ms and len(ms) >= json.loads(ms[0].payload)["parts"], 10)
    finally:
        late.stop()
    parts = [m for m in late.on(f"gas/{REG}/meta") if m.payload]
    schema = json.loads((SCHEMAS / "uplink-meta.schema.json").read_text())
    docs = [json.loads(m.payload) for m in parts]
    total = docs[0]["parts"]
    assert total >= 2, "4 KB is less than the regulator's meta document: it must be split"
    latest = {d["part"]: (m, d) for m, d in zip(parts, docs, strict=True)}
    assert sorted(latest) == list(range(1, total + 1)) and len(parts) == total
    seen: list[str] = []
    for k, (msg, doc) in sorted(latest.items()):
        assert msg.retain and len(msg.payload) <= 4 * 1024, (k, len(msg.payload))
        assert msg.topic == (f"gas/{REG}/meta" if k == 1 else f"gas/{REG}/meta/{k}")
        jsonschema.validate(doc, schema)
        seen += [t["tag"] for t in doc["tags"]]
    assert sorted(seen) == sorted(tags)  # every tag in exactly one part
    with rig.host.model.lock:
        st = rig.host.model.stations[REG]
        assert st.meta_parts == set(range(1, total + 1)) and st.meta_total == total
        assert st.config_hash == docs[0]["config_hash"]


def _write_round_trip(rig: Rig, sid: str, tag: str, value: float) -> float:
    """Write ``value`` as an operator; returns the confirmation time (s after sending)."""
    op = Session("zhao.dispatch", Role.OPERATOR)
    req = rig.host.write(op, sid, tag, value)
    wait_until(lambda: req.done, 10, 0.01, f"the reply of {sid} to the write")
    confirmed = req.confirmed - req.sent
    assert req.ok, req.message
    [mine] = [w for w in rig.host.model.write_requests(sid) if w.request_id == req.request_id]
    assert mine.ok and mine.confirmed == req.confirmed

    def read_back() -> bool:
        m = _metrics(rig, sid)[tag]
        return m.quality == 192 and m.value == pytest.approx(value, abs=1e-3)

    wait_until(read_back, 10, 0.02, f"the written value of {tag} back in the fleet model")
    return confirmed


@pytest.mark.parametrize(
    ("sid", "tag", "value"), [(GATE, GATE_WRITABLE, 23.5), (REG, REG_WRITABLE, 0.31)]
)
def test_remote_write_round_trip_only_where_the_station_allows_it(rig, sid, tag, value):
    st = rig.gate if sid == GATE else rig.reg
    wait_until(lambda: _good_figures(rig, sid), 120, 0.2, f"{sid} live")
    op = Session("zhao.dispatch", Role.OPERATOR)
    with pytest.raises(PermissionError, match="operator"):
        rig.host.write(Session.viewer(), sid, tag, value)
    other = next(n for n, t in _uplink_tags(st).items() if t.access == "rw" and n != tag)
    with pytest.raises(PermissionError, match="does not allow"):
        rig.host.write(op, sid, other, 1.0)  # writable locally, not remotely
    confirmed = _write_round_trip(rig, sid, tag, value)
    print(f"\nremote write round trip {sid} ({st.cfg.uplink.mode}): {confirmed * 1000:.0f} ms")
    assert confirmed <= 2.0  # the target on loopback
    mine = [
        (r.target, r.result)
        for r in rig.users.audit.records(action="remote_write")
        if r.target.startswith(sid + "/")
    ]
    assert (f"{sid}/{tag}", "sent") in mine and (f"{sid}/{tag}", "denied") in mine
    assert (f"{sid}/{other}", "denied") in mine
    theirs = [r for r in st.audit() if r.user == "dispatch:zhao.dispatch"]
    assert theirs and theirs[-1].origin == "remote" and tag in theirs[-1].target
    assert theirs[-1].result == "success", theirs[-1]


def test_dcmd_carries_the_tag_by_name_alias_and_user(rig):
    """The DCMD the dispatch sends is a plain Sparkplug write (MQTT Engine style)."""
    from hmi.core.uplink import sparkplug_b_pb2 as pb

    wait_until(lambda: _good_figures(rig, GATE), 120, 0.2, "city gate live")
    n = len(rig.rec.on(f"DCMD/{GATE}/"))
    rig.host.write(Session("zhao.dispatch", Role.OPERATOR), GATE, GATE_WRITABLE, 12.5)
    wait_until(lambda: len(rig.rec.on(f"DCMD/{GATE}/")) > n, 10, 0.02, "the DCMD")
    p = pb.Payload.FromString(rig.rec.on(f"DCMD/{GATE}/")[-1].payload)
    [m] = p.metrics
    assert m.name == GATE_WRITABLE and m.alias >= 1 and m.datatype == pb.Double
    assert m.double_value == 12.5
    assert dict(
        zip(m.properties.keys, [v.string_value for v in m.properties.values], strict=True)
    ) == {"User": "dispatch:zhao.dispatch"}


def test_remote_write_from_the_station_page_two_steps_and_confirmed_on_screen(
    rig, qtbot, qapp, monkeypatch
):
    """The operator's path: Remote write… -> tag -> value -> "write now?" -> confirmation."""
    from PySide6.QtWidgets import QInputDialog

    from hmi.core.fleet.config import DispatchConfig
    from hmi.core.users import TEST_PARAMS, Console
    from hmi.ui import theme
    from hmi.ui.dispatch.window import DispatchWindow
    from hmi.ui.i18n import i18n

    theme.install(qapp, "light")
    users = UserStore(rig.root / "ui-users.db", station_id=HOST_ID, params=TEST_PARAMS)
    users.add_user("sun.op", "Gate-7391", "operator", by="test", origin="system")
    console = Console(users)
    i18n().set_language("en")
    w = DispatchWindow(rig.host, console, DispatchConfig())
    qtbot.addWidget(w)
    page = w.station
    try:
        wait_until(lambda: _good_figures(rig, GATE), 120, 0.2, "city gate live")
        w.open_station(GATE)
        assert not page.write.isEnabled()  # nobody logged in
        assert console.login("sun.op", "Gate-7391")
        w.refresh()
        assert page.write.isEnabled()
        asked: list[str] = []
        offered: list[list[str]] = []

        def get_item(_parent, _title, _label, items, *_a, **_k):
            offered.append(list(items))
            return GATE_WRITABLE, True

        def get_double(_parent, _title, _label, current, low, high, *_a, **_k):
            assert (low, high) == (0.0, 60.0)  # the tag's range bounds the entry
            return 31.5, True

        monkeypatch.setattr(QInputDialog, "getItem", staticmethod(get_item))
        monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(get_double))
        # the second step refused: nothing is sent
        monkeypatch.setattr(type(page), "confirm", staticmethod(lambda _p, t: asked.append(t)))
        n_before = len(rig.host.model.write_requests(GATE))
        page.write.click()
        assert offered == [[GATE_WRITABLE]]  # only what the station allows
        assert asked and "31.5" in asked[0] and GATE in asked[0]
        assert len(rig.host.model.write_requests(GATE)) == n_before
        # confirmed: sent, and the station's answer shows on the page
        monkeypatch.setattr(type(page), "confirm", staticmethod(lambda _p, _t: True))
        page.write.click()
        # shown with the tag's precision (1), as on the station's own screens
        line = f"{GATE_WRITABLE} ← 31.5: confirmed by the station after"
        # (the newest write is the first line; none yet: keep waiting, do not raise)
        qtbot.waitUntil(
            lambda: line in (page.write_state.text().splitlines() or [""])[0], timeout=10000
        )

        def shown() -> bool:
            item = page.items.get(GATE_WRITABLE)
            return item is not None and item.text(3) == "31.5"

        qtbot.waitUntil(shown, timeout=10000)  # the read-back value on the dispatch screen
        pt = page.items["outlet.pressure"]  # metadata of the birth on the page
        assert (pt.text(1), pt.text(2), pt.text(4)) == ("PT-501", "Outlet pressure", "MPa")
        theirs = [r for r in rig.gate.audit() if r.user == "dispatch:sun.op"]
        assert theirs and theirs[-1].origin == "remote" and theirs[-1].result == "success"
        mine = [r for r in rig.users.audit.records(action="remote_write") if r.user == "sun.op"]
        assert [r.result for r in mine] == ["sent"]
        i18n().set_language("zh_CN")
        assert "场站已确认" in page.write_state.text()
    finally:
        i18n().set_language("en")
        w.timer.stop()
        users.close()


def test_demo_fleet_runs_both_demo_stations_offline_with_one_command(tmp_path):
    """``gas-hmi demo-fleet``: a city gate and a regulator station, broker, headless console."""
    env = dict(os.environ, GAS_HMI_DATA_ROOT=str(tmp_path / "xdg"))
    run = subprocess.run(
        [sys.executable, "-m", "hmi", "demo-fleet", "--headless", "--gates", "1"]
        + ["--regulators", "1", "--duration", "25", "--data-dir", str(tmp_path / "fleet")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = subprocess.run(
        [sys.executable, "-m", "hmi", "fleet", "--data-dir", str(tmp_path / "fleet" / "dispatch")]
        + ["--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = {r["station"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"gate_north", "reg_central"}
    assert all(r["online"] and len(r["config_hash"]) == 16 for r in rows.values()), rows
    assert rows["gate_north"]["config_hash"] != rows["reg_central"]["config_hash"]
