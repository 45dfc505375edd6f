"""Calculated and manual-entry tags in a running station (real Modbus TCP server, real SQLite).

The field device is a real pymodbus server on a free loopback port (tests/modbus_server.py)
whose registers the test sets; the runtime polls it, and the calc device evaluates on the
acquisition thread. Checked: an H alarm on an expression tag, history of an expression
tag, BAD propagation naming the input when the device goes away, manual entry through the
command service (role, range, comment, audit), and counter/runtime across a restart.
Nothing is faked.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.base import Quality
from drivers.modbus.address import parse_address
from drivers.modbus.codec import encode
from hmi.config import load_station
from hmi.core.commands import CommandStatus
from hmi.core.runtime import Runtime
from hmi.core.users import TEST_PARAMS, UserStore
from tests.helpers import wait_until
from tests.modbus_server import ModbusTestServer

PW = "Gate-station-7"

STATION = """\
station: {{id: calc_rt, name: Calc runtime}}
devices:
  - id: plc
    protocol: modbus_tcp
    port: {port}
    timeout: 0.5
    retries: 0
    degrade_after: 1
    backoff_initial: 0.2
    backoff_max: 0.5
    poll_groups: {{default: 0.2}}
  - id: calc
    protocol: calc
    save_period: 1
tags:
  - {{name: filter.p_in, device: plc, address: "hr:0:f32", unit: kPa, range: [0, 1000]}}
  - {{name: filter.p_out, device: plc, address: "hr:2:f32", unit: kPa, range: [0, 1000]}}
  - {{name: pump.on, device: plc, address: "hr:4:u16", range: [0, 1]}}
  - name: filter.dp
    device: calc
    expr: filter.p_in - filter.p_out
    unit: kPa
    history: {{mode: on_change, deadband: 0}}
    alarms: [{{kind: H, limit: 50, priority: 2, message: filter clogged}}]
  - {{name: pump.starts, device: calc, expr: "counter(pump.on > 0)"}}
  - {{name: pump.hours, device: calc, expr: "runtime(pump.on > 0)", unit: h}}
  - {{name: gauge.pg101, device: calc, access: manual, unit: MPa, range: [0, 1.6]}}
  - {{name: odorant.delivered, device: calc, access: manual, manual_role: engineer, unit: kg, range: [0, 500]}}
  - {{name: gauge.diff, device: calc, expr: "gauge.pg101 * 1000 - filter.p_out", unit: kPa}}
"""


class ServerThread:
    """The Modbus test server on its own event loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="modbus-test-server")
        self.thread.start()
        self.server = ModbusTestServer()
        self.run(self.server.start())

    def run(self, coro):  # noqa: ANN001, ANN201 - test helper
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def set(self, address: str, value: float) -> None:
        a = parse_address(address)
        words = encode(a, value)
        self.server.image.hr[a.offset : a.offset + len(words)] = [int(w) for w in words]

    def close(self) -> None:
        if self.server.running:
            self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    srv = ServerThread()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def station_dir(tmp_path_factory, server) -> Path:
    d = tmp_path_factory.mktemp("calc_rt") / "st"
    d.mkdir()
    (d / "station.yaml").write_text(STATION.format(port=server.server.port), encoding="utf-8")
    return d


@pytest.fixture
def runtime(station_dir, tmp_path, server) -> Iterator[Runtime]:
    server.set("hr:0:f32", 300.0)
    server.set("hr:2:f32", 280.0)
    server.set("hr:4:u16", 0)
    rt = Runtime(load_station(station_dir), tmp_path / "data")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


def value(rt: Runtime, name: str) -> tuple[float, Quality, str]:
    v, q, _ts, why = rt.tags.get(name)
    return float(v), q, why


def test_alarm_and_history_on_an_expression_tag(runtime, server):
    rt = runtime
    wait_until(lambda: value(rt, "filter.dp")[:2] == (20.0, Quality.GOOD), 10, what="dP = 20")
    server.set("hr:2:f32", 200.0)  # dP 100 kPa: above the H limit of 50
    wait_until(
        lambda: (v := rt.alarms.view("filter.dp.h")) is not None and v.state == "ACTIVE_UNACK",
        10,
        what="H alarm on filter.dp",
    )
    assert rt.alarms.view("filter.dp.h").value == pytest.approx(100.0)
    server.set("hr:2:f32", 290.0)
    wait_until(lambda: rt.alarms.view("filter.dp.h").state == "RTN_UNACK", 10, what="RTN")

    def stored() -> set[float]:
        rt.historian.flush()
        return set(rt.historian.raw("filter.dp", 0, 4e9).value.round(6).tolist())

    wait_until(lambda: {20.0, 100.0, 10.0} <= stored(), 10, what="dP history")


def test_bad_input_makes_the_result_bad_naming_it(runtime, server):
    rt = runtime
    wait_until(lambda: value(rt, "filter.dp")[1] is Quality.GOOD, 10, what="dP GOOD")
    server.run(server.server.stop())
    try:
        wait_until(lambda: value(rt, "filter.dp")[1] is Quality.BAD, 10, what="dP BAD")
        why = value(rt, "filter.dp")[2]
        assert why.startswith("input filter.p_in is BAD"), why
    finally:
        server.run(server.server.start())
    wait_until(lambda: value(rt, "filter.dp")[1] is Quality.GOOD, 15, what="dP GOOD again")


def test_manual_entry_with_role_range_comment_and_audit(runtime, tmp_path):
    rt = runtime
    users = UserStore(tmp_path / "data", params=TEST_PARAMS, station_id="calc_rt")
    try:
        users.add_user("op", PW, "operator", by="setup")
        users.add_user("view", PW, "viewer", by="setup")
        svc = rt.commands.replace(users=users, audit=users.audit)
        op, viewer = users.login("op", PW), users.login("view", PW)
        assert value(rt, "gauge.pg101")[1] is Quality.BAD
        wait_until(lambda: "no manual entry yet" in value(rt, "gauge.diff")[2], 5, what="why")

        def write(tag, v, who, comment=""):  # noqa: ANN001, ANN202 - test helper
            return rt.submit(svc.write(tag, v, who, comment=comment)).result(30)

        head = users.audit.head()[0]
        res = write("gauge.pg101", 0.35, op, "local gauge PG-101, read at the inlet")
        assert res.status is CommandStatus.SUCCESS, res
        assert value(rt, "gauge.pg101")[:2] == (0.35, Quality.GOOD)
        # an expression over the entry is evaluated at once
        wait_until(lambda: value(rt, "gauge.diff")[:2] == (70.0, Quality.GOOD), 5, what="diff")
        assert write("gauge.pg101", 2.5, op).status is CommandStatus.INVALID  # outside 0-1.6
        assert write("gauge.pg101", 0.4, viewer).status is CommandStatus.DENIED
        res = write("odorant.delivered", 120, op, "delivery note 4711")
        assert res.status is CommandStatus.DENIED and "needs engineer" in res.message
        assert write("filter.dp", 1, op).status is CommandStatus.INVALID  # expressions: read-only
        rows = [r for r in users.audit.records() if r.seq > head and r.action == "write"]
        assert [(r.target, r.result) for r in rows] == [
            ("gauge.pg101", "requested"),
            ("gauge.pg101", "success"),
            ("gauge.pg101", "invalid"),
            ("gauge.pg101", "denied"),
            ("odorant.delivered", "denied"),
            ("filter.dp", "invalid"),
        ]
        assert rows[1].details["comment"] == "local gauge PG-101, read at the inlet"
        assert rows[1].details["action"] == "manual_entry" and rows[1].details["new"] == 0.35
        assert users.audit.verify().ok
    finally:
        users.close()


def test_counter_runtime_and_entries_survive_a_restart(station_dir, tmp_path, server):
    data = tmp_path / "data"
    cfg = load_station(station_dir)
    server.set("hr:4:u16", 0)
    rt = Runtime(cfg, data)
    rt.start()
    try:
        wait_until(lambda: value(rt, "pump.starts")[:2] == (0.0, Quality.GOOD), 10, what="0")
        server.set("hr:4:u16", 1)
        wait_until(lambda: value(rt, "pump.hours")[0] > 0.5 / 3600, 10, what="pump running")
        rt.users.params = TEST_PARAMS  # a throwaway users.db: cheap hashes
        rt.users.add_user("op", PW, "operator", by="setup")
        assert rt.commands.submit_write("gauge.pg101", 0.3, rt.users.login("op", PW)).result(30).ok
    finally:
        rt.stop()
    saved = json.loads((data / "calc_calc.json").read_text(encoding="utf-8"))
    hours = saved["states"]["pump.hours#0:runtime"]["hours"]
    assert saved["states"]["pump.starts#0:counter"]["count"] == 1 and hours > 0.5 / 3600
    assert saved["manual"]["gauge.pg101"]["value"] == 0.3

    rt = Runtime(cfg, data)
    rt.start()
    try:
        assert value(rt, "gauge.pg101")[:2] == (0.3, Quality.GOOD)
        wait_until(lambda: value(rt, "pump.hours")[0] > hours, 10, what="hours go on")
        assert value(rt, "pump.starts")[0] == 1.0  # still running: no new start
        server.set("hr:4:u16", 0)
        wait_until(lambda: rt.tags.get("pump.on")[0] == 0.0, 10, what="pump off")
        server.set("hr:4:u16", 1)
        wait_until(lambda: value(rt, "pump.starts")[0] == 2.0, 10, what="second start")
    finally:
        rt.stop()
