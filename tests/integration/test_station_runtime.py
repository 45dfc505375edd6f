"""The data path end to end: simulated station -> drivers -> tag table -> historian.

Real pymodbus and asyncua servers (the simulator) on free loopback ports, the real runtime,
a real history.db. The OPC UA device runs secured, with its password in a file keyring
(the only backend a headless box has) and its certificate trusted as an engineer would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from drivers.base import Quality
from hmi.cli.run import prepare_demo_credentials, trust_simulated_servers
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.config.schema import HistorianConfig
from hmi.core.historian import Historian
from hmi.core.runtime import Runtime
from tests.helpers import wait_until
from tests.stations import demo_station_copy

GOOD = int(Quality.GOOD)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    root = tmp_path_factory.mktemp("station")
    st, ports = demo_station_copy(root)
    cfg = load_station(st)
    data = root / "data"
    prepare_demo_credentials(cfg, data)
    return cfg, data, st


def _all_good(rt: Runtime) -> bool:
    """Every tag of a field device GOOD (system tags such as early warnings may rightly be
    UNCERTAIN until they have enough history to judge)."""
    field = [
        rt.tags.index[t.name] for t in rt.cfg.tags if rt.cfg.device(t.device).protocol != "system"
    ]
    return bool((rt.tags.quality[field] == GOOD).all())


def test_every_tag_good_in_history_then_bad_and_back(station):
    cfg, data, _ = station
    t0 = time.time()  # OPC UA samples carry the server's source time, which may predate the runtime
    sim = start_simulator_thread(cfg, seed=3, pki_root=data / "sim-pki")
    try:
        trust_simulated_servers(sim, data)
        rt = Runtime(cfg, data)
        rt.start()
        try:
            wait_until(lambda: _all_good(rt), timeout=30, what="every tag GOOD")
            # a few more scans, then everything must be on disk
            wait_until(lambda: rt.stats["batches"] > 60, timeout=20, what="scans")
            assert rt.historian.flush(10)
            now = time.time() + 1
            for t in cfg.tags:
                if (
                    t.type == "string"
                    or t.history.mode == "none"
                    or cfg.device(t.device).protocol == "system"
                ):
                    continue
                d = rt.historian.raw(t.name, t0 - 1, now)
                good = d.quality == GOOD
                assert good.any(), (
                    f"{t.name}: no GOOD sample in history: {list(zip(d.ts, d.value, d.quality, strict=True))[:10]} "
                    f"t0={t0} now={now} tag={rt.tags.get(t.name)}"
                )
                lo, hi = t.range
                span = hi - lo
                vals = d.value[good]
                assert np.all((vals >= lo - 0.1 * span) & (vals <= hi + 0.1 * span)), (
                    f"{t.name}: implausible {vals}"
                )
            modbus = [
                rt.tags.index[t.name]
                for t in cfg.tags
                if cfg.device(t.device).protocol == "modbus_tcp"
            ]
            periods = [rt.tags.poll_period[i] for i in modbus]

            # the simulator goes away: every Modbus tag BAD within 3 poll periods (plus grace for a
            # loaded CI machine), with a reason
            sim.stop()
            t_stop = time.monotonic()
            wait_until(
                lambda: (rt.tags.quality[modbus] == 0).all(),
                timeout=3 * max(periods) + 5,
                what="tags BAD",
            )
            took = time.monotonic() - t_stop
            assert all(rt.tags.reasons[i] for i in modbus)
            print(
                f"all Modbus tags BAD {took:.2f} s after the simulator stopped (poll {max(periods):g} s)"
            )

            # the simulator comes back on the same ports: GOOD again without restarting the runtime
            sim = start_simulator_thread(cfg, seed=3, pki_root=data / "sim-pki")
            wait_until(lambda: _all_good(rt), timeout=60, what="every tag GOOD again")
            diags = {d["device_id"]: d for d in rt.device_diagnostics()}
            assert (
                diags["plc"]["state"] == "up"
                and diags["plc"]["errors"] > 0
                and diags["plc"]["reconnects"] >= 1
            )
        finally:
            rt.stop()
    finally:
        sim.stop()


def _gas_hmi(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_headless_cli_polls_flushes_on_sigterm_and_exports(station, tmp_path):
    cfg, data, st = station
    # the headless service without the OPC UA device: its keyring lives in the demo data dir
    os.remove(st / "opcua.yaml") if (st / "opcua.yaml").exists() else None
    cfg = load_station(st)
    sim = start_simulator_thread(cfg, seed=4)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # a last value of a tag stored before its history mode became none: dropped at start
    unstored = sorted(t.name for t in cfg.tags if t.history.mode == "none")
    out.mkdir()
    old = Historian(out / "history.db", HistorianConfig(flush_interval=0.1))
    old.start()
    old.write_current(old.tag_ids(unstored[:1]), [time.time() - 3600], np.array([7.0]), [192], [""])
    assert old.flush() and unstored[0] in old.latest()
    old.close()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hmi", "run", str(st), "--headless", "--data-dir", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            wait_until(lambda: (out / "history.db").exists(), timeout=30, what="history.db")

            def snapshot_all_good() -> bool:
                r = _gas_hmi("snapshot", "--data-dir", str(out), "--format", "json", env=env)
                if r.returncode != 0:
                    return False
                field = {t.name for t in cfg.tags if cfg.device(t.device).protocol != "system"}
                assert set(unstored) & field, "the demo has field tags kept out of history"
                snap[:] = json.loads(r.stdout)
                rows = [x for x in snap if x["tag"] in field - set(unstored)]
                return len(rows) == len(field - set(unstored)) and all(
                    x["quality"] == "GOOD" for x in rows
                )

            snap: list[dict] = []
            wait_until(
                snapshot_all_good, timeout=40, interval=0.5, what="snapshot with every tag GOOD"
            )
            # history mode none: neither samples nor a last value in history.db, not even
            # the one stored before (dropped when the runtime started)
            assert not set(unstored) & {x["tag"] for x in snap}
        finally:
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
        assert "running headless" in stdout
        assert "runtime stopped" in stderr
        assert "Traceback" not in stderr
        # a device state change is logged once, not every poll
        assert stderr.count("device plc connecting -> up") == 1
    finally:
        sim.stop()

    r = _gas_hmi(
        "history",
        "outlet.pressure",
        "--data-dir",
        str(out),
        "--since",
        "10m",
        "--format",
        "json",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    samples = json.loads(r.stdout)["samples"]
    assert samples and all(s["quality"] == "GOOD" for s in samples[:-1])
    assert 0.3 < samples[0]["value"] < 0.5  # medium-A outlet held by the regulators
    r = _gas_hmi("history", "no.such.tag", "--data-dir", str(out), env=env)
    assert r.returncode == 1 and "no history for tag 'no.such.tag'" in r.stderr
    csv_out = tmp_path / "t.csv"
    r = _gas_hmi(
        "trend-export",
        "inlet.pressure",
        "outlet.pressure",
        "--data-dir",
        str(out),
        "--since",
        "1h",
        "--out",
        str(csv_out),
        env=env,
    )
    assert r.returncode == 0, r.stderr
    lines = csv_out.read_text().splitlines()
    assert lines[0] == "timestamp,time,tag,value,quality" and len(lines) > 2
    assert {ln.split(",")[2] for ln in lines[1:]} == {"inlet.pressure", "outlet.pressure"}
