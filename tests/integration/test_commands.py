"""The command path against the simulated demo station (real Modbus TCP servers).

Write with read-back success, rejection by the device (Modbus exception), timeout (the
device hangs), not connected (the device is off the network), no permission, interlock
refusal, remote commands denied by default and accepted when enabled — each checked
in the audit trail. The station is the demo copy without its OPC UA device.

Faked: nothing on the device side. The "hung device" is the simulator's own event loop
blocked for a few seconds, so connections stay open and requests go unanswered.
"""

from __future__ import annotations

import threading
import time

import pytest

from drivers.base import DeviceState, Quality
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.config.schema import StationConfig
from hmi.core.commands import CommandStatus, RemoteIdentity
from hmi.core.runtime import Runtime
from hmi.core.users import TEST_PARAMS, Session, UserStore
from tests.helpers import wait_until
from tests.stations import demo_station_copy

PW = "Gate-station-7"
SP = "reg1.active.setpoint"  # hr:0:f32, range 0.2-0.6 MPa, writable in the PLC
RO = "reg1.monitor.setpoint"  # hr:4:f32, read-only in the PLC: made rw on the HMI side only


def _with(
    cfg: StationConfig, tags: dict[str, dict] | None = None, uplink: dict | None = None
) -> StationConfig:
    """A changed copy of a config (re-validated, so its tag map is fresh)."""
    data = cfg.model_dump()
    for t in data["tags"]:
        t.update((tags or {}).get(t["name"], {}))
    data["uplink"].update(uplink or {})
    return StationConfig.model_validate(data)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("commands")
    folder, _ports = demo_station_copy(tmp, exclude=("opcua.yaml",))
    cfg = load_station(folder)
    sim = start_simulator_thread(cfg)
    rt_cfg = _with(cfg, {RO: {"access": "rw"}})
    rt = Runtime(rt_cfg, tmp / "data")
    users = UserStore(tmp / "data", params=TEST_PARAMS, station_id=cfg.station.id)
    try:
        rt.start()
        users.add_user("op", PW, "operator", by="setup")
        users.add_user("view", PW, "viewer", by="setup")
        wait_until(
            lambda: (
                rt.drivers["plc"].state is DeviceState.UP and rt.tags.get(SP)[1] is Quality.GOOD
            ),
            30,
            what="PLC up",
        )
        yield sim, rt, users, rt.commands.replace(users=users, audit=users.audit, cfg=rt_cfg)
    finally:
        rt.stop()
        users.close()
        sim.stop()


def rows_after(users, seq):
    return [r for r in users.audit.records() if r.seq > seq and r.action == "write"]


def write(rt, svc, tag, value, who, confirm_old=None):
    return rt.submit(svc.write(tag, value, who, confirm_old)).result(60)


def plc_up(rt):
    return rt.drivers["plc"].state is DeviceState.UP


def test_setpoint_write_is_verified_by_read_back_and_audited(station):
    sim, rt, users, svc = station
    op = users.login("op", PW)
    old = rt.tags.get(SP)[0]
    new = 0.39 if abs(old - 0.39) > 0.005 else 0.385  # below the monitor's 0.42 MPa
    head = users.audit.head()[0]
    res = write(rt, svc, SP, new, op, confirm_old=round(old, 3))
    assert res.status is CommandStatus.SUCCESS, res
    assert sim.call(sim.model.get, SP) == pytest.approx(new, abs=1e-6)
    assert rt.tags.get(SP)[0] == pytest.approx(new, abs=1e-6)
    rows = rows_after(users, head)
    assert [(r.user, r.origin, r.target, r.result) for r in rows] == [
        ("op", "local", SP, "requested"),
        ("op", "local", SP, "success"),
    ]
    assert (
        rows[1].details["old"] == pytest.approx(old)
        and rows[1].details["new"] == new
        and rows[1].details["action"] == "write_setpoint"
    )
    assert users.audit.verify().ok


def test_device_rejects_a_read_only_register(station):
    _sim, rt, users, svc = station
    op = users.login("op", PW)
    head = users.audit.head()[0]
    res = write(rt, svc, RO, 0.45, op)
    assert res.status is CommandStatus.REJECTED and "Modbus exception 2" in res.message, res
    assert [r.result for r in rows_after(users, head)] == ["requested", "rejected"]
    assert "Modbus exception 2" in rows_after(users, head)[1].details["message"]


def test_no_permission_never_reaches_the_device(station):
    sim, rt, users, svc = station
    before = sim.call(sim.model.get, SP)
    head = users.audit.head()[0]
    for who in (users.login("view", PW), Session.viewer()):
        res = write(rt, svc, SP, 0.5, who)
        assert res.status is CommandStatus.DENIED and "needs operator" in res.message
    assert sim.call(sim.model.get, SP) == before
    assert [(r.user, r.result) for r in rows_after(users, head)] == [
        ("view", "denied"),
        ("viewer", "denied"),
    ]


def test_interlock_refuses_with_its_message(station):
    _sim, rt, users, _svc = station
    value, quality, _ts, _reason = rt.tags.get("esd.remote")
    assert quality is Quality.GOOD
    msg = {
        "en": "ESD panel in this position: set points locked",
        "zh": "紧急切断阀盘处于此位置：设定锁定",
    }
    cfg = _with(
        rt.cfg, {SP: {"interlocks": [{"tag": "esd.remote", "equals": value, "message": msg}]}}
    )
    svc = rt.commands.replace(users=users, audit=users.audit, cfg=cfg)
    head = users.audit.head()[0]
    res = write(rt, svc, SP, 0.41, users.login("op", PW))
    assert res.status is CommandStatus.INTERLOCKED and msg["en"] in res.message and res.hint == msg
    assert [r.result for r in rows_after(users, head)] == ["interlocked"]


def test_ladder_and_permissives_from_the_station_config(station):
    sim, rt, users, svc = station
    op = users.login("op", PW)
    before = sim.call(sim.model.get, SP)
    head = users.audit.head()[0]
    res = write(rt, svc, SP, 0.42, op)  # at the monitor's set point: refused by the ladder
    assert res.status is CommandStatus.INTERLOCKED and "below its monitor" in res.message, res
    assert "监控调压器" in res.hint["zh"] and sim.call(sim.model.get, SP) == before
    # outlet below the 0.41 MPa reset limit and pressure equalised across the open ESD: permitted
    assert rt.tags.get("reg1.outlet.pressure")[0] < 0.41
    assert write(rt, svc, "reg1.ssv.reset", 1, op).status is CommandStatus.SUCCESS
    assert write(rt, svc, "esd.reset_cmd", 1, op).status is CommandStatus.SUCCESS
    # a reset limit the outlet is above: the same reset is refused with the config's message
    tight = rt.cfg.model_copy(
        update={"interlocks": [p.model_copy(update={"require": [
            p.require[0].model_copy(update={"below": 0.1})]}) for p in rt.cfg.interlocks]}
    )  # fmt: skip
    res = write(
        rt, rt.commands.replace(users=users, audit=users.audit, cfg=tight), "reg1.ssv.reset", 1, op
    )
    assert res.status is CommandStatus.INTERLOCKED and "reset limit" in res.message, res
    assert "needs reg1.outlet.pressure below 0.1" in res.message
    results = [r.result for r in rows_after(users, head)]
    assert results[0] == "interlocked" and results[-1] == "interlocked"


def test_horn_drives_the_station_horn_coil(station):
    sim, rt, _users, _svc = station
    horn = lambda: sim.call(sim.model.get, "station.horn")  # noqa: E731 - the PLC coil
    wait_until(lambda: rt.horn_output.written is not None, 20, what="horn output settled")
    assert horn() == float(rt.alarms.annunciation().horn)
    sim.call(sim.model.faults.leak.update, {9: 35.0})  # gas level 1 in the control room
    try:
        wait_until(lambda: rt.alarms.annunciation().horn, 30, what="horn sounding")
        wait_until(lambda: horn() == 1.0, 10, what="station horn coil on")
        assert rt.alarms.silence("op").ok
        wait_until(lambda: horn() == 0.0, 10, what="station horn coil off after silence")
    finally:
        sim.call(sim.model.faults.leak.clear)


def test_remote_commands_denied_by_default_and_accepted_when_enabled(station):
    sim, rt, users, svc = station
    head = users.audit.head()[0]
    res = write(rt, svc, SP, 0.42, RemoteIdentity("dispatch-li", "gas/demo_city_gate/cmd"))
    assert res.status is CommandStatus.DENIED and "remote commands are disabled" in res.message
    enabled = rt.commands.replace(
        users=users,
        audit=users.audit,
        cfg=_with(rt.cfg, {SP: {"remote_write": True}}, {"remote_commands": True}),
    )
    # enabled station-wide, not for this tag; the handler answers with a future at once
    ok, message = enabled.remote_write(RO, 0.45, "dispatch-li").result(60)
    assert not ok and "does not accept remote writes" in message
    ok, message = enabled.remote_write(
        SP, 0.395, "dispatch-li", source="gas/demo_city_gate/cmd"
    ).result(60)  # the uplink's handler: a future
    assert ok, message
    assert sim.call(sim.model.get, SP) == pytest.approx(0.395, abs=1e-6)
    rows = [(r.user, r.origin, r.result, r.details.get("source")) for r in rows_after(users, head)]
    assert rows == [
        ("dispatch-li", "remote", "denied", "gas/demo_city_gate/cmd"),
        ("dispatch-li", "remote", "denied", None),
        ("dispatch-li", "remote", "requested", "gas/demo_city_gate/cmd"),
        ("dispatch-li", "remote", "success", "gas/demo_city_gate/cmd"),
    ]


def test_hung_device_times_out_and_lost_device_is_not_connected(station):
    sim, rt, users, svc = station
    op = users.login("op", PW)
    head = users.audit.head()[0]
    frozen = threading.Event()

    def hang() -> None:  # runs on the simulator's loop: every simulated device stops answering
        frozen.set()
        time.sleep(4.0)

    t = threading.Thread(target=sim.call, args=(hang,), kwargs={"timeout": 30}, name="sim-hang")
    t.start()
    try:
        assert frozen.wait(10)
        res = write(rt, svc, SP, 0.39, op)
        assert res.status is CommandStatus.TIMEOUT, res
    finally:
        t.join(30)
    wait_until(lambda: plc_up(rt), 30, what="PLC back after the hang")

    sim.run(sim.simulator.set_device_online("plc", False))
    try:
        wait_until(lambda: not plc_up(rt), 30, what="PLC seen as lost")
        res = write(rt, svc, SP, 0.39, op)
        assert res.status is CommandStatus.NOT_CONNECTED, res
    finally:
        sim.run(sim.simulator.set_device_online("plc", True))
    wait_until(lambda: plc_up(rt), 30, what="PLC back on the network")
    assert [r.result for r in rows_after(users, head)] == [
        "requested",
        "timeout",
        "requested",
        "not_connected",
    ]
    assert users.audit.verify().ok
