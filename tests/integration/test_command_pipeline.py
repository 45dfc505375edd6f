"""The one command pipeline against a real pymodbus server: read-back feeds the data path.

A station with one Modbus device polled only every 60 s (so no poll can refresh a value
during the test) and three writable tags — a coil (bool), a holding register (int) and a
4-register string. Each write goes through ``Runtime.commands`` (permission, audit, device
write, read-back); the tag table shows the verified value as soon as the write returns,
for every type, because the read-back batch enters the normal data path. Nothing is
faked: the device is pymodbus's own server on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.base import DeviceState, Quality
from hmi.config import load_station
from hmi.core.commands import CommandStatus
from hmi.core.runtime import Runtime
from hmi.core.users import TEST_PARAMS, Session
from tests.helpers import wait_until
from tests.modbus_server import ModbusTestServer
from tests.mqtt_broker import MosquittoBroker, Recorder, mosquitto  # noqa: F401 - fixture

PW = "Valve-2931"

STATION = """
devices:
  - {id: plc, protocol: modbus_tcp, host: 127.0.0.1, port: PORT, timeout: 1, retries: 0, poll_groups: {default: 60}}
tags:
  - {name: xv.open_cmd, device: plc, address: "co:0", type: bool, access: rw}
  - {name: pv.mode, device: plc, address: "hr:10:u16", type: int, range: [0, 10], access: rw}
  - {name: gc.label, device: plc, address: "hr:20:str:4", type: string, access: rw}
"""


class ServerThread:
    """A pymodbus server on its own event loop thread (the runtime has its own loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="modbus-server")
        self.server = ModbusTestServer()

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def station(tmp_path_factory: Any) -> Iterator[tuple[Runtime, Any]]:
    tmp: Path = tmp_path_factory.mktemp("pipeline")
    srv = ServerThread()
    srv.start()
    folder = tmp / "st"
    folder.mkdir()
    (folder / "station.yaml").write_text("station: {id: s1, name: S1}\n", encoding="utf-8")
    (folder / "plc.yaml").write_text(
        textwrap.dedent(STATION).replace("PORT", str(srv.server.port)), encoding="utf-8"
    )
    rt = Runtime(load_station(folder), tmp / "data")
    rt.users.params = TEST_PARAMS
    try:
        rt.start()
        rt.users.add_user("op", PW, "operator", by="test")
        wait_until(
            lambda: (
                rt.drivers["plc"].state is DeviceState.UP
                and rt.tags.get("pv.mode")[1] is Quality.GOOD
            ),
            20,
            what="first poll of the PLC",
        )
        yield rt, srv.server
    finally:
        rt.stop()
        srv.stop()


def _write(rt: Runtime, tag: str, value: Any) -> Any:
    op = rt.users.login("op", PW)
    return rt.commands.submit_write(tag, value, op).result(30)


@pytest.mark.parametrize(
    ("tag", "value", "shown"),
    [("xv.open_cmd", True, 1.0), ("pv.mode", 7, 7.0), ("gc.label", "RUN2", "RUN2")],
)
def test_read_back_enters_the_tag_table_for_every_type(
    station: tuple[Runtime, Any], tag: str, value: Any, shown: Any
) -> None:
    rt, _server = station
    before = time.time()
    res = _write(rt, tag, value)
    assert res.status is CommandStatus.SUCCESS, res
    got, quality, ts, _reason = rt.tags.get(tag)  # no poll for 60 s: only the read-back set it
    assert quality is Quality.GOOD
    assert got == shown
    assert ts >= before


def test_the_written_registers_hold_the_values(station: tuple[Runtime, Any]) -> None:
    rt, server = station
    assert _write(rt, "pv.mode", 3).ok
    assert server.image.hr[10] == 3
    rows = [r for r in rt.audit.records(action="write") if r.target == "pv.mode"]
    assert [r.result for r in rows[-2:]] == ["requested", "success"]


def test_no_write_bypasses_the_command_service(station: tuple[Runtime, Any]) -> None:
    rt, _server = station
    assert not hasattr(rt, "write_tag")  # the device writer belongs to the command service
    res = rt.commands.submit_write("pv.mode", 4, Session.viewer()).result(30)
    assert res.status is CommandStatus.DENIED


REMOTE = """
uplink:
  enabled: true
  mode: json
  brokers: [{host: 127.0.0.1, port: BROKER}]
  remote_commands: true
  integrity_interval: 0
  keepalive: 10
"""


def _replies(rec: Recorder) -> dict[str, dict[str, Any]]:
    return {
        r["id"]: r
        for r in (json.loads(m.payload) for m in rec.take(lambda m: m.topic == "gas/s1/cmd/reply"))
    }


def test_remote_write_round_trip_through_the_runtime(
    mosquitto: MosquittoBroker,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """Cloud -> uplink -> command service -> device -> read-back -> reply, with a real broker.

    The uplink hands the command over and gets a future; nothing waits on a thread. A tag
    without ``remote_write`` is refused by the uplink's policy and still audited."""
    srv = ServerThread()
    srv.start()
    folder = tmp_path / "st"
    folder.mkdir()
    (folder / "station.yaml").write_text("station: {id: s1, name: S1}\n", encoding="utf-8")
    body = textwrap.dedent(STATION).replace("PORT", str(srv.server.port))
    body = body.replace(
        "range: [0, 10], access: rw}", "range: [0, 10], access: rw, remote_write: true}"
    )
    (folder / "plc.yaml").write_text(body, encoding="utf-8")
    (folder / "uplink.yaml").write_text(
        textwrap.dedent(REMOTE).replace("BROKER", str(mosquitto.port)), encoding="utf-8"
    )
    rt = Runtime(load_station(folder), tmp_path / "data")
    rec = Recorder(mosquitto, "gas/s1/#").start()
    try:
        rt.start()
        wait_until(lambda: rt.tags.get("pv.mode")[1] is Quality.GOOD, 20, what="first poll")
        wait_until(lambda: rec.on("gas/s1/status"), 20, what="uplink online")
        write = {"tag": "pv.mode", "value": 5, "user": "dispatch.li"}
        rec.publish("gas/s1/cmd/write", json.dumps({"id": "w1", **write}))
        rec.publish("gas/s1/cmd/write", json.dumps({**write, "id": "w2", "tag": "gc.label"}))
        wait_until(lambda: {"w1", "w2"} <= set(_replies(rec)), 30, what="both replies")
        replies = _replies(rec)
        assert replies["w1"]["ok"] is True, replies["w1"]
        assert "does not accept remote writes" in replies["w2"]["message"]
        assert srv.server.image.hr[10] == 5
        assert rt.tags.get("pv.mode")[0] == 5.0
        assert not any(t.name == "uplink-cmd" for t in threading.enumerate())

        def rows() -> list[tuple[str, str, str, str]]:
            return [(r.action, r.origin, r.target, r.result) for r in rt.audit.records()]

        wait_until(
            lambda: ("remote_write", "remote", "gc.label", "denied") in rows(),
            10,
            what="the refusal audited",
        )
        assert [r for r in rows() if r[0] == "write"] == [
            ("write", "remote", "pv.mode", "requested"),
            ("write", "remote", "pv.mode", "success"),
        ]
    finally:
        rt.stop()
        rec.stop()
        srv.stop()
