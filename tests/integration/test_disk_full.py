"""Disk full during operation: historian and outbox keep what they have, alarm, and resume.

Real runtime polling the real simulated PLC (Modbus TCP on a free loopback port), the
uplink enabled towards a loopback port where no broker listens (so every message stays in
the outbox), the data folder on a small tmpfs that this test mounts (root only; a skip says
so otherwise) and then fills to the last byte with a filler file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import pytest

from drivers.base import Quality
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core.runtime import Runtime
from tests.helpers import free_port, wait_until
from tests.stations import demo_station_copy

GOOD = int(Quality.GOOD)


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root (run the suite as root to test disk full)")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): no way to fill a disk safely")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path) -> None:
    """Write until the file system says ENOSPC."""
    block = b"\0" * (64 * 1024)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass


def _rows(db, table: str) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def test_disk_full_then_space_returns(small_disk, tmp_path):
    st, _ = demo_station_copy(tmp_path, exclude=("opcua.yaml",))
    cfg = load_station(st)
    up = cfg.uplink.model_copy(
        update={
            "enabled": True,
            "brokers": [cfg.uplink.brokers[0].model_copy(update={"port": free_port()})],
        }
    )
    data = small_disk / "data"
    sim = start_simulator_thread(cfg, seed=6)
    rt = Runtime(cfg, data, uplink=up)
    rt.start()
    try:
        plc = [rt.tags.index[t.name] for t in cfg.tags if t.device == "plc"]
        wait_until(lambda: (rt.tags.quality[plc] == GOOD).all(), timeout=30, what="PLC tags GOOD")
        wait_until(lambda: rt.uplink.outbox.depth > 0, timeout=20, what="outbox rows")
        assert rt.historian.flush(10)
        before_hist = _rows(data / "history.db", "samples")
        before_box = rt.uplink.outbox.depth
        assert before_hist > 0 and before_box > 0

        _fill(small_disk / "filler")
        wait_until(
            lambda: (
                rt.alarms.view("system.disk.history").condition
                and rt.alarms.view("system.disk.outbox").condition
            ),
            timeout=60,
            what="both disk alarms",
        )
        view = rt.alarms.view("system.disk.history")
        assert view.priority == 2 and "history.db" in view.message_en
        # the live process goes on: fresh values, GOOD, while nothing can be written
        seq = rt.tags.seq
        wait_until(lambda: rt.tags.seq > seq + 5, timeout=10, what="scans while the disk is full")
        assert (rt.tags.quality[plc] == GOOD).all()
        assert rt.historian.stats()["failing"]
        assert rt.uplink.outbox.depth >= before_box  # nothing stored was given up

        os.remove(small_disk / "filler")  # space returns
        wait_until(
            lambda: (
                not rt.alarms.view("system.disk.history").condition
                and not rt.alarms.view("system.disk.outbox").condition
            ),
            timeout=90,
            what="disk alarms cleared by themselves",
        )
        assert rt.historian.flush(30)
        assert _rows(data / "history.db", "samples") > before_hist
        assert rt.uplink.outbox.depth > before_box
    finally:
        rt.stop()
        sim.stop()
    assert _rows(data / "history.db", "samples") > before_hist
