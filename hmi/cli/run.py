"""``gas-hmi run`` (headless edge service or HMI) and ``gas-hmi demo``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from hmi.cli._common import data_dir_for, load_or_exit

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the run and demo commands."""
    p = sub.add_parser(
        "run", help="run a station: poll, historize, alarm, forward (GUI unless --headless)"
    )
    p.add_argument("station_dir")
    p.add_argument("--headless", action="store_true", help="no GUI: run as an edge service")
    p.add_argument(
        "--data-dir", help="history, alarms, outbox, users (default: per-user data folder)"
    )
    p.add_argument(
        "--uplink",
        metavar="URL",
        help="override the broker for this run: mqtt://HOST:PORT or mqtts://",
    )
    p.add_argument(
        "--uplink-mode", choices=("sparkplug", "json"), help="override the uplink payload mode"
    )
    p.add_argument("--no-uplink", action="store_true", help="do not forward to MQTT in this run")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("demo", help="run the simulated demo station with the HMI (offline)")
    p.add_argument(
        "--scenario", default="normal", help="simulator scenario (normal, gas_leak, ...)"
    )
    p.add_argument(
        "--station",
        help="station config folder (default: station_configs/demo_city_gate)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--headless", action="store_true")
    p.add_argument("--data-dir")
    p.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="stop after this many seconds (0 = until closed)",
    )
    # the fleet demo runs copies of the demo station with their own ids, uplink on
    p.add_argument("--station-dir", help=argparse.SUPPRESS)
    p.add_argument("--uplink-on", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_demo)


def _uplink_config(cfg: Any, args: argparse.Namespace) -> Any:
    if getattr(args, "no_uplink", False):
        return cfg.uplink.model_copy(update={"enabled": False})
    if not (args.uplink or args.uplink_mode):
        return None
    from hmi.core.uplink import override_uplink

    return override_uplink(cfg.uplink, args.uplink, args.uplink_mode)


def has_display() -> bool:
    """True when a GUI can open (a display, or an explicit Qt platform such as offscreen)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _start_runtime(cfg: Any, data_dir: Path, uplink: Any = None) -> Any:
    from hmi.core.alarms import AlarmStoreError
    from hmi.core.historian import HistorianError
    from hmi.core.runtime import Runtime, RuntimeError_
    from hmi.core.secrets import SecretError

    try:
        rt = Runtime(cfg, data_dir, uplink=uplink)
        rt.start()
    except (RuntimeError_, SecretError, HistorianError, AlarmStoreError, OSError) as exc:
        print(f"gas-hmi: cannot start station {cfg.station.id}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    return rt


def wait_for_signal(duration: float = 0.0) -> None:
    """Block until SIGINT/SIGTERM (or ``duration`` seconds when > 0)."""
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait(duration if duration > 0 else None)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _run_headless(rt: Any, duration: float = 0.0) -> int:
    print(
        f"gas-hmi: station {rt.cfg.station.id} running headless: {rt.tags.n} tags, "
        f"{len(rt.drivers)} devices, data in {rt.data_dir}. Ctrl-C or SIGTERM stops.",
        flush=True,
    )
    try:
        wait_for_signal(duration)
    finally:
        rt.stop()
    return 0


def _run_gui(rt: Any, demo: bool = False, simulator: Any = None) -> int:
    try:
        from hmi.ui.app import run_gui
    except ImportError as exc:
        rt.stop()
        print(f"gas-hmi: the HMI cannot start ({exc}); use --headless", file=sys.stderr)
        return 1
    try:
        return int(run_gui(rt, demo=demo, simulator=simulator) or 0)
    finally:
        rt.stop()


def _gui_ready() -> bool:
    """Create the QApplication before anything else starts.

    If Qt cannot load its platform plugin it aborts the process; doing this first means
    nothing (runtime, simulator) is left half-started when it does.
    """
    try:
        from hmi.ui.app import create_app
    except ImportError as exc:
        print(f"gas-hmi: the HMI cannot start ({exc}); use --headless", file=sys.stderr)
        return False
    create_app()
    return True


def cmd_run(args: argparse.Namespace) -> int:
    """Run one station."""
    cfg = load_or_exit(args.station_dir)
    data_dir = data_dir_for(cfg, args.data_dir)
    gui = not args.headless and has_display()
    if not args.headless and not gui:
        print(
            "gas-hmi: no display found: running headless (set DISPLAY, or pass --headless)",
            file=sys.stderr,
        )
    from hmi.instance import station_session

    # one process per station data folder (a second HMI launch raises the first window);
    # the log rotates in <data_dir>/logs
    with station_session(cfg.station.id, data_dir, gui=gui):
        if gui and not _gui_ready():
            return 1
        rt = _start_runtime(cfg, data_dir, _uplink_config(cfg, args))
        return _run_gui(rt) if gui else _run_headless(rt)


def cmd_demo(args: argparse.Namespace) -> int:
    """Simulator + runtime + HMI for the demo station, offline."""
    from hmi import paths

    station_dir = paths.station_configs_dir() / "demo_city_gate"
    if getattr(args, "station_dir", None):
        station_dir = Path(args.station_dir)
    if getattr(args, "station", None):
        station_dir = Path(args.station)
    cfg = load_or_exit(str(station_dir))
    data_dir = (
        Path(args.data_dir) if args.data_dir else paths.user_data_root() / "demo" / cfg.station.id
    )
    gui = not args.headless and has_display()
    if not args.headless and not gui:
        print(
            "gas-hmi: no display found: the demo runs headless (set DISPLAY for the HMI)",
            file=sys.stderr,
        )
    from hmi.instance import station_session

    with station_session(cfg.station.id, data_dir, gui=gui):
        if gui and not _gui_ready():
            return 1
        return _demo(args, cfg, data_dir, gui)


def _demo(args: argparse.Namespace, cfg: Any, data_dir: Path, gui: bool) -> int:
    from hmi.cli.simulate import start_simulator_thread

    prepare_demo_credentials(cfg, data_dir)
    try:
        sim = start_simulator_thread(
            cfg,
            scenario=args.scenario,
            seed=args.seed,
            speed=args.speed,
            pki_root=data_dir / "sim-pki",
        )
    except (OSError, ValueError) as exc:
        print(f"gas-hmi: cannot start the simulator: {exc}", file=sys.stderr)
        return 1
    trust_simulated_servers(sim, data_dir)
    print(f"gas-hmi: simulator running scenario {args.scenario!r}; data in {data_dir}", flush=True)
    try:
        uplink = None if getattr(args, "uplink_on", False) else {"enabled": False}
        rt = _start_runtime(cfg, data_dir, uplink and cfg.uplink.model_copy(update=uplink))
        return _run_gui(rt, demo=True, simulator=sim) if gui else _run_headless(rt, args.duration)
    finally:
        sim.stop()


def prepare_demo_credentials(cfg: Any, data_dir: Path) -> None:
    """Give the offline demo its own throwaway keyring with the simulated devices' passwords.

    The demo must start on a fresh machine with no keyring service. Its credentials protect
    nothing but the simulator, so they live in a plain file keyring inside the demo data
    dir; the operator's real keyring is never touched. A real station stores its secrets
    with ``gas-hmi secrets set`` in the OS keyring.
    """
    import secrets as pysecrets

    import keyring
    from keyrings.alt.file import PlaintextKeyring

    from hmi.core.secrets import SecretError, get_secret, set_secret

    data_dir.mkdir(parents=True, exist_ok=True)
    kr = PlaintextKeyring()
    kr.file_path = str(data_dir / "demo-keyring.cfg")  # instance override of the default path
    keyring.set_keyring(kr)
    for d in cfg.devices:
        name = getattr(d, "password_secret", "")
        if not name:
            continue
        try:
            get_secret(cfg.station.id, name)
        except SecretError:
            set_secret(cfg.station.id, name, pysecrets.token_urlsafe(16))


def trust_simulated_servers(sim: Any, data_dir: Path) -> None:
    """Put the simulated OPC UA servers' certificates into the runtime's trust lists (demo only)."""
    from drivers.opcua.certs import CertStore

    for dev_id, server in getattr(getattr(sim, "simulator", sim), "servers", {}).items():
        der = getattr(server, "server_certificate", None)
        if der is None:
            continue
        cert = der() if callable(der) else der
        CertStore(data_dir / "pki" / dev_id).trust(cert)
