"""CommandService checks without a device: permissions per role, action classes, value
validation, interlocks, confirmation of the old value, remote policy — each audited.

Uses a real :class:`Runtime` whose only device is disabled, so every check runs for
real and a write that passes them ends at "not connected". Values are fed through the
real tag table. Writes against a live simulator are in tests/integration/test_commands.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import numpy as np
import pytest

from drivers.base import Batch, Quality
from hmi.config.schema import StationConfig
from hmi.core.audit import AuditTrail
from hmi.core.commands import CommandStatus, RemoteIdentity, action_for
from hmi.core.runtime import Runtime
from hmi.core.users import TEST_PARAMS, Action, Session, UserStore

PW = "Gate-station-7"

CFG = {
    "station": {"id": "st1", "name": "Test"},
    "devices": [
        {"id": "plc", "protocol": "modbus_tcp", "enabled": False, "poll_groups": {"default": 60.0}}
    ],
    "tags": [
        {
            "name": "reg1.pressure_sp",
            "device": "plc",
            "address": "hr:0:f32",
            "access": "rw",
            "range": [0, 0.6],
            "unit": "MPa",
            "precision": 3,
        },
        {
            "name": "inlet.esd.cmd",
            "device": "plc",
            "address": "co:0",
            "type": "bool",
            "access": "rw",
            "interlocks": [
                {
                    "tag": "reg1.slamshut.closed",
                    "equals": 1,
                    "message": {"en": "slam-shut is closed", "zh": "切断阀已关闭"},
                }
            ],
        },
        {
            "name": "heater.mode",
            "device": "plc",
            "address": "hr:10:uint16",
            "type": "int",
            "access": "rw",
            "range": [0, 3],
            "states": {0: "off", 1: "auto", 2: "manual"},
        },
        {
            "name": "reg1.slamshut.reset",
            "device": "plc",
            "address": "co:1",
            "type": "bool",
            "access": "rw",
        },
        {"name": "reg1.slamshut.closed", "device": "plc", "address": "di:0", "type": "bool"},
        {
            "name": "outlet.pressure",
            "device": "plc",
            "address": "hr:20:f32",
            "access": "rw",
            "range": [0, 1],
            "remote_write": True,
        },
    ],
}


@pytest.fixture
def env(tmp_path):
    cfg = StationConfig.model_validate(CFG)
    rt = Runtime(cfg, tmp_path, alarms=False)
    users = UserStore(tmp_path, params=TEST_PARAMS, station_id="st1")
    for name, role in (
        ("view", "viewer"),
        ("op", "operator"),
        ("eng", "engineer"),
        ("adm", "admin"),
    ):
        users.add_user(name, PW, role, by="setup")
    svc = rt.commands.replace(users=users, audit=users.audit, cfg=cfg)
    yield rt, users, svc
    users.close()


def feed(rt, name, value, quality=Quality.GOOD):
    now = time.time()
    rt.tags.apply(
        Batch(np.array([rt.tags.index[name]]), np.array([float(value)]), int(quality), "", now, now)
    )


def last_rows(users, n):
    return [(r.action, r.user, r.origin, r.target, r.result) for r in users.audit.records()[-n:]]


def test_action_class_of_each_tag(env):
    rt, _users, _svc = env
    tag = rt.cfg.tag
    assert action_for(tag("reg1.pressure_sp")) is Action.WRITE_SETPOINT
    assert action_for(tag("inlet.esd.cmd")) is Action.OPERATE_VALVE
    assert action_for(tag("heater.mode")) is Action.OPERATE_VALVE
    assert action_for(tag("reg1.slamshut.reset")) is Action.RESET


@pytest.mark.parametrize(
    ("user", "allowed"), [("view", False), ("op", True), ("eng", True), ("adm", True)]
)
def test_write_permission_per_role(env, user, allowed):
    rt, users, svc = env
    session = users.login(user, PW)
    feed(rt, "reg1.pressure_sp", 0.4)
    res = asyncio.run(svc.write("reg1.pressure_sp", 0.42, session))
    if allowed:  # passed every check; the disabled device answers "not connected"
        assert res.status is CommandStatus.NOT_CONNECTED
        assert last_rows(users, 2) == [
            ("write", user, "local", "reg1.pressure_sp", "requested"),
            ("write", user, "local", "reg1.pressure_sp", "not_connected"),
        ]
    else:
        assert res.status is CommandStatus.DENIED and "needs operator" in res.message
        assert last_rows(users, 1) == [("write", "view", "local", "reg1.pressure_sp", "denied")]
    rec = users.audit.records()[-1]
    assert (
        rec.details["old"] == pytest.approx(0.4)
        and rec.details["new"] == 0.42
        and rec.seq == res.audit_seq
    )


def test_logged_out_console_and_expired_session_are_viewers(env):
    _rt, users, svc = env
    assert (
        asyncio.run(svc.write("inlet.esd.cmd", True, Session.viewer())).status
        is CommandStatus.DENIED
    )
    t = [0.0]
    s = users.login("op", PW, clock=lambda: t[0])
    t[0] = 10_000.0
    res = asyncio.run(svc.write("inlet.esd.cmd", True, s))
    assert res.status is CommandStatus.DENIED and "op is viewer" in res.message


def test_user_disabled_or_demoted_after_login_loses_the_right_at_once(env):
    _rt, users, svc = env
    s = users.login("op", PW)
    users.set_role("op", "viewer", by="adm")
    assert "now viewer" in asyncio.run(svc.write("reg1.pressure_sp", 0.3, s)).message
    users.set_role("op", "operator", by="adm")
    users.set_enabled("op", False, by="adm")
    assert "disabled" in asyncio.run(svc.write("reg1.pressure_sp", 0.3, s)).message


def test_value_validation(env):
    _rt, users, svc = env
    op = users.login("op", PW)
    cases = [
        ("reg1.pressure_sp", 0.7, "outside the engineering range 0-0.6 MPa"),
        ("reg1.pressure_sp", "abc", "not a number"),
        ("reg1.pressure_sp", float("nan"), "not a finite number"),
        ("inlet.esd.cmd", 2, "takes on/off"),
        ("heater.mode", 3, "not a state of heater.mode"),
        ("heater.mode", 1.5, "whole numbers"),
        ("reg1.slamshut.closed", 1, "read-only"),
        ("no.such.tag", 1, "unknown tag"),
    ]
    for tag, value, msg in cases:
        res = asyncio.run(svc.write(tag, value, op))
        assert res.status is CommandStatus.INVALID and msg in res.message, (tag, value, res)
        assert users.audit.records()[-1].result == "invalid"


def test_interlock_refuses_while_the_condition_holds(env):
    rt, users, svc = env
    op = users.login("op", PW)
    res = asyncio.run(
        svc.write("inlet.esd.cmd", True, op)
    )  # interlock tag never read: cannot be checked
    assert res.status is CommandStatus.INTERLOCKED and "cannot be checked" in res.message
    feed(rt, "reg1.slamshut.closed", 1)
    res = asyncio.run(svc.write("inlet.esd.cmd", True, op))
    assert res.status is CommandStatus.INTERLOCKED and "slam-shut is closed" in res.message
    assert res.hint == {"en": "slam-shut is closed", "zh": "切断阀已关闭"}
    assert last_rows(users, 1) == [("write", "op", "local", "inlet.esd.cmd", "interlocked")]
    assert [blocks for _il, blocks in svc.interlock_state(rt.cfg.tag("inlet.esd.cmd"))] == [True]
    feed(rt, "reg1.slamshut.closed", 0)
    assert svc.check_write("inlet.esd.cmd", "on", op) is None
    assert asyncio.run(svc.write("inlet.esd.cmd", "on", op)).status is CommandStatus.NOT_CONNECTED


def test_confirmed_old_value_must_still_be_current(env):
    rt, users, svc = env
    op = users.login("op", PW)
    feed(rt, "reg1.pressure_sp", 0.4001)
    assert (
        svc.current_value("reg1.pressure_sp") == pytest.approx(0.4001)
        and svc.current_value("nope") is None
    )
    assert (
        svc.check_write("reg1.pressure_sp", 0.45, op, confirm_old=0.400) is None
    )  # shown as 0.400
    feed(rt, "reg1.pressure_sp", 0.38)
    res = asyncio.run(svc.write("reg1.pressure_sp", 0.45, op, confirm_old=0.400))
    assert res.status is CommandStatus.CHANGED and "confirm again" in res.message
    assert users.audit.records()[-1].result == "changed"


def test_remote_writes_denied_unless_enabled_station_wide_and_per_tag(env, tmp_path):
    rt, users, svc = env
    who = RemoteIdentity("dispatch-zhang", "gas/st1/cmd/write")
    res = asyncio.run(svc.write("outlet.pressure", 0.3, who))
    assert res.status is CommandStatus.DENIED and "remote commands are disabled" in res.message
    rec = users.audit.records()[-1]
    assert (rec.user, rec.origin, rec.result, rec.details["source"]) == (
        "dispatch-zhang",
        "remote",
        "denied",
        "gas/st1/cmd/write",
    )
    cfg = rt.cfg.model_copy(
        update={"uplink": rt.cfg.uplink.model_copy(update={"remote_commands": True})}
    )
    svc2 = rt.commands.replace(users=users, audit=users.audit, cfg=cfg)
    res = asyncio.run(svc2.write("reg1.pressure_sp", 0.3, who))
    assert res.status is CommandStatus.DENIED and "does not accept remote writes" in res.message
    res = asyncio.run(
        svc2.write("outlet.pressure", 3.0, who)
    )  # the same range check as local writes
    assert res.status is CommandStatus.INVALID
    res = asyncio.run(svc2.write("outlet.pressure", 0.3, who))
    assert res.status is CommandStatus.NOT_CONNECTED
    assert last_rows(users, 2) == [
        ("write", "dispatch-zhang", "remote", "outlet.pressure", "requested"),
        ("write", "dispatch-zhang", "remote", "outlet.pressure", "not_connected"),
    ]
    assert users.audit.verify().ok


def test_alarm_actions_check_permission_and_audit(tmp_path):
    cfg = StationConfig.model_validate(
        {
            **CFG,
            "tags": [{**CFG["tags"][0], "alarms": [{"kind": "H", "limit": 0.5, "latched": True}]}],
        }
    )
    users = UserStore(tmp_path, params=TEST_PARAMS, station_id="st1")
    rt = Runtime(cfg, tmp_path)
    rt.start()
    try:
        svc = rt.commands.replace(users=users, audit=users.audit, cfg=cfg)
        users.add_user("op", PW, "operator", by="setup")
        op = users.login("op", PW)

        async def scenario():
            res = await svc.ack("all", Session.viewer())
            assert res.status is CommandStatus.DENIED
            res = await svc.ack(["reg1.pressure_sp.h"], op, "seen")
            assert res.status is CommandStatus.REJECTED  # alarm engine: nothing to acknowledge
            res = await svc.set_out_of_service("reg1.pressure_sp.h", op, "sensor swap")
            assert res.status is CommandStatus.DENIED and "needs engineer" in res.message
            res = await svc.ack("all", RemoteIdentity("dispatch"))  # remote_ack is on by default
            assert res.status is CommandStatus.SUCCESS  # nothing unacknowledged: nothing to do
            res = await svc.shelve("reg1.pressure_sp.h", RemoteIdentity("dispatch"), "x", 60)
            assert res.status is CommandStatus.DENIED and "remote shelve is disabled" in res.message
            await raise_and_clear(0.55)  # the latched H alarm comes in
            res = await svc.reset("reg1.pressure_sp.h", op)
            assert res.status is CommandStatus.REJECTED and "still active" in res.message
            res = await svc.ack(["reg1.pressure_sp.h"], op, "seen")
            assert res.status is CommandStatus.SUCCESS, res
            await raise_and_clear(0.3)  # back to normal, still held by the latch
            res = await svc.reset("reg1.pressure_sp.h", op, "checked on site")
            assert res.status is CommandStatus.SUCCESS, res

        async def raise_and_clear(value):
            now = time.time()
            batch = Batch(np.array([0]), np.array([value]), int(Quality.GOOD), "", now, now)
            await asyncio.wrap_future(rt.call(lambda: rt.alarms.process(rt.tags.apply(batch).scan)))

        asyncio.run(scenario())
        rows = [
            (r.action, r.user, r.origin, r.result)
            for r in users.audit.records()
            if r.action not in ("user_add", "login", "config_load")
        ]
        assert rows[0] == ("ack", "viewer", "local", "denied")
        assert rows[1][:3] == ("ack", "op", "local") and rows[2] == (
            "out_of_service",
            "op",
            "local",
            "denied",
        )
        assert rows[3][:3] == ("ack", "dispatch", "remote") and rows[4] == (
            "shelve",
            "dispatch",
            "remote",
            "denied",
        )
        assert rows[5:] == [
            ("reset", "op", "local", "refused"),
            ("ack", "op", "local", "ok"),
            ("reset", "op", "local", "ok"),
        ]
        assert users.audit.records()[-1].details["comment"] == "checked on site"
    finally:
        rt.stop()
        users.close()


def test_no_audit_row_no_write(env, tmp_path):
    rt, users, _svc = env
    op = users.login("op", PW)
    trail = AuditTrail(tmp_path, "st1", busy_timeout=0.2)
    svc = rt.commands.replace(users=users, audit=trail, cfg=rt.cfg)
    blocker = sqlite3.connect(tmp_path / "users.db", isolation_level=None)
    try:
        blocker.execute(
            "BEGIN EXCLUSIVE"
        )  # another writer holds users.db: appends fail as on a full disk
        res = asyncio.run(svc.write("reg1.pressure_sp", 0.3, op))
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
        trail.close()
    # the write was never attempted (the disabled device would have answered "not connected")
    assert res.status is CommandStatus.ERROR and res.message.startswith(
        "not written: cannot write the audit trail"
    )
    assert "locked" in res.message
    assert users.audit.records()[-1].action == "login"
