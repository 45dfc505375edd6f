"""End to end: `gas-hmi run --headless` polls the simulated demo station while the broker is
down for 60 s, and the runtime is SIGKILLed and restarted in the middle of the outage.
Every message the outbox ever held reaches the broker; nothing is sent twice except what
was in flight when the broker went away (QoS 1)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from tests.helpers import wait_until
from tests.mqtt_broker import MosquittoBroker, Recorder
from tests.stations import demo_station_copy

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
OUTAGE = 60.0  # s the broker is down


def _outbox(data: Path) -> tuple[int, int]:
    """(rows waiting, highest id ever) of the runtime's outbox (read while it runs: WAL)."""
    path = data / "outbox.db"
    if not path.exists():
        return 0, 0
    con = sqlite3.connect(path, timeout=10)
    try:
        n = con.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return int(n), int(row[0]) if row else 0
    except sqlite3.OperationalError:  # tables not created yet
        return 0, 0
    finally:
        con.close()


def _received(rec: Recorder) -> list[dict]:
    """Every JSON message with a msg_id, in arrival order (broker-side redeliveries left out)."""
    out = []
    for m in rec.take(
        lambda m: not m.dup and not m.topic.endswith("/status") and "/meta" not in m.topic
    ):
        out.append({**json.loads(m.payload), "_topic": m.topic})
    return out


def test_broker_outage_and_runtime_kill_lose_nothing(tmp_path):
    station_dir, _ports = demo_station_copy(tmp_path, exclude=("opcua.yaml",))
    cfg = load_station(station_dir)
    data = tmp_path / "data"
    broker = MosquittoBroker(tmp_path / "mq", persistent=True).start()
    rec = Recorder(broker, "gas/#", client_id="outage-recorder", persistent=True).start()
    sim = start_simulator_thread(cfg)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs: list = []

    def launch() -> subprocess.Popen:
        log = open(tmp_path / f"runtime{len(logs)}.log", "w")  # noqa: SIM115 - closed at the end
        logs.append(log)
        cmd = [
            sys.executable,
            "-m",
            "hmi",
            "run",
            str(station_dir),
            "--headless",
            "--data-dir",
            str(data),
            "--uplink",
            broker.url,
            "--uplink-mode",
            "json",
        ]
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    rt = launch()
    try:
        wait_until(
            lambda: sum(not m.get("integrity", True) for m in _received(rec)) >= 10,
            60,
            what="live telemetry",
        )
        wait_until(lambda: _outbox(data)[0] < 50, 30, what="a steady outbox")
        broker.stop()
        t0 = time.monotonic()
        before_ids = {m["msg_id"] for m in _received(rec)}
        # halfway through the outage: power cut of the station PC (rows are in the outbox)
        wait_until(
            lambda: time.monotonic() - t0 > OUTAGE / 2 and _outbox(data)[0] > 50,
            OUTAGE,
            0.5,
            "rows stored",
        )
        rt.send_signal(signal.SIGKILL)
        rt.wait(10)
        stored_at_kill = _outbox(data)[1]
        rt = launch()
        wait_until(
            lambda: time.monotonic() - t0 > OUTAGE and _outbox(data)[1] > stored_at_kill + 20,
            OUTAGE + 30,
            0.5,
            "restarted runtime storing",
        )
        last_id_offline = _outbox(data)[1]
        broker.start()
        wait_until(
            lambda: (
                {m["msg_id"] for m in _received(rec)}
                >= set(range(min(before_ids), last_id_offline + 1))
            ),
            90,
            0.2,
            "every stored message delivered",
        )
        assert rt.poll() is None, "the runtime died"
    finally:
        if rt.poll() is None:
            rt.terminate()
            try:
                rt.wait(30)
            except subprocess.TimeoutExpired:
                rt.kill()
                rt.wait(10)
        sim.stop()
        rec.stop()
        broker.stop()
        for log in logs:
            log.close()

    got = _received(rec)
    ids = [m["msg_id"] for m in got]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert dupes <= before_ids, (
        f"sent twice though not in flight at the outage: {sorted(dupes - before_ids)[:10]}"
    )
    outage_ids = [
        m["msg_id"]
        for m in got
        if min(before_ids) <= m["msg_id"] <= last_id_offline and m["msg_id"] not in before_ids
    ]
    assert outage_ids, "nothing was stored during the outage"
    outage_set = set(outage_ids)
    hist = [m for m in got if m["msg_id"] in outage_set]
    assert all(m["historical"] for m in hist)
    assert [m["msg_id"] for m in hist] == sorted(
        m["msg_id"] for m in hist
    )  # replay order == creation order
    # telemetry from both runtime processes covers the outage (source timestamps inside it)
    tel_ts = sorted(
        v["ts"]
        for m in hist
        if m["_topic"].endswith("/telemetry")
        for v in m["values"]
        if v["quality"] == 192
    )
    assert tel_ts and tel_ts[-1] - tel_ts[0] > OUTAGE * 0.8
