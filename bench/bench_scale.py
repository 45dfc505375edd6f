"""Scale benchmark: the headless runtime of a 10,000-tag station, CPU and memory.

``bench/gen_station.py`` writes a station of ``--tags`` float32 tags on ``--devices`` Modbus
devices (history on change, an H alarm on every tenth tag), polled every ``--period``
seconds. The simulator serves it in one child process (``python -m hmi simulate``); the
runtime runs in another (``python -m hmi run DIR --headless --no-uplink --data-dir D``:
drivers, tag table, historian and alarms, no uplink, no GUI). After ``--warmup`` seconds
the runtime's CPU (% of one core) and RSS are sampled with psutil every second for
``--seconds`` seconds; the simulator's CPU is printed for context.

Targets (issue): mean CPU < 12 % of one core, RSS < 160 MB.

``python -m bench.bench_scale`` (about 2 min), ``--quick`` (about 1 min),
``--profile FILE`` records the runtime with py-spy (if installed) during the sampling and
prints where its CPU goes. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/bench_scale.py
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.bench_acquisition import ROOT as REPO  # noqa: E402
from bench.bench_acquisition import SimulatorProcess, child_env, free_ports, stop_process  # noqa: E402
from bench.gen_station import generate_station  # noqa: E402

READY = "running headless"
#: py-spy stacks are put in these buckets by the first frame that matches
THREADS = (
    ("acquisition (drivers, tag table, alarms)", "Runtime._thread_main"),
    ("historian writer", "Writer._run"),
    ("alarm journal", "AlarmJournal._run"),
    ("start-up / main thread", "<module>"),
)


def _p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def _start_runtime(
    station: Path, data: Path, log_file: Path, timeout: float
) -> tuple[subprocess.Popen[bytes], float, float]:
    """Start ``hmi run --headless``; wait for its ready line; (process, start-up s, RSS MB then)."""
    cmd = [
        sys.executable,
        "-m",
        "hmi",
        "run",
        str(station),
        "--headless",
        "--no-uplink",
        "--data-dir",
        str(data),
    ]
    t0 = time.monotonic()
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=child_env()
        )
    deadline = t0 + timeout
    while READY not in log_file.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(
                f"the runtime did not start:\n{log_file.read_text(errors='replace')[-2000:]}"
            )
        time.sleep(0.2)
    return proc, time.monotonic() - t0, psutil.Process(proc.pid).memory_info().rss / 2**20


def _sample(
    rt: psutil.Process, sim: psutil.Process, seconds: float
) -> tuple[list[float], list[float], list[float]]:
    """CPU % of one core of runtime and simulator, and runtime RSS (MB), once a second."""
    cpu: list[float] = []
    scpu: list[float] = []
    rss: list[float] = []
    rt.cpu_percent(None)
    sim.cpu_percent(None)
    next_t = time.monotonic()
    end = next_t + seconds
    while True:
        next_t += 1.0
        if next_t > end + 1e-6:
            break
        time.sleep(max(0.0, next_t - time.monotonic()))
        cpu.append(rt.cpu_percent(None))
        scpu.append(sim.cpu_percent(None))
        rss.append(rt.memory_info().rss / 2**20)
    return cpu, scpu, rss


def _py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def _print_profile(raw: Path, top: int = 15) -> None:
    """Where the sampled CPU went: per thread, then per function (inclusive, line numbers dropped)."""
    per_thread: Counter[str] = Counter()
    per_fn: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not n_text.isdigit():
            continue
        n = int(n_text)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        per_thread[
            next((name for name, key in THREADS if any(key in f for f in frames)), "other")
        ] += n
        for f in set(frames):
            per_fn[f] += n
    if not total:
        print("   (py-spy recorded no samples)")
        return
    print(f"   py-spy: {total} active samples; share per thread:")
    for name, n in per_thread.most_common():
        print(f"     {n / total:6.1%}  {name}")
    print("   inclusive share per function (top):")
    skip = ("threading.py", "asyncio/events.py", "asyncio/base_events.py", "<module>")
    for fn, n in [(f, n) for f, n in per_fn.most_common() if not any(s in f for s in skip)][:top]:
        print(f"     {n / total:6.1%}  {fn[:110]}")


def _history_rate(db: Path, seconds: float) -> str:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            n, span = con.execute(
                "SELECT count(*), (max(ts) - min(ts)) / 1000.0 FROM samples"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f"history not readable: {exc}"
    return f"{n:,} samples stored over {span or 0:.0f} s ({n / max(span or 1, 1):,.0f} samples/s)"


def main(argv: list[str] | None = None) -> int:
    """Entry point (``python -m bench.bench_scale --help``)."""
    ap = argparse.ArgumentParser(prog="bench_scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 s of sampling after a 5 s warm-up")
    ap.add_argument("--tags", type=int, default=10_000)
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--period", type=float, default=1.0, help="poll period (s)")
    ap.add_argument("--seconds", type=float, default=None, help="sampling time (60; quick 20)")
    ap.add_argument(
        "--warmup", type=float, default=None, help="seconds before sampling (10; quick 5)"
    )
    ap.add_argument(
        "--flush-interval",
        type=float,
        default=None,
        help="historian flush_interval for this station (default: the product default)",
    )
    ap.add_argument(
        "--profile", type=Path, default=None, help="record py-spy raw stacks here (needs py-spy)"
    )
    ap.add_argument("--dir", type=Path, default=None, help="keep station, data and logs here")
    a = ap.parse_args(argv)
    seconds = a.seconds or (20.0 if a.quick else 60.0)
    warmup = a.warmup if a.warmup is not None else (5.0 if a.quick else 10.0)
    logging.basicConfig(level=logging.WARNING)
    work = a.dir or Path(tempfile.mkdtemp(prefix="bench_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}"
    )
    try:
        ports = free_ports(a.devices)
        t0 = time.monotonic()
        hist = (
            None
            if a.flush_interval is None
            else {"flush_interval": a.flush_interval, "batch_size": 100_000}
        )
        station = generate_station(
            work / "station", a.tags, a.devices, ports=ports, period=a.period, historian=hist
        )
        print(
            f"station: {a.tags:,} tags on {a.devices} devices, polled every {a.period:g} s"
            + (f", historian {hist}" if hist else "")
            + f" (generated in {time.monotonic() - t0:.1f} s)"
        )
        data = work / "data"
        shutil.rmtree(data, ignore_errors=True)
        with SimulatorProcess(station, ports, work / "simulator.log") as sim:
            assert sim.ps is not None
            proc, started, rss0 = _start_runtime(station, data, work / "runtime.log", 180.0)
            try:
                print(
                    f"runtime: ready {started:.1f} s after launch, RSS {rss0:.0f} MB then; "
                    f"warm-up {warmup:g} s, then {seconds:g} samples at 1 s"
                )
                time.sleep(warmup)
                spy = None
                if a.profile is not None:
                    exe = _py_spy()
                    if exe is None:
                        print("   py-spy is not installed (pip install py-spy): no profile")
                    else:
                        spy = subprocess.Popen(
                            [exe, "record", "-p", str(proc.pid), "-d", str(int(seconds)), "-r", "100",
                             "-f", "raw", "-o", str(a.profile), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        )  # fmt: skip
                cpu, scpu, rss = _sample(psutil.Process(proc.pid), sim.ps, seconds)
                if spy is not None:
                    spy.wait(30)
            finally:
                t_stop = time.monotonic()
                stop_process(proc, 60.0)
                stopped = time.monotonic() - t_stop
        print(
            f"runtime CPU, % of one core: mean {statistics.fmean(cpu):.1f}  p95 {_p95(cpu):.1f}  "
            f"max {max(cpu):.1f}   (target mean < 12)"
        )
        print(
            f"runtime RSS: max {max(rss):.0f} MB, first {rss[0]:.0f} MB, last {rss[-1]:.0f} MB   (target < 160)"
        )
        print(
            f"simulator CPU, % of one core (context, not counted): mean {statistics.fmean(scpu):.1f}  p95 {_p95(scpu):.1f}"
        )
        print(
            f"history: {_history_rate(data / 'history.db', seconds)}; clean stop took {stopped:.1f} s "
            f"(exit code {proc.returncode})"
        )
        problems = [ln for ln in (work / "runtime.log").read_text(errors="replace").splitlines()
                    if " WARNING " in ln or " ERROR " in ln]  # fmt: skip
        print(
            f"runtime log: {len(problems)} warning/error lines"
            + (f", first: {problems[0][:160]}" if problems else "")
        )
        if a.profile is not None and a.profile.exists():
            _print_profile(a.profile)
    finally:
        if a.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
