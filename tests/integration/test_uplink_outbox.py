"""Store-and-forward against a real mosquitto: outage, process kill, fail-over, credentials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hmi.core.secrets import set_secret
from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from tests.helpers import free_port, wait_until
from tests.mqtt_broker import MosquittoBroker, Recorder, feed, mosquitto, sp_payload, uplink_station  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def _pt_values(rec: Recorder, alias: int) -> list[tuple[float, bool]]:
    """(value, is_historical) of every pt.inlet DDATA metric, in arrival order.

    A message the broker itself delivers again to the recorder after its own restart
    (QoS 1 on the broker -> recorder leg, DUP flag set) is not a second publish by the
    uplink, so it is left out.
    """
    out = []
    for msg in rec.on("/DDATA/gs1/plc1"):
        if msg.dup:
            continue
        for m in sp_payload(msg).metrics:
            if m.alias == alias:
                out.append((m.double_value, m.is_historical))
    return out


def test_broker_outage_rows_accumulate_then_replay_in_order_exactly_once(tmp_path):
    broker = MosquittoBroker(tmp_path / "mq", persistent=True).start()
    rec = Recorder(broker, "spBv1.0/#", client_id="outage-recorder", persistent=True).start()
    cfg = uplink_station([broker], "sparkplug")
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    try:
        up.start()
        wait_until(lambda: rec.on("/DBIRTH/gs1/plc1"), 20, what="births")
        alias = next(
            m.alias
            for m in sp_payload(rec.on("/DBIRTH/gs1/plc1")[0]).metrics
            if m.name == "pt.inlet"
        )
        for i in range(10):
            feed(tags, up.on_changes, {"pt.inlet": float(i)})
        # every live row acknowledged before the outage (else it is legitimately sent again)
        wait_until(
            lambda: up.status()["acked"] >= 10 and up.status()["outbox_depth"] == 0,
            20,
            what="live rows acked",
        )
        wait_until(lambda: len(_pt_values(rec, alias)) >= 10, 20, what="live values received")

        broker.stop()
        wait_until(lambda: not up.status()["connected"], 20, what="uplink offline")
        for i in range(10, 60):
            feed(tags, up.on_changes, {"pt.inlet": float(i)})
        wait_until(
            lambda: up.status()["outbox_depth"] >= 50, 20, what="rows stored during the outage"
        )
        assert up.status()["oldest_age"] is not None

        broker.start()
        wait_until(lambda: up.status()["connected"], 40, what="uplink back online")
        for i in range(60, 70):
            feed(tags, up.on_changes, {"pt.inlet": float(i)})
        wait_until(lambda: len(_pt_values(rec, alias)) >= 70, 30, what="70 values")
        wait_until(lambda: up.status()["outbox_depth"] == 0, 20, what="outbox empty")
    finally:
        up.stop()
        rec.stop()
        broker.stop()
    got = _pt_values(rec, alias)
    values = [v for v, _h in got]
    assert sorted(values) == [float(i) for i in range(70)]  # nothing lost, nothing twice
    assert [v for v, h in got if h] == [
        float(i) for i in range(10, 60)
    ]  # replay: creation order, historical
    assert [v for v, h in got if not h] == [float(i) for i in list(range(10)) + list(range(60, 70))]


CHILD = """
import sys, time
from pathlib import Path
from hmi.config.schema import StationConfig
from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from tests.mqtt_broker import feed
cfg = StationConfig.model_validate_json(sys.argv[1])
tags = TagTable(cfg.tags)
up = Uplink(cfg, Path(sys.argv[2]), tags)
up.start()
n = int(sys.argv[3])
for i in range(n):
    feed(tags, up.on_changes, {"pt.inlet": float(i)})
up.on_alarm({"seq": 1, "alarm_id": "pt.inlet.hh", "tag": "pt.inlet", "kind": "HH", "priority": 1, "state": "ACTIVE_UNACK",
             "prev_state": "NORMAL", "transition": "raise", "ts": time.time(), "user": "", "comment": "", "remote": False,
             "message": {"en": "high high", "zh": "高高"}})
deadline = time.monotonic() + 60
while up.status()["outbox_depth"] < n + 1 and time.monotonic() < deadline:
    time.sleep(0.01)
print("STORED", up.status()["outbox_depth"], flush=True)
time.sleep(600)
"""


def test_process_kill_then_reopen_delivers_every_stored_row(tmp_path):
    port = free_port()  # nothing listens yet: the child stores everything
    cfg = uplink_station([("127.0.0.1", port)], "json")
    n = 40
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, cfg.model_dump_json(), str(tmp_path), str(n)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.startswith("STORED"), line
        assert int(line.split()[1]) == n + 1
    finally:
        child.send_signal(
            signal.SIGKILL
        )  # no stop(), no clean-up: a power cut as far as the outbox knows
        child.wait(10)
        if child.stdout:
            child.stdout.close()

    broker = MosquittoBroker(tmp_path / "mq", port=port).start()
    rec = Recorder(broker, "gas/#").start()
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    try:
        assert up.status()["outbox_depth"] == n + 1
        up.start()
        wait_until(
            lambda: up.status()["outbox_depth"] == 0 and up.status()["connected"],
            30,
            what="backlog delivered",
        )
        tel = [json.loads(m.payload) for m in rec.on("gas/gs1/telemetry")]
        alarms = [json.loads(m.payload) for m in rec.on("gas/gs1/alarms")]
    finally:
        up.stop()
        rec.stop()
        broker.stop()
    replayed = [t for t in tel if t["historical"]]
    assert [t["values"][0]["value"] for t in replayed] == [float(i) for i in range(n)]
    ids = [t["msg_id"] for t in replayed] + [a["msg_id"] for a in alarms]
    assert ids == sorted(ids) and len(set(ids)) == n + 1
    assert (
        len(alarms) == 1
        and alarms[0]["historical"] is True
        and alarms[0]["alarm_id"] == "pt.inlet.hh"
    )


def test_fail_over_to_the_next_broker(mosquitto, tmp_path):  # noqa: F811
    dead = ("127.0.0.1", free_port())
    cfg = uplink_station([dead, mosquitto], "json")
    up = Uplink(cfg, tmp_path, TagTable(cfg.tags))
    try:
        up.start()
        wait_until(lambda: up.status()["connected"], 30, what="online on the second broker")
        st = up.status()
        assert st["broker"] == f"127.0.0.1:{mosquitto.port}"
        assert "refused" in st["last_error"] and str(dead[1]) in st["last_error"]
    finally:
        up.stop()


@pytest.fixture
def auth_broker(tmp_path):
    folder = tmp_path / "mq-auth"
    folder.mkdir()
    pw = folder / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(pw), "edge", "s3cret-pw"],
        check=True,
        capture_output=True,
    )
    broker = MosquittoBroker(folder, password_file=pw).start()
    try:
        yield broker
    finally:
        broker.stop()


def test_password_comes_from_the_keyring(auth_broker, tmp_path, keyring_file):
    set_secret("gs1", "mqtt_edge", "s3cret-pw")
    cfg = uplink_station([auth_broker], "json", username="edge", password_secret="mqtt_edge")
    up = Uplink(cfg, tmp_path / "ok", TagTable(cfg.tags))
    try:
        up.start()
        wait_until(lambda: up.status()["connected"], 30, what="authenticated session")
    finally:
        up.stop()


def test_wrong_password_and_missing_secret_give_clear_errors(auth_broker, tmp_path, keyring_file):
    set_secret("gs1", "mqtt_wrong", "not-it")
    cfg = uplink_station([auth_broker], "json", username="edge", password_secret="mqtt_wrong")
    up = Uplink(cfg, tmp_path / "wrong", TagTable(cfg.tags))
    try:
        up.start()
        wait_until(lambda: "refused" in up.status()["last_error"], 30, what="refusal")
        assert not up.status()["connected"]
        assert "not-it" not in up.status()["last_error"]
    finally:
        up.stop()
    cfg = uplink_station([auth_broker], "json", username="edge", password_secret="mqtt_missing")
    up = Uplink(cfg, tmp_path / "missing", TagTable(cfg.tags))
    try:
        up.start()
        wait_until(lambda: up.status()["last_error"], 30, what="missing secret")
        assert (
            "mqtt_missing" in up.status()["last_error"] and "keyring" in up.status()["last_error"]
        )
    finally:
        up.stop()
