"""An S7 station end to end: ``gas-hmi simulate``'s S7 CPU -> runtime -> command service.

The station config is loaded from YAML like any station; the simulator serves its S7 PLC
from the station model (python-snap7's server on a free loopback port) and the real
runtime polls it. Writes go through the command service: permission, audit, the driver's
S7 write, read-back.
"""

from __future__ import annotations

import textwrap

import pytest

from drivers.base import DeviceState, Quality
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core.commands import CommandStatus
from hmi.core.runtime import Runtime
from hmi.core.users import TEST_PARAMS, UserStore
from tests.helpers import free_port, wait_until

PW = "Regulator-7"
STATION = """\
station:
  id: s7_station
  name: {en: S7 station, zh: S7站}
  kind: regulator_station
"""
DEVICES = """\
devices:
  - id: plc
    protocol: s7
    host: 127.0.0.1
    port: {port}
    rack: 0
    slot: 1
    timeout: 0.5
    poll_groups: {{default: 0.2}}
"""
TAGS = """\
tags:
  - name: inlet.pressure
    device: plc
    address: DB1.DBD0:real
    unit: MPa
    range: [0, 6]
    sim: inlet.pressure
  - name: esd.closed
    device: plc
    address: DB1.DBX4.0
    type: bool
    sim: esd.closed
  - name: heater.water.setpoint
    device: plc
    address: DB1.DBD6:real
    unit: degC
    range: [0, 100]
    access: rw
    sim: heater.water.setpoint
  - name: fan.start
    device: plc
    address: DB1.DBX4.2
    type: bool
    access: rw
  - name: ai.inlet
    device: plc
    address: IW64
    unit: MPa
    range: [0, 6]
    scale: {raw: [0, 27648], eng: [0, 6]}
    sim: inlet.pressure
"""


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s7station")
    folder = tmp / "st"
    folder.mkdir()
    texts = {"station.yaml": STATION, "devices.yaml": DEVICES.format(port=free_port())}
    texts["tags.yaml"] = TAGS
    for name, text in texts.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    cfg = load_station(folder)
    sim = start_simulator_thread(cfg, seed=2)
    rt = Runtime(cfg, tmp / "data")
    users = UserStore(tmp / "data", params=TEST_PARAMS, station_id=cfg.station.id)
    try:
        rt.start()
        users.add_user("op", PW, "operator", by="setup")
        wait_until(lambda: rt.drivers["plc"].state is DeviceState.UP, 20, what="PLC up")
        yield sim, rt, users, rt.commands.replace(users=users, audit=users.audit)
    finally:
        rt.stop()
        users.close()
        sim.stop()


def test_every_tag_good_with_model_values(station):
    sim, rt, _users, _svc = station
    names = ["inlet.pressure", "esd.closed", "heater.water.setpoint", "fan.start", "ai.inlet"]
    wait_until(lambda: all(rt.tags.get(n)[1] is Quality.GOOD for n in names), 20, what="GOOD")
    inlet = rt.tags.get("inlet.pressure")[0]
    assert 0.5 < inlet < 10
    assert rt.tags.get("ai.inlet")[0] == pytest.approx(inlet, abs=6 / 27648 + 0.05)
    diag = {d["device_id"]: d for d in rt.device_diagnostics()}["plc"]
    assert diag["protocol"] == "s7" and diag["cpu_state"] == "run" and diag["pdu_size"] == 480


def write(rt, svc, tag, value, who):
    return rt.submit(svc.write(tag, value, who)).result(60)


def test_writes_with_read_back_through_the_command_service(station):
    sim, rt, users, svc = station
    op = users.login("op", PW)
    res = write(rt, svc, "heater.water.setpoint", 61.5, op)
    assert res.status is CommandStatus.SUCCESS, res
    assert sim.call(sim.model.get, "heater.water.setpoint") == 61.5
    res = write(rt, svc, "fan.start", True, op)
    assert res.status is CommandStatus.SUCCESS, res
    assert rt.tags.get("fan.start")[0] == 1.0
    refused = write(rt, svc, "heater.water.setpoint", 95.0, op)  # the model's limit is 90
    assert refused.status is CommandStatus.REJECTED and "S7 error 0x07" in refused.message
    assert sim.call(sim.model.get, "heater.water.setpoint") == 61.5
    assert users.audit.verify().ok
