"""Acquisition benchmark: requests per scan, runtime tags/s against bare pymodbus, historian.

Prints, in one run:

1. **Requests per scan** of the demo station (``station_configs/demo_city_gate``, its Modbus
   devices): for every device and poll group the blocks :func:`~drivers.modbus.planner.plan_blocks`
   makes, the optimum :func:`~drivers.modbus.planner.minimum_requests` computes independently,
   the running driver's ``diag.requests_per_scan`` and the request rate actually measured on
   the wire (``diag.requests``) against the rate the plan implies.
2. **Tags/s** of the real :class:`~hmi.core.runtime.Runtime` (drivers + tag table + historian +
   alarms) against a bare ``AsyncModbusTcpClient`` loop per device reading the planner's
   blocks back-to-back. A generated station (``bench/gen_station.py``) is served by the
   simulator in a separate process (``python -m hmi simulate``), so the server's CPU is not
   counted; the two phases alternate ``--rounds`` times and the medians are compared.
3. **Historian** insert rate and 30-day query time, by the functions of
   ``bench/bench_historian.py`` (``--skip-historian`` leaves it out).

``python -m bench.bench_acquisition`` (about 2 min), ``--quick`` (about 1 min).
Nothing is asserted: the figures and ratios go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/bench_acquisition.py
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.gen_station import generate_station  # noqa: E402
from drivers.modbus.address import ModbusAddress, parse_address  # noqa: E402
from drivers.modbus.planner import Block, minimum_requests, plan_blocks  # noqa: E402
from hmi.config.loader import load_station  # noqa: E402
from hmi.config.schema import ModbusDevice, StationConfig  # noqa: E402
from tests.helpers import free_port  # noqa: E402

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- helpers (also bench_scale)
def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports."""
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class SimulatorProcess:
    """``python -m hmi simulate DIR`` in a child process, until every Modbus port listens."""

    def __init__(
        self, station_dir: Path, ports: list[int], log_file: Path, timeout: float = 120.0
    ) -> None:
        self.station_dir, self.ports, self.log_file, self.timeout = (
            station_dir,
            ports,
            log_file,
            timeout,
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    def __enter__(self) -> SimulatorProcess:
        out = self.log_file.open("wb")
        cmd = [sys.executable, "-m", "hmi", "simulate", str(self.station_dir)]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=child_env()
        )
        out.close()
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + self.timeout
        while not all(_listening(p) for p in self.ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(
                    f"the simulator did not start serving ports {self.ports}:\n{tail}"
                )
            time.sleep(0.2)
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the simulator has used so far."""
        assert self.ps is not None
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def __exit__(self, *exc: object) -> None:
        stop_process(self.proc)
        self.proc = None


def child_env() -> dict[str, str]:
    """Environment for child processes: the repository importable, quiet logs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 20.0) -> None:
    """SIGTERM (a clean stop that flushes), then SIGKILL if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def modbus_plan(cfg: StationConfig) -> dict[tuple[str, float], tuple[int, list[Block], int]]:
    """(device, poll period) -> (tags, planner blocks, minimum requests), as the driver plans them."""
    out: dict[tuple[str, float], tuple[int, list[Block], int]] = {}
    for dev in cfg.devices:
        if not isinstance(dev, ModbusDevice) or not dev.enabled:
            continue
        groups: dict[float, list[tuple[str, ModbusAddress]]] = {}
        for t in cfg.tags_of(dev.id):
            addr = parse_address(t.address)
            if not dev.zero_based:
                addr = replace(addr, offset=addr.offset - 1)
            groups.setdefault(cfg.poll_period(t), []).append((t.name, addr))
        limits = dict(max_registers=dev.max_registers, max_bits=dev.max_bits,
                      max_gap_registers=dev.max_gap_registers, max_gap_bits=dev.max_gap_bits)  # fmt: skip
        for period, pts in sorted(groups.items()):
            out[(dev.id, period)] = (
                len(pts),
                plan_blocks(pts, **limits),
                minimum_requests(pts, **limits),
            )
    return out


def _wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _all_up(rt: Any) -> bool:
    return all(d["state"] == "up" for d in rt.device_diagnostics())


# ---------------------------------------------------------------------- 1. requests per scan
def bench_requests(work: Path, window: float) -> None:
    """Figure 1: planner blocks vs the optimum vs what the running driver sends."""
    from hmi.core.runtime import Runtime
    from tests.stations import demo_station_copy

    station, ports = demo_station_copy(work, exclude=("opcua.yaml",))
    cfg = load_station(station)
    plan = modbus_plan(cfg)
    with SimulatorProcess(station, list(ports.values()), work / "sim_demo.log"):
        rt = Runtime(cfg, work / "data_demo")
        rt.start()
        try:
            _wait(lambda: _all_up(rt), 60, "every demo device up")
            time.sleep(1.0)
            r0 = {d.device_id: d.diag.requests for d in rt.drivers.values()}
            t0 = time.monotonic()
            time.sleep(window)
            dt = time.monotonic() - t0
            modbus = {dev for dev, _period in plan}
            diag = {d.device_id: (d.diag.requests - r0[d.device_id], d.diag.requests_per_scan, d.diag.timeouts)
                    for d in rt.drivers.values() if d.device_id in modbus}  # fmt: skip
        finally:
            rt.stop()
    print(f"1. requests per scan, demo station (Modbus devices), measured over {dt:.0f} s")
    print(f"   {'device':<6} {'group':>6} {'tags':>5} {'planner':>8} {'minimum':>8}")
    total_plan = total_min = 0
    expected: dict[str, float] = {}
    for (dev, period), (n, blocks, best) in plan.items():
        total_plan += len(blocks)
        total_min += best
        expected[dev] = expected.get(dev, 0.0) + len(blocks) / period
        print(f"   {dev:<6} {period:>5g}s {n:>5} {len(blocks):>8} {best:>8}")
    print(
        f"   {'all':<6} {'':>6} {'':>5} {total_plan:>8} {total_min:>8}   (planner/minimum {total_plan / total_min:.2f})"
    )
    print(
        f"   {'device':<6} {'driver requests_per_scan':>25} {'requests/s measured':>20} {'plan implies':>13} {'timeouts':>9}"
    )
    for dev, (reqs, per_scan, timeouts) in diag.items():
        print(
            f"   {dev:<6} {per_scan:>25} {reqs / dt:>20.2f} {expected.get(dev, 0.0):>13.2f} {timeouts:>9}"
        )
    driver_total = sum(per_scan for _r, per_scan, _t in diag.values())
    print(
        f"   driver total {driver_total} requests per scan of every group, minimum {total_min}: "
        f"{'equal' if driver_total == total_min else 'NOT equal'} (target: equal)"
    )


# ---------------------------------------------------------------------- 2. tags/s vs bare pymodbus
async def _bare_device(
    dev: ModbusDevice, blocks: list[Block], stop: asyncio.Event, out: list[int]
) -> None:
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient(dev.host, port=dev.port, timeout=5.0, retries=0)
    if not await client.connect():
        raise RuntimeError(f"bare client cannot connect to {dev.host}:{dev.port}")
    read = {"co": client.read_coils, "di": client.read_discrete_inputs,
            "ir": client.read_input_registers, "hr": client.read_holding_registers}  # fmt: skip
    calls = [(read[b.table], b.start, b.count, len(b.points)) for b in blocks]
    try:
        while not stop.is_set():
            for fn, start, count, n in calls:
                reply = await fn(start, count=count, device_id=dev.unit_id)
                if reply.isError():
                    raise RuntimeError(f"bare read failed: {reply}")
                out[0] += n
    finally:
        client.close()


class Window:
    """Rate and CPU of one measuring window: this process and the simulator, from its start."""

    def __init__(self, sim: SimulatorProcess) -> None:
        self.sim = sim
        self.t0 = self.c0 = self.s0 = 0.0
        self.rate = self.cpu = self.sim_cpu = 0.0

    def begin(self) -> None:
        """Start the window."""
        self.t0, self.c0, self.s0 = time.perf_counter(), time.process_time(), self.sim.cpu_seconds()

    def end(self, count: float) -> None:
        """End it with ``count`` items done: items/s, CPU share of one core of both processes."""
        wall = time.perf_counter() - self.t0
        self.rate = count / wall
        self.cpu = (time.process_time() - self.c0) / wall
        self.sim_cpu = (self.sim.cpu_seconds() - self.s0) / wall

    @property
    def us_per_item(self) -> float:
        """CPU microseconds of this process per item (robust to other load on the machine)."""
        return self.cpu / self.rate * 1e6 if self.rate else float("nan")


def run_bare(cfg: StationConfig, w: Window, seconds: float, warmup: float = 1.0) -> None:
    """Points read per second by one bare pymodbus client per device, blocks back-to-back."""
    plan = modbus_plan(cfg)

    async def main() -> None:
        stop = asyncio.Event()
        counter = [0]
        tasks = []
        for dev in cfg.devices:
            blocks = [b for (d, _p), (_n, bl, _m) in plan.items() if d == dev.id for b in bl]
            tasks.append(asyncio.create_task(_bare_device(dev, blocks, stop, counter)))  # type: ignore[arg-type]
        await asyncio.sleep(warmup)
        n0 = counter[0]
        w.begin()
        await asyncio.sleep(seconds)
        w.end(counter[0] - n0)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())


def run_runtime(
    cfg: StationConfig, data_dir: Path, w: Window, seconds: float, warmup: float = 2.0
) -> dict[str, Any]:
    """Samples per second through the real Runtime (history and alarms on); returns its stats."""
    from hmi.core.runtime import Runtime

    rt = Runtime(cfg, data_dir)
    rt.start()
    try:
        _wait(lambda: _all_up(rt), 60, "every device up")
        time.sleep(warmup)
        s0 = rt.stats["samples"]
        w.begin()
        time.sleep(seconds)
        w.end(rt.stats["samples"] - s0)
        return rt.runtime_stats()
    finally:
        rt.stop()


def bench_throughput(
    work: Path, n_tags: int, n_devices: int, seconds: float, rounds: int, period: float
) -> None:
    """Figure 2: runtime samples/s against bare pymodbus points/s, alternating, medians."""
    ports = free_ports(n_devices)
    station = generate_station(work / "gen", n_tags, n_devices, ports=ports, period=0.05)
    cfg = load_station(station)
    # 0.05 s is the smallest period a config may hold, and a scan here is shorter than that;
    # the driver's floor (1 ms) makes its scans run back-to-back like the bare loop
    for dev in cfg.devices:
        for name in dev.poll_groups:
            dev.poll_groups[name] = period
    plan = modbus_plan(cfg).values()
    n_req, n_min = sum(len(b) for _n, b, _m in plan), sum(m for _n, _b, m in plan)
    print(
        f"\n2. tags/s: {n_tags:,} float32 tags on {n_devices} devices, {n_req} read requests per round "
        f"(minimum {n_min}), "
        f"{rounds} x {seconds:g} s per phase, poll period {period:g} s"
    )
    bare: list[Window] = []
    rtw: list[Window] = []
    with SimulatorProcess(station, ports, work / "sim_gen.log") as sim:
        for r in range(rounds):
            w = Window(sim)
            run_bare(cfg, w, seconds)
            bare.append(w)
            print(
                f"   round {r + 1}: bare pymodbus {w.rate:>9,.0f} points/s   {w.us_per_item:5.2f} µs CPU each "
                f"(client {w.cpu:4.0%} of a core, simulator {w.sim_cpu:4.0%})"
            )
            w = Window(sim)
            data = work / f"data_rt{r}"
            st = run_runtime(cfg, data, w, seconds)
            rtw.append(w)
            hist = st["historian"]
            print(
                f"   round {r + 1}: Runtime       {w.rate:>9,.0f} samples/s  {w.us_per_item:5.2f} µs CPU each "
                f"(process {w.cpu:4.0%}, simulator {w.sim_cpu:4.0%}; historian {hist['rows_written']:,} samples "
                f"+ {hist['current_rows_written']:,} current rows, queue {hist['queue_depth']}, dropped {hist['dropped']})"
            )
            shutil.rmtree(data, ignore_errors=True)
    mb, mr = statistics.median(w.rate for w in bare), statistics.median(w.rate for w in rtw)
    cb, cr = (
        statistics.median(w.us_per_item for w in bare),
        statistics.median(w.us_per_item for w in rtw),
    )
    print(
        f"   median: bare {mb:,.0f} points/s, Runtime {mr:,.0f} samples/s: ratio {mr / mb:.2f} (target >= 0.8)"
    )
    print(
        f"   median CPU per tag read: bare {cb:.2f} µs, Runtime {cr:.2f} µs (tag table, alarms, history included): "
        f"{cr / cb:.2f}x"
    )


# ---------------------------------------------------------------------- 3. historian
def bench_historian(work: Path, insert: int, days: float) -> None:
    """Figure 3: the historian benchmark's own functions (insert rate, 30-day query)."""
    from bench import bench_historian as bh

    print("\n3. historian (bench/bench_historian.py functions)")
    bh.bench_insert(work, insert)
    start, end = bh.build(work / "query.db", days, 1)
    bh.bench_queries(work / "query.db", start, end, 2000)


def main(argv: list[str] | None = None) -> int:
    """Entry point (``python -m bench.bench_acquisition --help``)."""
    ap = argparse.ArgumentParser(prog="bench_acquisition", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short run (about 1 min)")
    ap.add_argument(
        "--window",
        type=float,
        default=10.0,
        help="seconds of request counting (10 = one cycle of 1/5/10 s groups)",
    )
    ap.add_argument(
        "--tags", type=int, default=10_000, help="tags of the generated station for tags/s"
    )
    ap.add_argument("--devices", type=int, default=10, help="devices of the generated station")
    ap.add_argument(
        "--seconds", type=float, default=None, help="seconds per throughput phase (10; quick 3)"
    )
    ap.add_argument(
        "--rounds", type=int, default=None, help="bare/runtime alternations (3; quick 2)"
    )
    ap.add_argument(
        "--period", type=float, default=0.001, help="poll period of the runtime phase (s)"
    )
    ap.add_argument(
        "--insert",
        type=int,
        default=None,
        help="historian insert samples (1,000,000; quick 200,000)",
    )
    ap.add_argument(
        "--days", type=float, default=30.0, help="days of 1 s history for the query figure"
    )
    ap.add_argument("--skip-historian", action="store_true", help="leave out figure 3")
    a = ap.parse_args(argv)
    seconds = a.seconds or (3.0 if a.quick else 10.0)
    rounds = a.rounds or (2 if a.quick else 3)
    insert = a.insert or (200_000 if a.quick else 1_000_000)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}"
    )
    work = Path(tempfile.mkdtemp(prefix="bench_acquisition_"))
    try:
        bench_requests(work, a.window)
        bench_throughput(work, a.tags, a.devices, seconds, rounds, a.period)
        if not a.skip_historian:
            bench_historian(work, insert, a.days)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
