"""`gas-hmi simulate` serving an IEC 104 RTU, read by the runtime through the IEC 104 driver.

A small station config (one RTU: valve position with select-before-operate, a set-point,
cathodic-protection potential, intrusion contact, gas totals) is loaded as the CLI does;
the simulator serves it with c104's server and the runtime reads it with the c104 client.
Checked: values arrive GOOD, a command goes through the runtime's write with read-back,
the ``rtu_quality`` scenario turns the values UNCERTAIN (NT) then BAD (IV) with the bit
named, and the device going off the network makes them BAD until it returns.
"""

from __future__ import annotations

import textwrap

import pytest

from drivers.base import DeviceState, Quality
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core.commands import CommandStatus
from hmi.core.runtime import Runtime
from hmi.core.users import TEST_PARAMS
from tests.helpers import free_port, wait_until

STATION = """\
station:
  id: rtu_demo
  name: RTU demo
  kind: regulator_station
devices:
  - id: rtu
    protocol: iec104
    host: 127.0.0.1
    port: {port}
    common_address: 12
    t1: 2
    t2: 1
    backoff_initial: 0.2
    backoff_max: 0.5
    counter_interrogation_period: 1
    poll_groups: {{default: 0.5}}
tags:
  - name: valve.pos
    device: rtu
    address: M_DP_NA_1:1101
    access: rw
    range: [0, 3]
    options: {{command: "C_DC_NA_1:2101", select: true}}
  - name: outlet.setpoint
    device: rtu
    address: M_ME_NC_1:4002
    access: rw
    unit: MPa
    range: [0, 0.6]
    options: {{command: "C_SE_NC_1:6002"}}
  - name: cp.potential
    device: rtu
    address: M_ME_NC_1:4001
    unit: V
    range: [-3, 0]
    sim: {{signal: const, base: -0.95}}
  - name: intrusion
    device: rtu
    address: M_SP_NA_1:1001
    range: [0, 1]
    sim: {{signal: const, base: 1}}
  - name: gas.total
    device: rtu
    address: M_IT_NA_1:5001
    range: [0, 100000000]
    sim: {{signal: const, base: 123456}}
"""


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("iec104sim")
    folder = tmp / "st"
    folder.mkdir()
    (folder / "station.yaml").write_text(textwrap.dedent(STATION.format(port=free_port())))
    cfg = load_station(folder)
    sim = start_simulator_thread(cfg, speed=10.0, start_time=1_767_200_000.0)
    rt = Runtime(cfg, tmp / "data", alarms=False)
    try:
        rt.start()
        yield sim, rt
    finally:
        rt.stop()
        sim.stop()


def _q(rt: Runtime, name: str) -> tuple[float | str, Quality, float, str]:
    return rt.tags.get(name)


def good(rt: Runtime, *names: str) -> bool:
    return all(_q(rt, n)[1] is Quality.GOOD for n in names)


def test_values_arrive_and_a_command_is_read_back(station):
    sim, rt = station
    wait_until(lambda: good(rt, "cp.potential", "intrusion", "valve.pos", "gas.total")
               and rt.drivers["rtu"].state is DeviceState.UP, 20, what="RTU up, values GOOD")  # fmt: skip
    assert _q(rt, "cp.potential")[0] == pytest.approx(-0.95)
    assert _q(rt, "intrusion")[0] == 1.0
    assert _q(rt, "valve.pos")[0] == 1.0  # DPI 1: off (a memory cell starts at 0 = closed)
    assert _q(rt, "gas.total")[0] == 123456.0
    rt.users.params = TEST_PARAMS  # a throwaway users.db: cheap hashes
    rt.users.add_user("op", "Gate-7391", "operator", by="test")
    op = rt.users.login("op", "Gate-7391")
    result = rt.commands.submit_write("valve.pos", 2, op).result(30)
    assert result.status is CommandStatus.SUCCESS and "read back" in result.message, result
    assert _q(rt, "valve.pos")[0] == 2.0
    result = rt.commands.submit_write("outlet.setpoint", 0.41, op).result(30)
    assert result.ok, result
    assert _q(rt, "outlet.setpoint")[0] == pytest.approx(0.41)
    assert sim.simulator.servers["rtu"].commands_received == 2


def test_rtu_quality_scenario_and_device_loss(station):
    sim, rt = station
    wait_until(lambda: good(rt, "cp.potential"), 20, what="GOOD first")
    sim.call(sim.simulator.set_scenario, "rtu_quality")  # NT after 1.5 s, IV after 4.5 s
    wait_until(lambda: _q(rt, "cp.potential")[1] is Quality.UNCERTAIN, 10, what="NT")
    assert "NT (not topical)" in _q(rt, "cp.potential")[3]
    wait_until(lambda: _q(rt, "cp.potential")[1] is Quality.BAD, 10, what="IV")
    assert "IV (invalid)" in _q(rt, "cp.potential")[3]
    wait_until(lambda: good(rt, "cp.potential"), 10, what="good again")
    sim.call(sim.simulator.set_scenario, "normal")
    sim.run(sim.simulator.set_device_online("rtu", False))
    wait_until(lambda: _q(rt, "cp.potential")[1] is Quality.BAD, 10, what="device lost")
    assert (
        "connection lost" in _q(rt, "cp.potential")[3]
        or "cannot connect" in _q(rt, "cp.potential")[3]
    )
    # the tags go BAD before the driver's state machine moves on: wait for it, not race it
    wait_until(
        lambda: rt.drivers["rtu"].state in (DeviceState.BACKOFF, DeviceState.CONNECTING),
        10,
        what="driver in backoff",
    )
    sim.run(sim.simulator.set_device_online("rtu", True))
    wait_until(lambda: good(rt, "cp.potential", "valve.pos")
               and rt.drivers["rtu"].state is DeviceState.UP, 20, what="device back")  # fmt: skip
    assert rt.drivers["rtu"].diagnostics().reconnects >= 1
