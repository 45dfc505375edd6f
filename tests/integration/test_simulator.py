"""The simulated station served as real Modbus TCP servers, read by a plain pymodbus client.

No part of the runtime is involved: what a third-party client decodes (with the byte and
word orders the config declares) must be what the model holds. OPC UA devices are left
out here (their simulator server has its own tests).
"""

from __future__ import annotations

import dataclasses
import socket
import struct

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.modbus import codec
from drivers.modbus.address import parse_address
from drivers.sim.runner import SimulatorThread
from hmi.cli import main as cli_main
from hmi.cli.simulate import specs_from_config
from hmi.config import load_station
from tests.helpers import free_port, wait_until
from tests.stations import demo_station_copy

START = 1704852000.0  # Wednesday 10:00 in Asia/Shanghai
MODBUS_ONLY = ("opcua.yaml", "screens.yaml")


def modbus_specs(tmp_path):
    station, ports = demo_station_copy(tmp_path, exclude=MODBUS_ONLY)
    devices, points = specs_from_config(load_station(station))
    devices = [d for d in devices if d.protocol == "modbus_tcp"]
    keep = {d.id for d in devices}
    return station, ports, devices, [p for p in points if p.device in keep]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """The demo station's Modbus devices, served with the model frozen (values stand still)."""
    _station, ports, devices, points = modbus_specs(tmp_path_factory.mktemp("sim"))
    st = SimulatorThread(devices, points, seed=5, start_time=START).start()
    st.call(setattr, st.simulator, "paused", True)
    st.ports = ports
    yield st
    st.stop()


def client(port: int) -> ModbusTcpClient:
    c = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
    assert c.connect(), f"cannot connect to 127.0.0.1:{port}"
    return c


def f32_cdab(lo: int, hi: int) -> float:
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def test_flow_computer_floats_and_totals_in_cdab(sim):
    m = sim.model
    c = client(sim.ports["fc1"])
    try:
        r = c.read_holding_registers(
            0, count=32, device_id=1
        )  # spans the unconfigured gaps 14-19, 26-29
        assert not r.isError(), r
        regs = r.registers
    finally:
        c.close()
    assert f32_cdab(regs[0], regs[1]) == pytest.approx(m.get("m1.flow.line"), rel=1e-6)
    assert f32_cdab(regs[2], regs[3]) == pytest.approx(m.get("m1.flow.std"), rel=1e-6)
    assert f32_cdab(regs[4], regs[5]) == pytest.approx(m.get("m1.pressure"), rel=1e-6)
    assert regs[20] | (regs[21] << 16) == int(m.get("m1.total.std")) > 1000
    assert regs[14:20] == [0] * 6
    assert regs[31] & 1 == int(m.get("m1.fc.alarm"))


def test_plc_scaled_integers_bits_and_abcd_floats(sim):
    m = sim.model
    c = client(sim.ports["plc"])
    try:
        ir = c.read_input_registers(0, count=52, device_id=1).registers
        di = c.read_discrete_inputs(0, count=18, device_id=1).bits
    finally:
        c.close()
    assert ir[0] == round(m.get("inlet.pressure") * 1000)  # raw 0-6000 = 0-6 MPa
    assert struct.unpack(">h", struct.pack(">H", ir[7]))[0] == round(
        m.get("heater.gas_out.temperature") * 10
    )
    assert struct.unpack(">f", struct.pack(">HH", ir[46], ir[47]))[0] == pytest.approx(
        m.get("outlet.pressure"), rel=1e-6
    )
    assert bool(ir[28] & 1) == bool(m.get("heater.burner.on")) and bool(ir[28] & 0x80) == bool(
        m.get("plc.run")
    )
    assert di[0] == bool(m.get("esd.open")) and di[16] == bool(m.get("power.mains_ok"))


def test_every_served_point_decodes_to_the_model_value(sim):
    """Decode every configured point with the runtime's codec: the values the model holds."""
    m = sim.model
    checked = 0
    for dev_id, server in sim.simulator.servers.items():
        c = client(sim.ports[dev_id])
        try:
            for point, addr in zip(server.points, server.addresses, strict=True):
                read = {
                    "hr": c.read_holding_registers, "ir": c.read_input_registers,
                    "co": c.read_coils, "di": c.read_discrete_inputs,
                }[addr.table]  # fmt: skip
                r = read(addr.offset, count=addr.count, device_id=1)
                assert not r.isError(), (point.name, r)
                words = r.bits[: addr.count] if addr.is_bits else r.registers
                raw = codec.decode(addr, words)
                expected = m.get(point.source)
                if isinstance(raw, bool):
                    assert raw == bool(expected), point.name
                elif addr.type == "float32":
                    assert raw * point.gain + point.offset == pytest.approx(
                        expected, rel=1e-6, abs=1e-30
                    ), point.name
                else:  # integers: rounded to the nearest raw step
                    assert (
                        abs(raw * point.gain + point.offset - expected)
                        <= abs(point.gain) / 2 + 1e-9
                    ), point.name
                checked += 1
        finally:
            c.close()
    assert checked >= 120


def test_writes_reach_the_model_and_bad_writes_are_refused(sim):
    m = sim.model
    c = client(sim.ports["plc"])
    try:
        words = codec.encode(parse_address("hr:0:f32"), 0.41)
        assert not c.write_registers(0, words, device_id=1).isError()
        assert m.get("reg1.active.setpoint") == pytest.approx(0.41, rel=1e-6)
        assert not c.write_register(20, 555, device_id=1).isError()  # heater set point, x0.1
        assert m.get("heater.water.setpoint") == pytest.approx(55.5)
        assert c.read_holding_registers(20, count=1, device_id=1).registers == [555]
        assert (
            c.write_register(21, 9999, device_id=1).exception_code == 3
        )  # odorant set point 999.9: out of range
        assert (
            c.write_registers(4, words, device_id=1).exception_code == 2
        )  # monitor set point is read-only
        assert c.write_register(0, 0, device_id=1).exception_code == 2  # half of a float
        assert c.write_register(15, 1, device_id=1).exception_code == 2  # unconfigured register
        assert m.get("odor.dose.setpoint") == pytest.approx(20.0)
        assert not c.write_coil(0, True, device_id=1).isError()  # ESD close
        assert sim.call(lambda: m.gas.esd_tripped) is True
        assert not c.write_coil(1, True, device_id=1).isError()  # ESD reset
        assert sim.call(lambda: m.gas.esd_tripped) is False
        assert c.read_coils(0, count=2, device_id=1).bits[:2] == [
            True,
            True,
        ]  # pulses held while frozen
    finally:
        c.close()
        sim.call(m.write, "reg1.active.setpoint", 0.40)
        sim.call(m.write, "heater.water.setpoint", 50.0)


def test_a_device_drops_off_the_network_and_returns(sim):
    port = sim.ports["fc2"]
    sim.run(sim.simulator.set_device_online("fc2", False))
    try:
        c = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
        assert not c.connect()
        c.close()
    finally:
        sim.run(sim.simulator.set_device_online("fc2", True))
    c = client(port)
    try:
        assert not c.read_holding_registers(0, count=4, device_id=1).isError()
    finally:
        c.close()


def test_comms_loss_scenario_at_speed_40(tmp_path):
    _station, ports, devices, points = modbus_specs(tmp_path)
    port = ports["fc1"]  # the second device drops off by default
    with SimulatorThread(
        devices, points, scenario="comms_loss", seed=1, speed=40.0, start_time=START
    ) as st:
        assert st.simulator.comms_device == "fc1"

        def answers() -> bool:
            c = ModbusTcpClient("127.0.0.1", port=port, timeout=0.5, retries=0)
            try:
                return (
                    bool(c.connect())
                    and not c.read_holding_registers(0, count=2, device_id=1).isError()
                )
            except (ModbusException, OSError):  # refused, or reset while going off the network
                return False
            finally:
                c.close()

        wait_until(lambda: not answers(), timeout=15, interval=0.05, what="fc1 to stop answering")
        assert answers() is False and st.model.faults.comms_offline
        wait_until(answers, timeout=20, interval=0.1, what="fc1 to answer again")
        assert st.model.t > 75.0
    for port in ports.values():  # stopped: every port is free again
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_start_fails_cleanly_when_a_port_is_taken(tmp_path):
    _station, ports, devices, points = modbus_specs(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["gd"]))
        blocker.listen()
        st = SimulatorThread(devices, points)
        with pytest.raises(OSError, match=f"device gd: cannot listen on 127.0.0.1:{ports['gd']}"):
            st.start()
        st.stop()
    # everything started before the failure was closed again: the PLC's port is free
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", ports["plc"]))


def test_cli_simulate_prints_endpoints_and_timeline_then_stops(tmp_path, capsys):
    station, ports = demo_station_copy(tmp_path, exclude=MODBUS_ONLY)
    rc = cli_main(
        [
            "simulate",
            str(station),
            "--scenario",
            "heater_trip",
            "--speed",
            "10",
            "--duration",
            "0.5",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert (
        f"modbus_tcp://127.0.0.1:{ports['plc']} unit 1" in out
        and "burner trips" in out
        and "stopped" in out
    )
    assert cli_main(["simulate", str(station), "--scenario", "nope"]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["fc2"]))
        blocker.listen()
        assert cli_main(["simulate", str(station), "--duration", "0.2"]) == 1
    assert f"cannot listen on 127.0.0.1:{ports['fc2']}" in capsys.readouterr().err


def test_unknown_model_variable_is_a_clear_error(tmp_path):
    _station, _ports, devices, points = modbus_specs(tmp_path)
    bad = [
        dataclasses.replace(p, source="inlet.presure") if p.name == "inlet.pressure" else p
        for p in points
    ]
    with pytest.raises(
        ValueError, match="tag inlet.pressure: unknown model variable 'inlet.presure'"
    ):
        SimulatorThread(devices, bad, start_time=START).start()


def test_hand_made_device_with_shared_bits_signals_and_memory_cells():
    from drivers.sim.spec import SimDeviceSpec, SimPointSpec

    dev = SimDeviceSpec("rtu", "modbus_tcp", "127.0.0.1", free_port(), 7)
    points = [
        SimPointSpec("cmd.bit", "rtu", "hr:0:bit:0", None, writable=True),
        SimPointSpec("run.bit", "rtu", "hr:0:bit:1", "plc.run"),
        SimPointSpec(
            "wave", "rtu", "hr:10:f32:dcba", {"signal": "sine", "base": 50, "amp": 5, "period": 60}
        ),
        SimPointSpec(
            "level", "rtu", "hr:12:u16", {"signal": "const", "base": 42.5}, gain=0.1, writable=True
        ),
        SimPointSpec("label", "rtu", "hr:20:str:4", None, writable=True),
    ]
    with SimulatorThread([dev], points, seed=1, start_time=START) as st:
        c = client(dev.port)
        text = parse_address("hr:20:str:4")
        try:
            # plc.run = 1 in bit 1; the client sets the writable bit 0 and leaves bit 1 alone
            assert c.read_holding_registers(0, count=1, device_id=7).registers == [0b10]
            assert not c.write_register(0, 0b11, device_id=7).isError()
            assert c.read_holding_registers(0, count=1, device_id=7).registers == [0b11]
            # clearing the read-only bit is refused
            assert c.write_register(0, 0b01, device_id=7).exception_code == 2
            regs = c.read_holding_registers(10, count=3, device_id=7).registers
            wave = codec.decode(parse_address("hr:10:f32:dcba"), regs[:2])
            assert 45.0 <= wave <= 55.0 and regs[2] == 425
            # a written signal point holds the written value; strings are memory cells
            assert not c.write_register(12, 300, device_id=7).isError()
            assert not c.write_registers(20, codec.encode(text, "RTU-7"), device_id=7).isError()
            regs = c.read_holding_registers(12, count=12, device_id=7).registers
            assert regs[0] == 300 and codec.decode(text, regs[8:12]) == "RTU-7"
            assert c.read_holding_registers(0, count=1, device_id=3).isError()  # another unit id
        finally:
            c.close()
        assert st.simulator.servers["rtu"].eng_value("level") == pytest.approx(30.0)
