"""``gas-hmi demo-fleet``: several simulated stations, a local mosquitto and the dispatch on top.

Offline, one command: a mosquitto on a free loopback port (from the ``mosquitto`` package),
copies of both demo stations — city gates and regulator stations (``gas-hmi demo
--headless`` processes, each with its own station id, device ports, serial bus, scenario
and uplink gated on the dispatch as primary host; one setpoint per station open to remote
writes) — and ``gas-hmi dispatch`` with the GUI (or headless) and a network view of the
demo pipeline. Ctrl-C or closing the window stops all.
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

GATE, REGULATOR = "demo_city_gate", "demo_regulator_station"
#: (station id, English name, Chinese name, scenario, demo station) of the demo instances
GATES = (
    ("gate_north", "North city gate", "北门站", "normal", GATE),
    ("gate_east", "East city gate", "东门站", "gas_leak", GATE),
    ("gate_south", "South city gate", "南门站", "filter_clog", GATE),
    ("gate_west", "West city gate", "西门站", "supply_loss", GATE),
)
REGULATORS = (
    ("reg_central", "Central regulator station", "中心调压站", "normal", REGULATOR),
    ("reg_harbour", "Harbour regulator station", "港区调压站", "outlet_overpressure", REGULATOR),
    ("reg_airport", "Airport regulator station", "机场调压站", "rtu_quality", REGULATOR),
)
#: the set point each demo station accepts remote writes of
REMOTE_WRITE = {GATE: ("odor.dose.setpoint",), REGULATOR: ("reg1.active.setpoint",)}
#: which regulator station each is fed from (network view), by position
FEEDS = {"reg_central": "gate_north", "reg_harbour": "gate_east", "reg_airport": "gate_south"}
HOST_ID = "demo-dispatch"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the demo-fleet command."""
    p = sub.add_parser(
        "demo-fleet", help="simulated stations + local mosquitto + the dispatch console (offline)"
    )
    p.add_argument("--gates", type=int, default=3, help=f"city gate instances, 0 to {len(GATES)}")
    p.add_argument(
        "--regulators",
        type=int,
        default=2,
        help=f"regulator station instances, 0 to {len(REGULATORS)}",
    )
    p.add_argument("--headless", action="store_true")
    p.add_argument("--data-dir", help="default: per-user data folder, demo-fleet/")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds")
    p.set_defaults(func=cmd_demo_fleet)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A private mosquitto on a free loopback port (config in ``folder``): (process, port)."""
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


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, then wait (kill what does not stop within 20 s)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def instances(gates: int, regulators: int) -> list[tuple[str, str, str, str, str]]:
    """The demo instances: the first ``gates`` city gates, then the regulator stations."""
    return [*GATES[: max(0, gates)], *REGULATORS[: max(0, regulators)]]


def pipeline_config(folder: Path, chosen: list[tuple[str, str, str, str, str]]) -> Path:
    """A dispatch.yaml for the network view: the gates, each regulator after its feed."""
    ids = {sid for sid, *_ in chosen}
    lines = ["pipeline:"]
    for sid, en, zh, _scenario, _src in chosen:
        feed = FEEDS.get(sid, "")
        lines.append(
            f"  - {{station: {sid}, name: {{en: {en}, zh: {zh}}}"
            + (f", feeds_from: {feed}}}" if feed in ids else "}")
        )
    path = folder / "dispatch.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_stations(
    chosen: list[tuple[str, str, str, str, str]],
    port: int,
    tmp: Path,
    root: Path,
    primary_host: str = HOST_ID,
    speed: float = 1.0,
) -> list[subprocess.Popen[bytes]]:
    """Start one ``gas-hmi demo --headless`` process (simulator + station) per instance."""
    from hmi import paths
    from hmi.core.fleet.demo import station_instance

    procs: list[subprocess.Popen[bytes]] = []
    root.mkdir(parents=True, exist_ok=True)
    for k, (sid, en, zh, scenario, src) in enumerate(chosen):
        st = station_instance(
            paths.station_configs_dir() / src,
            tmp / sid,
            sid,
            ("127.0.0.1", port),
            name_en=en,
            name_zh=zh,
            primary_host=primary_host,
            keepalive=10,
            port_offset=100 * (k + 1),
            remote_write=REMOTE_WRITE[src],
        )
        log = open(root / f"{sid}.log", "wb")  # noqa: SIM115 - child's output
        cmd = [sys.executable, "-m", "hmi", "demo", "--headless", "--station-dir", str(st)]
        cmd += ["--uplink-on", "--scenario", scenario, "--seed", str(k + 1), "--speed", str(speed)]
        cmd += ["--data-dir", str(root / sid)]
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
        log.close()  # the child holds its own descriptor
        print(f"gas-hmi: station {sid} ({scenario}) starting; log {root / f'{sid}.log'}")
    return procs


def cmd_demo_fleet(args: argparse.Namespace) -> int:
    """Run the fleet demo."""
    from hmi import paths

    chosen = instances(args.gates, args.regulators)
    if not chosen:
        return fail("nothing to run: --gates and --regulators are both 0")
    root = Path(args.data_dir) if args.data_dir else paths.user_data_root() / "demo-fleet"
    root.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="gas-hmi-fleet-") as tmp:
        try:
            broker, port = mosquitto(Path(tmp))
        except OSError as exc:
            return fail(str(exc))
        procs.append(broker)
        try:
            procs += start_stations(chosen, port, Path(tmp), root)
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
                "--config",
                str(pipeline_config(Path(tmp), chosen)),
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
                stop([dispatch])
                return 0
        finally:
            stop(list(reversed(procs)))
