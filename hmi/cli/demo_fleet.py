"""``gas-hmi demo-fleet``: several simulated stations, a local mosquitto and the dispatch on top.

Offline, one command: a mosquitto on a free loopback port (from the ``mosquitto`` package),
N copies of the demo city gate (``gas-hmi demo --headless`` processes, each with its own
station id, device ports, scenario and uplink gated on the dispatch as primary host), and
``gas-hmi dispatch`` with the GUI (or headless). Ctrl-C or closing the window stops all.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hmi.cli._common import fail

#: (station id, English name, Chinese name, scenario) of the demo instances
INSTANCES = (
    ("gate_north", "North city gate", "北门站", "normal"),
    ("gate_east", "East city gate", "东门站", "gas_leak"),
    ("gate_south", "South city gate", "南门站", "filter_clog"),
    ("gate_west", "West city gate", "西门站", "supply_loss"),
)
HOST_ID = "demo-dispatch"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the demo-fleet command."""
    p = sub.add_parser(
        "demo-fleet", help="simulated stations + local mosquitto + the dispatch console (offline)"
    )
    p.add_argument("--stations", type=int, default=3, help=f"1 to {len(INSTANCES)}")
    p.add_argument("--headless", action="store_true")
    p.add_argument("--data-dir", help="default: per-user data folder, demo-fleet/")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds")
    p.set_defaults(func=cmd_demo_fleet)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mosquitto(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
    port = _free_port()
    conf = folder / "mosquitto.conf"
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"  # as root it would switch users
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n{user}"
        "max_queued_messages 100000\npersistence false\n"
    )
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise OSError(f"mosquitto did not start on port {port}")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def cmd_demo_fleet(args: argparse.Namespace) -> int:
    """Run the fleet demo."""
    from hmi import paths
    from hmi.core.fleet.demo import station_instance

    n = max(1, min(args.stations, len(INSTANCES)))
    root = Path(args.data_dir) if args.data_dir else paths.user_data_root() / "demo-fleet"
    root.mkdir(parents=True, exist_ok=True)
    src = paths.station_configs_dir() / "demo_city_gate"
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="gas-hmi-fleet-") as tmp:
        try:
            broker, port = _mosquitto(Path(tmp))
        except OSError as exc:
            return fail(str(exc))
        procs.append(broker)
        try:
            for k, (sid, en, zh, scenario) in enumerate(INSTANCES[:n]):
                st = station_instance(
                    src,
                    Path(tmp) / sid,
                    sid,
                    ("127.0.0.1", port),
                    name_en=en,
                    name_zh=zh,
                    primary_host=HOST_ID,
                    keepalive=10,
                    port_offset=100 * (k + 1),
                )
                log = open(root / f"{sid}.log", "wb")  # noqa: SIM115 - child's output
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "hmi",
                            "demo",
                            "--headless",
                            "--station-dir",
                            str(st),
                            "--uplink-on",
                            "--scenario",
                            scenario,
                            "--seed",
                            str(k + 1),
                            "--data-dir",
                            str(root / sid),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
                print(f"gas-hmi: station {sid} ({scenario}) starting; log {root / f'{sid}.log'}")
            cmd = [
                sys.executable,
                "-m",
                "hmi",
                "dispatch",
                "--broker",
                f"mqtt://127.0.0.1:{port}",
                "--host-id",
                HOST_ID,
                "--data-dir",
                str(root / "dispatch"),
                "--stale-after",
                "60",
            ]
            if args.headless:
                cmd.append("--headless")
            if args.duration:
                cmd += ["--duration", str(args.duration)]
            print(f"gas-hmi: dispatch console on mqtt://127.0.0.1:{port}", flush=True)
            dispatch = subprocess.Popen(cmd)
            try:
                return dispatch.wait()
            except KeyboardInterrupt:
                _stop([dispatch])
                return 0
        finally:
            _stop(list(reversed(procs)))
