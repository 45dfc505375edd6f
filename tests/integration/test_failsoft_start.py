"""Fail-soft start: one device that cannot start leaves the rest of the station running.

The real demo station (simulated Modbus PLC and secured OPC UA controller on free loopback
ports), the real runtime and keyring API (a file keyring in tmp_path, the only backend a
headless box has). The OPC UA device's password is missing from the keyring at start.
"""

from __future__ import annotations

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from drivers.base import Quality
from hmi.cli.run import trust_simulated_servers
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core import failsoft
from hmi.core.runtime import Runtime
from hmi.core.secrets import delete_secret, get_secret, set_secret
from hmi.core.users import TEST_PARAMS
from hmi.selftest import SelfTest
from tests.helpers import wait_until
from tests.stations import demo_station_copy

GOOD = int(Quality.GOOD)
REASON = "secret hoc_opcua missing: gas-hmi secrets set hoc_opcua --station demo_city_gate"


@pytest.fixture
def station(tmp_path, monkeypatch):
    st, _ = demo_station_copy(tmp_path)
    # the demo's controller tags are read-only mirrors; here the controller's set point is the
    # write path, so that a write to a device that could not start can be tried
    f = st / "opcua.yaml"
    text = f.read_text(encoding="utf-8")
    anchor = "    range: [30, 90]\n    precision: 1\n"
    assert anchor in text
    f.write_text(text.replace(anchor, anchor + "    access: rw\n", 1), encoding="utf-8")
    cfg = load_station(st)
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(kr)
    set_secret(cfg.station.id, "hoc_opcua", "s3cret-for-the-simulator")
    data = tmp_path / "data"
    sim = start_simulator_thread(cfg, seed=5, pki_root=tmp_path / "sim-pki")
    trust_simulated_servers(sim, data)
    delete_secret(cfg.station.id, "hoc_opcua")  # the station engineer forgot it
    monkeypatch.setattr(failsoft, "BACKOFF_INITIAL", 0.5)
    monkeypatch.setattr(failsoft, "BACKOFF_MAX", 1.0)
    try:
        yield cfg, data, st
    finally:
        sim.stop()


def _indices(rt: Runtime, protocol: str) -> list[int]:
    return [
        rt.tags.index[t.name] for t in rt.cfg.tags if rt.cfg.device(t.device).protocol == protocol
    ]


def test_missing_secret_leaves_modbus_good_and_opcua_bad_then_recovers(station):
    cfg, data, st = station
    rt = Runtime(cfg, data)
    rt.start()
    try:
        modbus, opcua = _indices(rt, "modbus_tcp"), _indices(rt, "opcua")
        assert modbus and opcua
        wait_until(
            lambda: (rt.tags.quality[modbus] == GOOD).all(), timeout=30, what="Modbus tags GOOD"
        )
        assert (rt.tags.quality[opcua] == 0).all()
        assert {rt.tags.reasons[i] for i in opcua} == {REASON}
        diag = {d["device_id"]: d for d in rt.device_diagnostics()}
        assert diag["hoc"]["state"] == "backoff" and diag["hoc"]["last_error"] == REASON
        assert diag["hoc"]["protocol"] == "opcua" and diag["plc"]["state"] == "up"
        # the HMI header's device chip (and the diagnostics page, from the same dicts)
        from hmi.ui.header import devices_chip

        text, chip, tip = devices_chip(rt.device_diagnostics())
        hoc_line = next(ln for ln in tip.splitlines() if ln.startswith("hoc: "))
        assert chip == "bad" and hoc_line.endswith(f" — {REASON}")  # state in the UI language
        wait_until(
            lambda: getattr(rt.alarms.view("hoc.comm"), "condition", False),
            timeout=10,
            what="comm alarm of hoc",
        )
        assert REASON in rt.alarms.view("hoc.comm").message_en
        # the write path says why, it does not hang
        t = next(t for t in cfg.tags if t.device == "hoc" and t.access == "rw")
        rt.users.params = TEST_PARAMS  # a throwaway users.db: cheap hashes
        rt.users.add_user("op", "Gate-7391", "engineer", by="test")
        op = rt.users.login("op", "Gate-7391")
        res = rt.commands.submit_write(t.name, sum(t.range) / 2, op).result(30)
        assert res.status.value == "not_connected" and REASON in res.message

        # self-test fails and names the secret and its device
        st_checks = SelfTest(st, data, gui=False)
        st_checks.check_config()
        st_checks.check_keyring()
        ks = next(c for c in st_checks.checks if c.name == "keyring")
        assert not ks.ok and "hoc_opcua" in ks.detail

        # the engineer stores the secret: the retry starts the device without a restart
        set_secret(cfg.station.id, "hoc_opcua", "s3cret-for-the-simulator")
        assert get_secret(cfg.station.id, "hoc_opcua")
        wait_until(
            lambda: (rt.tags.quality[opcua] == GOOD).all(), timeout=60, what="OPC UA tags GOOD"
        )
        diag = {d["device_id"]: d for d in rt.device_diagnostics()}
        assert diag["hoc"]["state"] == "up"
        wait_until(
            lambda: not rt.alarms.view("hoc.comm").condition,
            timeout=10,
            what="comm alarm cleared",
        )
    finally:
        rt.stop()
