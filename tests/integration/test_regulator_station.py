"""The demo regulator station end to end: simulate -> runtime, every device of it real.

The station config is ``station_configs/demo_regulator_station`` (copied with free ports and
the RS-485 bus path moved into ``tmp_path``). The simulator serves it as ``gas-hmi simulate``
does: python-snap7's server for the S7 PLC, one pseudo-terminal for the RS-485 bus with the
flow computer (unit 1) and the gas-detection controller (unit 2), an RTU-over-TCP listener for
the UPS behind its serial server and c104's server for the telecontrol RTU. The runtime polls
all of it; the command service writes a regulator set point to the S7 with read-back and audit
and closes the inlet valve through the RTU with select-before-operate. Nothing is mocked.
"""

from __future__ import annotations

import os

import pytest

from drivers.base import DeviceState, Quality
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core.commands import CommandStatus
from hmi.core.runtime import Runtime
from hmi.core.users import TEST_PARAMS, UserStore
from tests.helpers import wait_until
from tests.stations import REGULATOR_STATION, demo_station_copy

PW = "Regulator-st-7"


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("regstation")
    folder, _ports = demo_station_copy(tmp, station=REGULATOR_STATION)
    cfg = load_station(folder)
    bus = cfg.device("fc").serial_port
    sim = start_simulator_thread(cfg)
    rt = Runtime(cfg, tmp / "data")
    users = UserStore(tmp / "data", params=TEST_PARAMS, station_id=cfg.station.id)
    try:
        rt.start()
        users.add_user("op", PW, "operator", by="setup")
        polled = [t.name for t in cfg.tags if cfg.device(t.device).protocol != "system"]
        readable = [n for n in polled if not cfg.tag(n).address.startswith("C_")]
        wait_until(
            lambda: all(rt.tags.get(n)[1] is Quality.GOOD for n in readable),
            30,
            what="every device tag GOOD",
        )
        svc = rt.commands.replace(users=users, audit=users.audit)
        yield cfg, sim, rt, users, svc, bus, readable
    finally:
        rt.stop()
        users.close()
        sim.stop()
    assert not os.path.lexists(bus)


def test_every_tag_good_and_every_device_up(station):
    cfg, _sim, rt, _users, _svc, bus, readable = station
    assert len(readable) > 60
    bad = {n: rt.tags.get(n)[3] for n in readable if rt.tags.get(n)[1] is not Quality.GOOD}
    assert not bad
    for dev in ("plc", "fc", "gd", "ups", "rtu"):
        assert rt.drivers[dev].state is DeviceState.UP, dev
    diag = {d["device_id"]: d for d in rt.device_diagnostics()}
    assert diag["fc"]["endpoint"] == f"{bus} unit 1"
    assert diag["gd"]["endpoint"] == f"{bus} unit 2"
    assert diag["ups"]["protocol"] == "modbus_rtu_over_tcp"
    assert diag["plc"]["protocol"] == "s7" and diag["rtu"]["protocol"] == "iec104"
    assert os.path.islink(bus) and os.readlink(bus).startswith("/dev/pts/")


def test_process_values_are_the_regulator_station(station):
    """Sub-high B inlet, medium A outlet, one meter carrying the station flow, no heater."""
    _cfg, _sim, rt, _users, _svc, _bus, _readable = station
    assert 0.6 < rt.tags.get("inlet.pressure")[0] < 0.8
    assert 0.36 < rt.tags.get("outlet.pressure")[0] < 0.41
    flow = rt.tags.get("outlet.flow")[0]
    assert 500 < flow < 8000
    assert rt.tags.get("m1.flow.std")[0] == pytest.approx(flow, rel=0.2)
    # no heater: the outlet is a little colder than the inlet (Joule-Thomson), not warmer
    assert rt.tags.get("outlet.temperature")[0] < rt.tags.get("inlet.temperature")[0] + 1.0
    assert rt.tags.get("esd.open")[0] == 2.0  # double point: DPI 2 = on (open)
    assert -1.2 < rt.tags.get("cp.potential")[0] < -0.85


def test_setpoint_write_to_the_s7_is_read_back_and_audited(station):
    _cfg, sim, rt, users, svc, _bus, _readable = station
    op = users.login("op", PW)
    head = users.audit.head()[0]
    res = rt.submit(svc.write("reg2.active.setpoint", 0.375, op)).result(30)
    assert res.status is CommandStatus.SUCCESS, res
    assert sim.call(lambda: sim.simulator.model.get("reg2.active.setpoint")) == pytest.approx(
        0.375, abs=1e-6
    )
    assert rt.tags.get("reg2.active.setpoint")[0] == pytest.approx(0.375, abs=1e-6)
    rows = [r for r in users.audit.records() if r.seq > head and r.action == "write"]
    assert [r.result for r in rows] == ["requested", "success"]
    # the ladder bounds the write: never at or above run 2's monitor (0.41 MPa)
    res = rt.submit(svc.write("reg2.active.setpoint", 0.415, op)).result(30)
    assert res.status is not CommandStatus.SUCCESS
    assert rt.tags.get("reg2.active.setpoint")[0] == pytest.approx(0.375, abs=1e-6)


def test_inlet_valve_closes_through_the_rtu(station):
    """Select-before-operate close of XV-101 over IEC 104; the double point reports it."""
    _cfg, sim, rt, users, svc, _bus, _readable = station
    op = users.login("op", PW)
    try:
        res = rt.submit(svc.write("esd.close_cmd", 1, op)).result(30)
        assert res.status is CommandStatus.SUCCESS, res
        wait_until(lambda: rt.tags.get("esd.open")[0] == 1.0, 30, what="valve closed (DPI 1)")
        wait_until(lambda: rt.tags.get("esd.closed")[0] == 1.0, 10, what="closed limit switch")
        assert rt.tags.get("esd.open")[1] is Quality.GOOD
    finally:  # reopened on site (the model's local reset), so the station runs on for others
        sim.call(lambda: sim.simulator.model.write("esd.reset_cmd", 1))
        wait_until(lambda: rt.tags.get("esd.open")[0] == 2.0, 30, what="valve open again")
