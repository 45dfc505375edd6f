"""A station with an RS-485 bus (two units) and a UPS behind a serial server, end to end.

The station config is loaded as ``gas-hmi check`` loads it; the simulator serves it as
``gas-hmi simulate`` does (the bus is a pseudo-terminal linked at the configured path in
``tmp_path``, the serial server a TCP listener on loopback); the runtime polls it and the
command service writes a set point with read-back and audit. Nothing is mocked.
"""

from __future__ import annotations

import os
import textwrap

import pytest

from drivers.base import DeviceState, Quality
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core.commands import CommandStatus
from hmi.core.runtime import Runtime
from hmi.core.users import TEST_PARAMS, UserStore
from tests.helpers import free_port, wait_until

PW = "Gate-station-7"

STATION = """\
station:
  id: rtu_test
  name: {{en: RTU test station, zh: RTU测试站}}
  kind: regulator_station
devices:
  - id: fc
    protocol: modbus_rtu
    serial_port: {bus}
    baudrate: 19200
    parity: E
    unit_id: 1
    timeout: 0.3
    retries: 0
    backoff_initial: 0.2
    backoff_max: 1.0
    poll_groups: {{default: 0.25}}
  - id: gd
    protocol: modbus_rtu
    serial_port: {bus}
    baudrate: 19200
    parity: E
    unit_id: 2
    timeout: 0.3
    retries: 0
    poll_groups: {{default: 0.25}}
  - id: ups
    protocol: modbus_rtu_over_tcp
    host: 127.0.0.1
    port: {port}
    unit_id: 5
    timeout: 0.3
    retries: 0
    backoff_initial: 0.2
    backoff_max: 1.0
    poll_groups: {{default: 0.25}}
tags:
  - name: fc.flow
    device: fc
    address: hr:0:f32:cdab
    unit: Sm3/h
    range: [0, 5000]
    sim: {{signal: const, base: 1800}}
  - name: fc.pressure.setpoint
    device: fc
    address: hr:10:f32
    unit: MPa
    range: [0.2, 0.6]
    access: rw
  - name: gd.lel
    device: gd
    address: ir:0:i16
    unit: "%LEL"
    range: [0, 100]
    sim: {{signal: const, base: 4}}
  - name: ups.battery
    device: ups
    address: ir:10
    unit: "%"
    range: [0, 100]
    scale: {{raw: [0, 1000], eng: [0, 100]}}
    sim: {{signal: const, base: 87.5}}
"""


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rtu_station")
    bus = tmp / "gas-hmi-rs485-1"
    folder = tmp / "st"
    folder.mkdir()
    text = STATION.format(bus=bus, port=free_port())
    (folder / "station.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    cfg = load_station(folder)
    sim = start_simulator_thread(cfg)
    rt = Runtime(cfg, tmp / "data")
    users = UserStore(tmp / "data", params=TEST_PARAMS, station_id=cfg.station.id)
    try:
        rt.start()
        users.add_user("op", PW, "operator", by="setup")
        wait_until(
            lambda: all(
                rt.tags.get(n)[1] is Quality.GOOD for n in ("fc.flow", "gd.lel", "ups.battery")
            ),
            20,
            what="all RTU tags GOOD",
        )
        yield sim, rt, users, rt.commands.replace(users=users, audit=users.audit), bus
    finally:
        rt.stop()
        users.close()
        sim.stop()
    assert not os.path.lexists(bus)


def test_values_arrive_from_both_buses(station):
    sim, rt, _users, _svc, bus = station
    assert os.path.islink(bus) and os.readlink(bus).startswith("/dev/pts/")
    assert rt.tags.get("fc.flow")[0] == pytest.approx(1800.0)
    assert rt.tags.get("gd.lel")[0] == pytest.approx(4.0)
    assert rt.tags.get("ups.battery")[0] == pytest.approx(87.5)
    diag = {d["device_id"]: d for d in rt.device_diagnostics()}
    assert diag["fc"]["endpoint"] == f"{bus} unit 1" and diag["gd"]["endpoint"] == f"{bus} unit 2"
    assert diag["ups"]["protocol"] == "modbus_rtu_over_tcp"


def test_setpoint_write_over_rtu_is_read_back_and_audited(station):
    sim, rt, users, svc, _bus = station
    op = users.login("op", PW)
    head = users.audit.head()[0]
    res = rt.submit(svc.write("fc.pressure.setpoint", 0.42, op)).result(30)
    assert res.status is CommandStatus.SUCCESS, res
    served = sim.call(lambda: sim.simulator.servers["fc"].eng_value("fc.pressure.setpoint"))
    assert served == pytest.approx(0.42, abs=1e-6)
    assert rt.tags.get("fc.pressure.setpoint")[0] == pytest.approx(0.42, abs=1e-6)
    rows = [r for r in users.audit.records() if r.seq > head and r.action == "write"]
    assert [r.result for r in rows] == ["requested", "success"]


def test_comms_loss_of_one_unit_and_the_serial_server(station):
    sim, rt, _users, _svc, _bus = station
    for dev, tag in (("gd", "gd.lel"), ("ups", "ups.battery")):
        sim.run(sim.simulator.set_device_online(dev, False))
        try:
            wait_until(lambda t=tag: rt.tags.get(t)[1] is Quality.BAD, 10, what=f"{tag} BAD")
            assert "does not answer" in rt.tags.get(tag)[3]
            assert rt.tags.get("fc.flow")[1] is Quality.GOOD  # the bus carries on
        finally:
            sim.run(sim.simulator.set_device_online(dev, True))
        wait_until(lambda t=tag: rt.tags.get(t)[1] is Quality.GOOD, 15, what=f"{tag} back")
        assert rt.drivers[dev].state is DeviceState.UP
