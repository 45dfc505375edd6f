"""One process per station data folder: the OS lock, the activation socket, crash safety.

Real locks on real files in tmp_path, real loopback sockets, real child processes (one is
SIGKILLed to prove that a crash leaves no stale lock). The last test SIGKILLs a headless
runtime polling the simulator and restarts it: history and alarm state survive.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hmi import instance
from hmi.instance import (
    AlreadyRunning,
    StationInstance,
    claim_or_exit,
    is_running,
    read_info,
    request,
)
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}

HOLDER = """
import sys, time
from hmi.instance import StationInstance
inst = StationInstance("st1", sys.argv[1], mode=sys.argv[2]).acquire()
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """A child process holding station st1 in tmp_path/data (headless unless told)."""
    procs: list[subprocess.Popen[str]] = []

    def start(mode: str = "headless") -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(tmp_path / "data"), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        return proc

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=10)


def test_second_claim_in_the_same_process_is_refused_naming_the_pid(tmp_path):
    with StationInstance("st1", tmp_path, mode="headless") as first:
        assert first.port > 0
        with pytest.raises(AlreadyRunning) as err:
            StationInstance("st1", tmp_path).acquire()
        assert err.value.info["pid"] == os.getpid()
        assert f"PID {os.getpid()}, headless" in str(err.value)
        assert is_running(tmp_path)["pid"] == os.getpid()
        assert instance.current() is first
    # released: the info file is gone, the next claim works
    assert is_running(tmp_path) is None
    assert read_info(tmp_path) == {}
    assert instance.current() is None
    StationInstance("st1", tmp_path).acquire().release()


def test_activation_runs_the_callbacks_and_needs_the_token(tmp_path):
    seen: list[dict] = []
    got = threading.Event()

    def cb(msg: dict) -> None:
        seen.append(msg)
        got.set()

    instance.on_activate(cb)
    try:
        with StationInstance("st1", tmp_path, mode="gui") as first:
            info = read_info(tmp_path)
            assert info["port"] == first.port and info["mode"] == "gui"
            assert (
                oct(os.stat(tmp_path / instance.INFO_FILE).st_mode & 0o777) == "0o600"
            )  # holds the token
            reply = request(info, "activate")
            assert reply == {"pid": os.getpid(), "mode": "gui", "activated": True}
            assert got.wait(5) and seen[0]["pid"] == os.getpid()
            # a client without the token gets nothing and triggers nothing
            with pytest.raises((OSError, ValueError)):
                request({**info, "token": "wrong"}, "activate")
            assert request(info, "ping")["pid"] == os.getpid()
            assert first.activations == 1 and len(seen) == 1
    finally:
        instance.remove_activate(cb)


def test_gui_after_gui_brings_the_first_forward_and_exits_0(tmp_path, capsys):
    got = threading.Event()

    def cb(_msg: dict) -> None:
        got.set()

    instance.on_activate(cb)
    try:
        with StationInstance("st1", tmp_path, mode="gui"):
            with pytest.raises(SystemExit) as ex:
                claim_or_exit("st1", tmp_path, gui=True)
            assert ex.value.code == 0
            assert got.wait(5)
            assert "brought its window to the front" in capsys.readouterr().err
    finally:
        instance.remove_activate(cb)


def test_headless_next_to_a_running_station_exits_1_naming_its_pid(tmp_path, holder, capsys):
    proc = holder("headless")
    for gui in (False, True):  # the HMI cannot attach to a headless service either
        with pytest.raises(SystemExit) as ex:
            claim_or_exit("st1", tmp_path / "data", gui=gui)
        assert ex.value.code == 1
        err = capsys.readouterr().err
        assert f"station st1 is already running (PID {proc.pid}, headless" in err
        assert "Stop it first" in err and "Traceback" not in err


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, holder):
    proc = holder("gui")
    assert is_running(tmp_path / "data")["pid"] == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # its info file is still there, but the kernel dropped the lock with the process
    assert read_info(tmp_path / "data")["pid"] == proc.pid
    assert is_running(tmp_path / "data") is None
    with StationInstance("st1", tmp_path / "data") as again:
        assert read_info(tmp_path / "data")["pid"] == os.getpid()
        assert again.mode == "headless"


def test_unreachable_gui_holder_is_reported_not_a_traceback(tmp_path, capsys, monkeypatch):
    with StationInstance("st1", tmp_path, mode="gui"):
        # the holder's socket vanished (e.g. hung): point the info at a closed port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead_port = s.getsockname()[1]
        info = json.loads((tmp_path / instance.INFO_FILE).read_text())
        (tmp_path / instance.INFO_FILE).write_text(json.dumps({**info, "port": dead_port}))
        with pytest.raises(SystemExit) as ex:
            claim_or_exit("st1", tmp_path, gui=True)
        assert ex.value.code == 1
        assert "did not answer" in capsys.readouterr().err


def test_unwritable_data_folder_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as ex:
        claim_or_exit("st1", blocker / "data", gui=False)
    assert ex.value.code == 1
    assert "cannot claim the data folder" in capsys.readouterr().err


# ---------------------------------------------------------------------- crash-safe restart
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi", *args], capture_output=True, text=True, timeout=60, env=ENV
    )


def _json(*args: str) -> object:
    r = _cli(*args, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _samples(data: Path) -> list[tuple[int, int, float, int]]:
    """Every (tag id, ts ms, value, quality) row of history.db, read-only; [] before it exists."""
    path = data / "history.db"
    if not path.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(
                "SELECT tag_id, ts, value, quality FROM samples ORDER BY tag_id, ts"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # the schema is being created
        return []


def _gd_alarm(data: Path) -> dict | None:
    r = _cli("alarms", "--data-dir", str(data), "--format", "json")
    if r.returncode != 0:
        return None
    return next(
        (a for a in json.loads(r.stdout) if a["kind"] == "comm" and "gd" in a["alarm_id"]), None
    )


def test_sigkilled_headless_runtime_restarts_with_history_and_alarm_state(tmp_path):
    """kill -9 in the middle of polling: the restart keeps every flushed sample and the
    unacknowledged alarm (same activation time, not raised anew), and polls on."""
    from hmi.cli.simulate import start_simulator_thread
    from hmi.config import load_station
    from tests.stations import demo_station_copy

    st, _ports = demo_station_copy(tmp_path, exclude=("opcua.yaml",))
    cfg = load_station(st)
    # the gas-detection controller is not served: its comm-loss alarm (on-delay 5 s) stays active
    served = cfg.model_copy(update={"devices": [d for d in cfg.devices if d.id != "gd"]})
    sim = start_simulator_thread(served, seed=5)
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "hmi", "run", str(st), "--headless", "--data-dir", str(data)]
    first = second = None
    # output to files: a pipe nobody reads would block the runtime once full
    logs = [(tmp_path / "first.err").open("w"), (tmp_path / "second.err").open("w")]
    try:
        first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logs[0], env=ENV)
        wait_until(
            lambda: len(_samples(data)) >= 200, timeout=120, interval=0.5, what="samples in history"
        )
        alarm = wait_until(
            lambda: _gd_alarm(data), timeout=120, interval=0.5, what="gd comm-loss alarm"
        )
        assert alarm["state"] == "ACTIVE_UNACK"
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
        before = _samples(data)
        killed_at = max(r[1] for r in before)
        # the killed process's lock on the data folder died with it
        assert is_running(data) is None

        second = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logs[1], env=ENV)
        wait_until(
            lambda: sum(r[1] > killed_at and r[3] == 192 for r in _samples(data)) >= 50,
            timeout=120,
            interval=0.5,
            what="GOOD samples after the restart",
        )
        after = set(_samples(data))
        assert set(before) <= after  # nothing flushed before the kill was lost or changed
        again = _gd_alarm(data)
        assert again is not None and again["state"] == "ACTIVE_UNACK"
        assert again["active_since"] == alarm["active_since"]  # the same alarm, not a new one
        second.send_signal(signal.SIGTERM)
        code = second.wait(60)
        err = (tmp_path / "second.err").read_text()
        assert code == 0, err
        assert "runtime stopped" in err and "Traceback" not in err
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(30)
        for f in logs:
            f.close()
        sim.stop()
