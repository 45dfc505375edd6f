"""The demo city gate station config: loads, is big and complete enough, and matches the simulator."""

from __future__ import annotations

from collections import Counter

import pytest

from drivers.modbus.address import parse_address
from drivers.sim.model import StationModel
from drivers.sim.spec import check_signal
from hmi.cli.simulate import specs_from_config
from hmi.config import load_station
from tests.helpers import free_port
from tests.stations import DEMO_STATION, demo_station_copy

_INT_LIMITS = {
    "int16": (-32768, 32767),
    "uint16": (0, 65535),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}


@pytest.fixture(scope="module")
def cfg():
    return load_station(DEMO_STATION)


@pytest.fixture(scope="module")
def model():
    return StationModel(seed=0, start_time=1704852000.0, params={"warmup": 0})


def test_size_and_devices(cfg):
    modbus = [d for d in cfg.devices if d.protocol == "modbus_tcp"]
    assert len(modbus) >= 3
    modbus_tags = [t for t in cfg.tags if cfg.device(t.device).protocol == "modbus_tcp"]
    assert len(modbus_tags) >= 120
    for d in modbus:
        assert d.host == "127.0.0.1" and 15020 <= d.port <= 15029
        assert cfg.tags_of(d.id), f"device {d.id} has no tags"
    assert len({d.port for d in modbus}) == len(modbus)


def test_every_tag_is_documented_and_fed_by_the_simulator(cfg, model):
    for t in cfg.tags:
        assert t.label.en and t.label.zh, t.name
        assert t.area, t.name
        if cfg.device(t.device).protocol in ("system", "calc"):  # computed by the runtime
            continue
        assert t.sim is not None, t.name
        if isinstance(t.sim, str):
            assert model.has(t.sim), f"{t.name}: unknown model variable {t.sim}"
        else:
            assert check_signal(t.sim) is None, t.name
        if t.access == "rw" and isinstance(t.sim, str):
            assert model.is_writable(t.sim), (
                f"{t.name} is rw but the model ignores writes to {t.sim}"
            )
        for a in t.alarms:
            assert a.message.en and a.message.zh and a.response.en and a.response.zh, t.alarm_id(a)


def test_modbus_encodings_fit_the_engineering_ranges(cfg):
    for t in cfg.tags:
        if cfg.device(t.device).protocol != "modbus_tcp":
            continue
        a = parse_address(t.address)
        if a.is_bits or a.type in ("bit", "bool"):
            assert t.range == (0.0, 1.0), t.name
            continue
        assert t.unit or t.name.endswith(("zfactor", "heartbeat", "duty")), f"{t.name} has no unit"
        if a.type in _INT_LIMITS:
            gain, offset = t.gain_offset()
            raw = sorted(((t.range[0] - offset) / gain, (t.range[1] - offset) / gain))
            lo, hi = _INT_LIMITS[a.type]
            assert lo <= raw[0] and raw[1] <= hi, f"{t.name}: range {t.range} does not fit {a.type}"
        if t.device.startswith("fc") and a.type in ("float32", "uint32"):
            assert a.order == "cdab", t.name


def test_process_coverage_and_alarm_rationalization(cfg):
    names = set(cfg.tag_map())
    for needed in ("inlet.pressure", "esd.open", "flt1.dp", "flt2.dp", "m1.flow.std", "m2.total.std", "heater.water.temperature",
                   "heater.burner.trip", "reg1.ssv.closed", "reg2.active.position", "odor.dose", "odor.tank.level",
                   "outlet.pressure", "outlet.temperature", "power.mains_ok", "ups.on_battery", "door.plc_cabinet"):  # fmt: skip
        assert needed in names, needed
    detectors = [t for t in cfg.tags if t.name.startswith("gd") and t.name.endswith(".lel")]
    assert len(detectors) >= 8
    for t in detectors:
        kinds = {a.kind: a for a in t.alarms}
        assert 20 <= kinds["H"].limit <= 25 and kinds["H"].priority == 2
        assert kinds["HH"].limit == 50 and kinds["HH"].priority == 1
        assert cfg.tag(t.name.replace(".lel", ".fault")).alarms[0].kind == "fault"
    outlet = {a.kind: a for a in cfg.tag("outlet.pressure").alarms}
    run1 = cfg.protection.run("reg1")
    assert run1.active < outlet["H"].limit < run1.monitor <= outlet["HH"].limit < run1.slam_shut
    inlet = {a.kind: a for a in cfg.tag("inlet.pressure").alarms}
    assert inlet["LL"].limit < inlet["L"].limit < 3.8 < inlet["H"].limit <= 4.0  # high-A class
    assert {a.kind for a in cfg.tag("outlet.temperature").alarms} == {"L"} and cfg.tag(
        "outlet.temperature"
    ).alarms[0].limit == 5
    assert set(Counter(a.priority for _t, a in cfg.alarms())) == {1, 2, 3, 4}
    # gas levels 1/2 are high/critical by standard; the rest are mostly medium and low (ISA-18.2 practice)
    prio = Counter(a.priority for t, a in cfg.alarms() if not t.name.endswith(".lel"))
    total = sum(prio.values())
    assert prio[1] / total < 0.15 and (prio[3] + prio[4]) / total > 0.6
    writable = {t.name for t in cfg.tags if t.access == "rw"}
    assert {
        "reg1.active.setpoint",
        "esd.close_cmd",
        "reg1.ssv.reset",
        "heater.water.setpoint",
    } <= writable


def test_specs_follow_the_config_scaling(cfg):
    devices, points = specs_from_config(cfg)
    assert {d.id for d in devices} == {
        d.id for d in cfg.devices if d.enabled and d.protocol not in ("system", "calc")
    }
    p = next(p for p in points if p.name == "inlet.pressure")
    assert (
        p.gain == pytest.approx(0.001)
        and p.offset == 0.0
        and p.source == "inlet.pressure"
        and not p.writable
    )
    assert p.to_raw(3.9) == pytest.approx(3900.0) and p.to_eng(3900.0) == pytest.approx(3.9)
    assert next(p for p in points if p.name == "reg1.active.setpoint").writable


def test_station_copy_moves_every_device_to_free_ports(tmp_path):
    pinned = free_port()
    d, ports = demo_station_copy(tmp_path, ports={"gd": pinned})
    assert ports["gd"] == pinned
    copy = load_station(d)
    served = [dev for dev in copy.devices if dev.protocol not in ("system", "calc")]
    assert set(ports) == {dev.id for dev in served}
    for dev in served:
        port = (
            dev.port
            if dev.protocol == "modbus_tcp"
            else int(dev.endpoint.rsplit(":", 1)[1].split("/")[0])
        )
        assert port == ports[dev.id] and not 15020 <= port <= 15029
    assert len(set(ports.values())) == len(ports)
    assert len(copy.tags) == len(load_station(DEMO_STATION).tags)
