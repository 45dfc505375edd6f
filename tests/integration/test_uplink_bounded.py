"""Bounded messages against a real mosquitto whose ``max_packet_size`` enforces the cap.

* per-block publishing: a real pymodbus server and the real runtime; each read block of
  a scan is its own telemetry message (not one message at the end of the scan);
* a 20,000-tag device in JSON and in Sparkplug mode: every message (DBIRTH included)
  stays under ``uplink.max_payload_kb``, and every value arrives exactly once.

The broker refuses (disconnects) any client packet over the cap, so a message that was
not split could not be delivered at all; its subscriber queue is set deliberately large
(``max_queued_messages``) so that the broker itself never drops a message of the burst.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.config.schema import StationConfig
from hmi.core.runtime import Runtime
from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from tests.helpers import wait_until
from tests.modbus_server import ModbusTestServer
from tests.mqtt_broker import MosquittoBroker, Recorder, feed, sp_payload

CAP_KB = 64  # a small cap keeps the 20,000-tag messages many and the test quick
PACKET_MAX = CAP_KB * 1024 + 512  # payload cap + MQTT fixed header and topic


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    b = MosquittoBroker(
        tmp_path_factory.mktemp("mq"),
        extra=f"max_packet_size {PACKET_MAX}\nmax_queued_messages 100000",
    ).start()
    try:
        yield b
    finally:
        b.stop()


def _station(broker: MosquittoBroker, mode: str, n: int, **device: object) -> StationConfig:
    return StationConfig.model_validate(
        {
            "station": {"id": "gs9", "name": {"en": "Big station", "zh": "大站"}},
            "devices": [{"id": "big", "protocol": "modbus_tcp", **device}],
            "tags": [
                {
                    "name": f"big.r{i:05d}",
                    "device": "big",
                    "address": f"hr:{i}",
                    "unit": "kPa",
                    "range": [0, 65535],
                    "label": {"en": f"Register {i}", "zh": f"寄存器 {i}"},
                    "area": "metering",
                }
                for i in range(n)
            ],
            "uplink": {
                "enabled": True,
                "mode": mode,
                "brokers": [{"host": broker.host, "port": broker.port}],
                "integrity_interval": 0,
                "keepalive": 10,
                "max_payload_kb": CAP_KB,
            },
        }
    )


class _ServerThread:
    """The test Modbus server on its own event loop thread (the runtime has its own)."""

    def __init__(self) -> None:
        self.server = ModbusTestServer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="modbus-test-server")

    def __enter__(self) -> ModbusTestServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _telemetry(rec: Recorder, integrity: bool = False) -> list[dict]:
    msgs = rec.take(lambda m: m.topic == "gas/gs9/telemetry")
    return [b for b in (json.loads(m.payload) for m in msgs) if b["integrity"] == integrity]


def test_each_read_block_is_published_as_it_is_decoded(broker: MosquittoBroker, tmp_path: Path):
    n = 600  # 5 blocks of 125 registers (the last one 100)
    rec = Recorder(broker, "gas/gs9/#").start()
    with _ServerThread() as server:
        server.image.hr[:n] = list(range(1, n + 1))
        cfg = _station(broker, "json", n, port=server.port, poll_groups={"default": 0.5})
        rt = Runtime(cfg, tmp_path / "data")
        rt.start()
        try:
            wait_until(
                lambda: sum(len(b["values"]) for b in _telemetry(rec)) >= n,
                30,
                what="the first scan's values",
            )
        finally:
            rt.stop()
            rec.stop()
    bodies = _telemetry(rec)
    blocks = [{int(v["tag"][5:]) // 125 for v in b["values"]} for b in bodies]
    assert all(len(bl) == 1 for bl in blocks), f"a message mixes read blocks: {blocks}"
    assert len({next(iter(bl)) for bl in blocks}) == 5
    assert all(len(json.dumps(b).encode()) <= CAP_KB * 1024 for b in bodies)
    # the first block's message is stamped before the last block was read
    first = {next(iter(bl)): b for bl, b in zip(blocks, bodies, strict=True)}
    assert first[0]["values"][0]["ts"] <= first[4]["values"][0]["ts"]
    assert {v["value"] for b in bodies for v in b["values"]} == set(range(1, n + 1))


def test_a_20000_tag_device_is_split_under_the_cap_in_json(broker: MosquittoBroker, tmp_path):
    n = 20_000
    cfg = _station(broker, "json", n)
    tags = TagTable(cfg.tags)
    rec = Recorder(broker, ["gas/gs9/telemetry", "gas/gs9/meta/#", "gas/gs9/meta"]).start()
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        feed(tags, up.on_changes, {f"big.r{i:05d}": float(i) for i in range(n)})
        wait_until(
            lambda: sum(len(b["values"]) for b in _telemetry(rec)) >= n, 30, what="20,000 values"
        )
        wait_until(lambda: up.status()["outbox_depth"] == 0, 20, what="outbox drained")
    finally:
        up.stop()
        rec.stop()
    msgs = rec.take(lambda m: m.topic == "gas/gs9/telemetry")
    assert len(msgs) >= 5
    assert max(len(m.payload) for m in msgs) <= CAP_KB * 1024
    values = [v["tag"] for b in _telemetry(rec) for v in b["values"]]
    assert len(values) == n and len(set(values)) == n  # nothing lost, nothing twice
    metas = rec.take(lambda m: m.topic.startswith("gas/gs9/meta") and not m.retain)
    assert max(len(m.payload) for m in metas) <= CAP_KB * 1024
    docs = [json.loads(m.payload) for m in metas]
    assert {d["parts"] for d in docs} == {len(docs)} and len(docs) > 1
    assert sum(len(d["tags"]) for d in docs) == n


def test_a_20000_tag_device_is_split_under_the_cap_in_sparkplug(broker: MosquittoBroker, tmp_path):
    n = 20_000
    cfg = _station(broker, "sparkplug", n)
    tags = TagTable(cfg.tags)
    feed(tags, None, {f"big.r{i:05d}": float(i) for i in range(n)})  # births carry values
    rec = Recorder(broker, "spBv1.0/#").start()
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        births = rec.wait_for(lambda ms: [m for m in ms if "/DBIRTH/" in m.topic], 20, "DBIRTH")
        feed(tags, up.on_changes, {f"big.r{i:05d}": float(i + 1) for i in range(n)})

        def ddata_values() -> int:
            return sum(len(sp_payload(m).metrics) for m in rec.on("/DDATA/"))

        wait_until(lambda: ddata_values() >= n, 30, what="20,000 DDATA metrics")
    finally:
        up.stop()
        rec.stop()
    births = rec.on("/DBIRTH/")
    assert len(births) > 1, "one DBIRTH for 20,000 tags with metadata cannot fit 64 KB"
    assert max(len(m.payload) for m in rec.take()) <= CAP_KB * 1024
    names = [m.name for b in births for m in sp_payload(b).metrics if m.name.startswith("big.r")]
    assert len(names) == n and len(set(names)) == n
    assert {b.topic.rsplit("/", 1)[1] for b in births} >= {"big", "big-p2"}
    ddata = rec.on("/DDATA/")
    assert sum(len(sp_payload(m).metrics) for m in ddata) == n
