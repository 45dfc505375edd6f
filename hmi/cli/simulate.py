"""``gas-hmi simulate``: serve a station's devices from the simulated gas station.

Turns a loaded station config into the simulator's plain specs (the simulator never
imports ``hmi``), prints the served endpoints and the scenario's timeline, and runs
until SIGINT/SIGTERM or ``--duration``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from hmi.cli._common import load_or_exit
from hmi.config import StationConfig

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the simulate command."""
    from drivers.sim.scenarios import SCENARIOS

    p = sub.add_parser(
        "simulate",
        help="serve a station's devices from the simulated gas station (Modbus TCP / OPC UA)",
    )
    p.add_argument("station_dir", nargs="?", help="station config directory")
    p.add_argument(
        "--scenario", default="normal", help=f"one of: {', '.join(SCENARIOS)} (default normal)"
    )
    p.add_argument(
        "--scenario-file",
        action="append",
        default=[],
        metavar="YAML",
        help="a drill written as a YAML timeline (docs/SIMULATOR.md); select it with --scenario",
    )
    p.add_argument(
        "--list-scenarios",
        action="store_true",
        help="print every scenario with its description in zh and en, and exit",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same run)")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="model time runs this many times faster than real time",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="stop after this many seconds (0 = until Ctrl-C)",
    )
    p.add_argument(
        "--comms-device",
        help="device that drops off in the comms_loss scenario (default: the second one)",
    )
    p.set_defaults(func=cmd_simulate)


def _host_port(endpoint: str) -> tuple[str, int]:
    url = urlparse(endpoint)
    return url.hostname or "127.0.0.1", url.port or 4840


def specs_from_config(
    cfg: StationConfig, pki_root: Path | None = None
) -> tuple[list[Any], list[Any]]:
    """(devices, points) for the simulator from a loaded station config (enabled devices only).

    A simulated OPC UA device gets its account's password from the station's keyring secret
    (so the runtime's real credentials work against it) and keeps its server certificate in
    ``pki_root/<device>`` when given (stable across restarts, so it can be trusted once).
    """
    from drivers.sim.spec import SimDeviceSpec, SimPointSpec
    from hmi.core.secrets import SecretError, get_secret

    devices = []
    for d in cfg.devices:
        if not d.enabled or d.protocol in ("system", "calc"):  # the runtime's own: nothing to serve
            continue
        params = d.driver_params()
        if d.protocol == "opcua":
            if pki_root is not None:
                params["pki_dir"] = str(pki_root / d.id)
            if d.password_secret:
                try:
                    params["password"] = get_secret(cfg.station.id, d.password_secret)
                except SecretError as exc:
                    log.warning("simulated device %s: %s", d.id, exc)
        if d.protocol in ("modbus_tcp", "modbus_rtu_over_tcp"):
            devices.append(SimDeviceSpec(d.id, d.protocol, d.host, d.port, d.unit_id, params))
        elif d.protocol == "modbus_rtu":
            devices.append(SimDeviceSpec(d.id, d.protocol, "", 0, d.unit_id, params))
        elif d.protocol in ("s7", "iec104"):
            devices.append(SimDeviceSpec(d.id, d.protocol, d.host, d.port, 0, params))
        else:
            host, port = _host_port(getattr(d, "endpoint", ""))
            devices.append(SimDeviceSpec(d.id, d.protocol, host, port, 0, params))
    enabled = {d.id for d in devices}
    points = []
    for t in cfg.tags:
        if t.device not in enabled:
            continue
        gain, offset = t.gain_offset()
        points.append(
            SimPointSpec(
                name=t.name,
                device=t.device,
                address=t.address,
                source=t.sim,
                gain=gain,
                offset=offset,
                type=t.type,
                writable=t.access == "rw",
                options=dict(t.options),
            )
        )
    return devices, points


def start_simulator_thread(
    cfg: StationConfig,
    scenario: str = "normal",
    seed: int = 0,
    speed: float = 1.0,
    start_time: float | None = None,
    comms_device: str | None = None,
    pki_root: Path | None = None,
) -> Any:
    """Start the simulator for ``cfg`` in its own thread (returns a started ``SimulatorThread``).

    Raises ValueError for a bad scenario/tag source and OSError when a port is taken.
    """
    from drivers.sim.runner import SimulatorThread

    devices, points = specs_from_config(cfg, pki_root)
    sim = SimulatorThread(
        devices,
        points,
        scenario=scenario,
        seed=seed,
        speed=speed,
        start_time=start_time,
        comms_device=comms_device,
        params={**cfg.protection.sim_params(), **cfg.simulation.model_params()},
    )
    return sim.start()


def _print_banner(sim: Any, cfg: StationConfig, args: argparse.Namespace) -> None:
    from drivers.sim.scenarios import SCENARIOS

    print(
        f"gas-hmi simulate: station {cfg.station.id}, scenario {args.scenario}, seed {args.seed}, speed x{args.speed:g}"
    )
    for dev_id, server in sim.servers.items():
        n = len(getattr(server, "points", []))
        print(f"  {dev_id:<12} {server.device.endpoint}  ({n} points)")
    print()
    print(f"scenario {args.scenario} (model seconds; divide by {args.speed:g} for wall time):")
    cls = SCENARIOS[args.scenario]
    for line in cls.timeline().splitlines():
        print("  " + line)
    expected, _possible = cls.alarms_for(cfg.station.id)
    if expected:
        print(f"  expected alarms: {', '.join(expected)}")
    if args.scenario == "comms_loss":
        print(f"  comms-loss device: {sim.comms_device}")
    print("\nCtrl-C or SIGTERM stops.", flush=True)


async def _run(cfg: StationConfig, args: argparse.Namespace) -> int:
    from drivers.sim.runner import Simulator

    devices, points = specs_from_config(cfg)
    try:
        sim = Simulator(
            devices,
            points,
            scenario=args.scenario,
            seed=args.seed,
            speed=args.speed,
            comms_device=args.comms_device,
            params={**cfg.protection.sim_params(), **cfg.simulation.model_params()},
        )
    except ValueError as exc:
        print(f"gas-hmi simulate: {exc}", file=sys.stderr)
        return 2
    try:
        await sim.start()
    except OSError as exc:
        print(f"gas-hmi simulate: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(s, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            signal.signal(s, lambda *_: loop.call_soon_threadsafe(stop.set))
    try:
        _print_banner(sim, cfg, args)
        if args.duration > 0:
            try:
                await asyncio.wait_for(stop.wait(), args.duration)
            except TimeoutError:
                pass
        else:
            await stop.wait()
    finally:
        await sim.stop()
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(s)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
    print("gas-hmi simulate: stopped", flush=True)
    return 0


def list_scenarios() -> str:
    """Every scenario: name, suggested speed, expected alarms, one line in zh and one in en."""
    from drivers.sim.scenarios import SCENARIOS

    out = [f"{len(SCENARIOS)} scenarios (name, suggested speed, alarms it raises):", ""]
    for name, cls in SCENARIOS.items():
        alarms = ", ".join(cls.expected_alarms) or "-"
        out.append(f"{name}  (x{cls.speed:g}; {alarms})")
        out.append(f"    {cls.summary('zh')}")
        out.append(f"    {cls.summary('en')}")
    return "\n".join(out)


def _load_scenario_files(paths: list[str]) -> bool:
    from drivers.sim.scenarios import register_timeline_file
    from drivers.sim.timeline import TimelineError

    for path in paths:
        try:
            register_timeline_file(path)
        except TimelineError as exc:
            print(f"gas-hmi simulate: {exc}", file=sys.stderr)
            return False
    return True


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run the simulator in the foreground."""
    if not _load_scenario_files(args.scenario_file):
        return 2
    if args.list_scenarios:
        print(list_scenarios())
        return 0
    if not args.station_dir:
        print("gas-hmi simulate: give the station config directory", file=sys.stderr)
        return 2
    if args.speed <= 0:
        print("gas-hmi simulate: --speed must be > 0", file=sys.stderr)
        return 2
    cfg = load_or_exit(args.station_dir)
    return asyncio.run(_run(cfg, args))
