"""Power loss: SIGKILL a real runtime process while history, alarm journal and outbox write
flat out; every database opens clean, the alarm state is intact, the outbox replays all.

The child (tests/powerloss_writer.py) is a real runtime on the demo station whose devices
are replaced by batches fed through the runtime's driver entry point (what a device would
deliver, only faster than any device). SIGKILL is as close to pulling the plug as a test
can get without a VM: the OS page cache survives, so this shows SQLite's transactions and
the stores' use of them are crash-safe, not that the disk honours fsync.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from hmi.config import load_station
from hmi.core.dbcheck import check_databases
from hmi.core.runtime import Runtime
from tests.helpers import wait_until
from tests.mqtt_broker import MosquittoBroker, Recorder
from tests.stations import demo_station_copy

ROOT = Path(__file__).resolve().parents[2]


def _count(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute(sql).fetchone()[0] or 0)
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_sigkill_while_writing_then_restart(tmp_path):
    st, _ = demo_station_copy(tmp_path, exclude=("opcua.yaml",))
    data = tmp_path / "data"
    out = open(tmp_path / "child.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.powerloss_writer", str(st), str(data)],
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_until(
            lambda: (
                _count(data / "alarms.db", "SELECT count(*) FROM alarm_journal") > 300
                and _count(data / "outbox.db", "SELECT count(*) FROM outbox") > 300
                and _count(data / "history.db", "SELECT count(*) FROM samples") > 3000
            ),
            timeout=90,
            what="all three stores writing",
        )
        proc.send_signal(signal.SIGKILL)  # mid-write: no flush, no close, no clean-stop record
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        out.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (data / "clean-stop.json").exists()

    # every database opens clean: the start-up check (quick_check of each) finds nothing
    assert check_databases(data) == []

    # the alarm state is the last journaled transition of every alarm
    con = sqlite3.connect(data / "alarms.db")
    last = dict(
        con.execute(
            "SELECT alarm_id, state FROM alarm_journal WHERE id IN "
            "(SELECT max(id) FROM alarm_journal GROUP BY alarm_id)"
        ).fetchall()
    )
    states = dict(con.execute("SELECT alarm_id, state FROM alarm_state").fetchall())
    con.close()
    assert len(last) >= 5
    assert {a: states.get(a) for a in last} == last

    # the outbox holds a gap-free run of ids (rows leave only on PUBACK), and replays them all
    con = sqlite3.connect(data / "outbox.db")
    ids = [i for (i,) in con.execute("SELECT id FROM outbox ORDER BY id")]
    con.close()
    assert ids and ids == list(range(ids[0], ids[-1] + 1))
    broker = MosquittoBroker(tmp_path / "mq").start()
    rec = Recorder(broker, "#").start()
    try:
        cfg = load_station(st)
        cfg = cfg.model_copy(
            update={"devices": [d.model_copy(update={"enabled": False}) for d in cfg.devices]}
        )
        up = cfg.uplink.model_copy(
            update={
                "enabled": True,
                "mode": "json",
                "brokers": [
                    cfg.uplink.brokers[0].model_copy(
                        update={"host": broker.host, "port": broker.port}
                    )
                ],
            }
        )
        rt = Runtime(cfg, data, uplink=up)
        assert rt.db_repairs == []
        rt.start()
        try:
            # the alarm engine came back with the same states
            for alarm_id, state in last.items():
                assert rt.alarms.view(alarm_id).state == state, alarm_id
            wait_until(lambda: rt.uplink.outbox.depth == 0, timeout=90, what="outbox replayed")

            def got() -> set[int]:
                return {
                    json.loads(m.payload).get("msg_id")
                    for m in rec.take(lambda m: not m.topic.endswith("/status"))
                    if m.payload.startswith(b"{")
                }

            wait_until(lambda: set(ids) <= got(), timeout=30, what="every stored id received")
        finally:
            rt.stop()
    finally:
        rec.stop()
        broker.stop()
