"""Live rows handed over in memory after their commit: order, exactly once, past a full window."""

from __future__ import annotations

import json
import socket

from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from hmi.core.uplink.publisher import MAX_INFLIGHT
from tests.helpers import wait_until
from tests.mqtt_broker import Recorder, feed, mosquitto, uplink_station  # noqa: F401
from tests.tcp_proxy import TcpProxy


def test_a_burst_beyond_the_inflight_window_goes_out_once_in_id_order(mosquitto, tmp_path):  # noqa: F811
    rec = Recorder(mosquitto, "gas/gs1/telemetry").start()
    cfg = uplink_station([mosquitto], "json")
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    n = 3 * MAX_INFLIGHT
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        for i in range(n):  # faster than PUBACKs come back: the window fills up
            feed(tags, up.on_changes, {"tt.inlet": float(i % 2) * 10.0 + i * 1e-3})
        wait_until(
            lambda: len(_live(rec)) >= n and up.status()["outbox_depth"] == 0,
            30,
            what=f"{n} messages delivered and acknowledged",
        )
    finally:
        up.stop()
        rec.stop()
    bodies = _live(rec)  # without the integrity messages of the connect (one per device)
    ids = [b["msg_id"] for b in bodies]
    assert len(bodies) == n and ids == sorted(set(ids))  # each once, in id order
    assert not any(b["historical"] for b in bodies)
    got = [b["values"][0]["value"] for b in bodies]
    assert got == [float(i % 2) * 10.0 + i * 1e-3 for i in range(n)]  # creation order


def test_the_broker_socket_sends_without_nagle_delay(mosquitto, tmp_path):  # noqa: F811
    """TCP_NODELAY on the MQTT socket: the last QoS 0 message of a burst, with no PUBACK
    coming back to carry an ACK, must not wait for the broker's delayed ACK (~40 ms)."""
    cfg = uplink_station([mosquitto], "json", qos=0)
    up = Uplink(cfg, tmp_path, TagTable(cfg.tags))
    up.start()
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        conn = up._conn
        assert conn is not None
        sock = conn.client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        up.stop()


def _live(rec: Recorder) -> list[dict]:
    bodies = [json.loads(m.payload) for m in rec.take()]
    return [b for b in bodies if not b["integrity"]]


# ---------------------------------------------------------------------- QoS 0 from memory
def _wide_station(broker, n_tags: int, **uplink: object):
    """One device with ``n_tags`` uint16 tags: one feed of all of them is one ~50 KB message."""
    from hmi.config.schema import StationConfig

    up: dict[str, object] = {
        "enabled": True,
        "mode": "json",
        "brokers": [{"host": broker.host, "port": broker.port}],
        "integrity_interval": 0,
        "keepalive": 10,
        **uplink,
    }
    return StationConfig.model_validate(
        {
            "station": {"id": "gs1", "name": {"en": "Test gate station", "zh": "测试门站"}},
            "devices": [{"id": "plc1", "protocol": "modbus_tcp", "port": 1502}],
            "tags": [
                {"name": f"w.{i:04d}", "device": "plc1", "address": f"hr:{i}", "range": [0, 65535]}
                for i in range(n_tags)
            ],
            "uplink": up,
        }
    )


def _feed_all(tags: TagTable, up: Uplink, k: int) -> None:
    feed(tags, up.on_changes, {n: float(k) for n in tags.names})


def _by_msg_id(rec: Recorder) -> dict[int, float]:
    """msg_id -> the fed value of every data message received (integrity left out)."""
    out: dict[int, float] = {}
    for m in rec.take():
        b = json.loads(m.payload)
        if not b["integrity"]:
            assert b["msg_id"] not in out, f"msg_id {b['msg_id']} received twice"
            out[b["msg_id"]] = b["values"][0]["value"]
    return out


def test_qos0_telemetry_goes_out_from_memory_without_touching_the_outbox(mosquitto, tmp_path):  # noqa: F811
    rec = Recorder(mosquitto, "gas/gs1/telemetry").start()
    cfg = uplink_station([mosquitto], "json", qos=0)
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    n = 300
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        stored_at_connect = up.outbox.stored  # the integrity messages of the connect
        for i in range(n):
            feed(tags, up.on_changes, {"tt.inlet": float(i % 2) * 10.0 + i * 1e-3})
        wait_until(
            lambda: len(_live(rec)) >= n and up.status()["outbox_depth"] == 0,
            30,
            what=f"{n} messages delivered, the connect's integrity rows deleted",
        )
        st = up.status()
        stored = up.outbox.stored - stored_at_connect
    finally:
        up.stop()
        rec.stop()
    bodies = _live(rec)
    ids = [b["msg_id"] for b in bodies]
    assert len(bodies) == n and ids == sorted(set(ids))  # each once, in id order
    assert [b["values"][0]["value"] for b in bodies] == [
        float(i % 2) * 10.0 + i * 1e-3 for i in range(n)
    ]
    # nothing waited for the window here: every one went out from memory, none was stored
    assert st["sent_unstored"] == n and stored == 0


def _backlog(tags: TagTable, up: Uplink, fed: int) -> int:
    """Feed until the window is full of unwritten messages and the outbox holds 50 more."""

    def backed_up() -> bool:
        nonlocal fed
        fed += 1
        _feed_all(tags, up, fed)
        return len(up.publisher.inflight) >= MAX_INFLIGHT and up.status()["outbox_depth"] > 50

    wait_until(backed_up, 60, 0.002, what="the outbox takes over behind the full window")
    return fed


def test_qos0_behind_a_stalled_link_is_stored_in_order_and_nothing_is_lost(mosquitto, tmp_path):  # noqa: F811
    """The link stops moving: the socket and the in-flight window fill, later messages
    are stored; once it moves again every message arrives once, in id order."""
    rec = Recorder(mosquitto, "gas/gs1/telemetry").start()
    proxy = TcpProxy((mosquitto.host, mosquitto.port)).start()
    cfg = _wide_station(proxy, 1000, qos=0)
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    fed = 0
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        for _ in range(20):
            fed += 1
            _feed_all(tags, up, fed)
        wait_until(lambda: len(_by_msg_id(rec)) == fed, 20, what="first messages delivered")
        proxy.stall()
        fed = _backlog(tags, up, fed)
        proxy.resume()
        wait_until(
            lambda: len(_by_msg_id(rec)) >= fed and up.status()["outbox_depth"] == 0,
            60,
            what=f"all {fed} messages delivered after the link moved again",
        )
        st = up.status()
    finally:
        up.stop()
        proxy.stop()
        rec.stop()
    got = _by_msg_id(rec)
    assert [got[i] for i in sorted(got)] == [float(k) for k in range(1, fed + 1)]
    assert st["sent_unstored"] > MAX_INFLIGHT and up.outbox.stored > 50  # both paths were taken


def test_qos0_unwritten_when_the_link_breaks_is_stored_and_sent_after(mosquitto, tmp_path):  # noqa: F811
    """The link breaks while the window is full of messages paho could not write yet:
    those are stored with their ids and sent, with the rest of the backlog, after the
    reconnect. Only what was already written into the broken socket is lost (QoS 0)."""
    rec = Recorder(mosquitto, "gas/gs1/telemetry").start()
    proxy = TcpProxy((mosquitto.host, mosquitto.port)).start()
    cfg = _wide_station(proxy, 1000, qos=0)
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        proxy.stall()
        fed = _backlog(tags, up, 0)
        held = sorted(up.publisher.inflight.values())  # unwritten: the link does not move
        assert len(held) == MAX_INFLIGHT
        proxy.cut()
        proxy.resume()
        wait_until(
            lambda: float(fed) in _by_msg_id(rec).values() and up.status()["outbox_depth"] == 0,
            60,
            what="the backlog delivered after the reconnect",
        )
        st = up.status()
    finally:
        up.stop()
        proxy.stop()
        rec.stop()
    got = _by_msg_id(rec)
    values = [got[i] for i in sorted(got)]
    assert values == sorted(set(values))  # none twice, in the order fed
    assert held[0] in got, "the first message held in the window was lost"
    k0 = int(got[held[0]])
    # from the first unwritten message on, everything arrived, in id order, as fed
    assert [got[i] for i in sorted(got) if i >= held[0]] == [float(k) for k in range(k0, fed + 1)]
    assert st["sent_unstored"] >= MAX_INFLIGHT
