"""Station configs with Modbus RTU devices: accepted, and every serial problem at file:line."""

from __future__ import annotations

from hmi.cli import main as cli_main
from hmi.config import load_station
from tests.unit.test_config import make_station, problems

RTU_DEVICES = """\
devices:
  - id: fc
    protocol: modbus_rtu
    serial_port: /dev/ttyUSB0
    baudrate: 9600
    parity: E
    unit_id: 1
  - id: gd
    protocol: modbus_rtu
    serial_port: /dev/ttyUSB0
    baudrate: 9600
    parity: E
    unit_id: 2
  - id: ups
    protocol: modbus_rtu_over_tcp
    host: 10.0.0.5
    port: 4001
    unit_id: 1
"""

RTU_TAGS = """\
tags:
  - {name: fc.flow, device: fc, address: "hr:0:f32:cdab", unit: Sm3/h}
  - {name: gd.lel, device: gd, address: "ir:0:i16", unit: "%LEL"}
  - {name: ups.battery, device: ups, address: "ir:10", unit: "%"}
"""


def test_rtu_station_loads_and_the_driver_accepts_its_params(tmp_path):
    from drivers.base import driver_class

    cfg = load_station(make_station(tmp_path, devices_yaml=RTU_DEVICES, tags_yaml=RTU_TAGS))
    assert [d.protocol for d in cfg.devices] == ["modbus_rtu", "modbus_rtu", "modbus_rtu_over_tcp"]
    for d in cfg.devices:
        assert driver_class(d.protocol).validate_params(d.driver_params()) == []


def test_bad_baud_rate_and_parity_name_file_and_line(tmp_path):
    bad = RTU_DEVICES.replace(
        "baudrate: 9600\n    parity: E\n    unit_id: 2",
        "baudrate: 9601\n    parity: X\n    unit_id: 2",
    )
    got = problems(make_station(tmp_path, devices_yaml=bad, tags_yaml=RTU_TAGS))
    assert any(
        "devices.yaml:11: devices[gd].baudrate: baud rate 9601 is not supported" in p for p in got
    ), got
    assert any("devices.yaml:12: devices[gd].parity: Input should be" in p for p in got), got


def test_units_on_one_bus_with_other_settings_or_the_same_id(tmp_path, capsys):
    bad = RTU_DEVICES.replace(
        "baudrate: 9600\n    parity: E\n    unit_id: 2",
        "baudrate: 19200\n    parity: E\n    unit_id: 1",
    )
    d = make_station(tmp_path, devices_yaml=bad, tags_yaml=RTU_TAGS)
    got = [p[p.index("devices.yaml") :] for p in problems(d)]
    assert got == [
        "devices.yaml:13: devices[gd].unit_id: unit id 1 is already used by device 'fc' on serial port /dev/ttyUSB0",
        "devices.yaml:11: devices[gd].baudrate: baudrate 19200 differs from 9600 of device 'fc' on the same serial port /dev/ttyUSB0 (one line, one setting)",
    ]
    assert cli_main(["check", str(d)]) == 1
    out = capsys.readouterr().out
    assert "devices.yaml:11: devices[gd].baudrate: baudrate 19200 differs" in out
    assert "Traceback" not in out
