"""S7 benchmark: tags/s read by the S7 driver against a bare python-snap7 loop on the same areas.

One run prints:

1. **The plan**: ranges and requests per scan the planner makes for the layout at the PDU
   size the server grants, against the lower bound any packing could reach.
2. **Tags/s**: the :class:`~drivers.s7.driver.S7Driver` (planner, executor thread, decoding
   into float64 batches, GOOD batches counted in the sink) polling with a 1 ms period,
   against two bare loops with a stock ``snap7.Client`` on the same data: ``db_read`` of each
   whole DB (the library splits it per PDU) plus one ``struct.unpack`` per DB, and
   ``read_multi_vars`` of the planner's ranges (the library's own optimizer packs them).
   The phases alternate ``--rounds`` times; medians and the ratio to the faster bare loop.

The server is python-snap7's own ``snap7.Server`` in a child process (``--serve``), so its
CPU is not counted against either side. ``python -m bench.bench_s7`` (about 1 min),
``--quick`` (about 20 s). Nothing is asserted: figures go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/bench_s7.py
    sys.path.insert(0, str(ROOT))

import snap7  # noqa: E402
from snap7.type import Area, SrvArea  # noqa: E402

from drivers.base import Batch, PointSpec, Quality  # noqa: E402
from drivers.s7.address import parse_address  # noqa: E402
from drivers.s7.driver import S7Driver  # noqa: E402
from drivers.s7.planner import lower_bound, plan  # noqa: E402
from tests.helpers import free_port  # noqa: E402


def layout(dbs: int, reals: int) -> list[str]:
    """``reals`` REAL tags in each of ``dbs`` data blocks (DB1..), back to back."""
    return [f"DB{db}.DBD{4 * i}:real" for db in range(1, dbs + 1) for i in range(reals)]


def serve(port: int, dbs: int, reals: int) -> None:
    """The child: a snap7 server with the DBs filled with distinct REALs, until killed."""
    server = snap7.Server(log=False)
    keep = []
    for db in range(1, dbs + 1):
        data = bytearray(struct.pack(f">{reals}f", *[db + i / 1000 for i in range(reals)]))
        keep.append(data)
        server.register_area(SrvArea.DB, db, data)
    server.start_to("127.0.0.1", port)
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def start_server(port: int, dbs: int, reals: int) -> subprocess.Popen[str]:
    """Start the child server and wait until it listens."""
    cmd = [sys.executable, "-m", "bench.bench_s7", "--serve", str(port)]
    cmd += ["--dbs", str(dbs), "--reals", str(reals)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the S7 server child did not start")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the S7 server child does not listen on {port}")


def bare_db_read(port: int, dbs: int, reals: int, seconds: float) -> tuple[float, float]:
    """Tags/s of a stock client reading every whole DB and unpacking it."""
    client = snap7.Client()
    client.connect("127.0.0.1", 0, 1, tcp_port=port)
    fmt = struct.Struct(f">{reals}f")
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        while time.perf_counter() - t0 < seconds:
            for db in range(1, dbs + 1):
                n += len(fmt.unpack(client.db_read(db, 0, 4 * reals)))
    finally:
        client.disconnect()
    return n / (time.perf_counter() - t0), (time.process_time() - c0) / max(n, 1) * 1e6


def bare_multi(port: int, addresses: list[str], seconds: float) -> tuple[float, float]:
    """Tags/s of a stock client reading the planner's ranges with read_multi_vars (20 a call)."""
    client = snap7.Client()
    client.connect("127.0.0.1", 0, 1, tcp_port=port)
    ranges, _ = plan([parse_address(a) for a in addresses], pdu_size=client.pdu_length)
    items = [{"area": Area.DB, "db_number": r.db, "start": r.start, "size": r.size} for r in ranges]
    calls = [items[i : i + 20] for i in range(0, len(items), 20)]
    formats = [struct.Struct(f">{r.size // 4}f") for r in ranges]
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        while time.perf_counter() - t0 < seconds:
            k = 0
            for call in calls:
                _code, results = client.read_multi_vars(call)
                for data in results:
                    n += len(formats[k].unpack(bytes(data)))
                    k += 1
    finally:
        client.disconnect()
    return n / (time.perf_counter() - t0), (time.process_time() - c0) / max(n, 1) * 1e6


async def driver_rate(
    port: int, addresses: list[str], seconds: float
) -> tuple[float, float, dict[str, Any]]:
    """Tags/s the driver delivers GOOD to its sink, polling with a 1 ms period."""
    counted = [0]

    def sink(batch: Batch) -> None:
        if isinstance(batch.quality, int) and batch.quality == Quality.GOOD:
            counted[0] += len(batch.indices)

    points = [PointSpec(i, f"t{i}", a, 0.001) for i, a in enumerate(addresses)]
    params = {"port": port, "timeout": 2.0, "poll_groups": {"default": 0.05}}
    drv = S7Driver("bench", params, points, sink)
    await drv.start()
    try:
        deadline = time.monotonic() + 10
        while counted[0] == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        counted[0] = 0
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        rate = counted[0] / (time.perf_counter() - t0)
        cpu = (time.process_time() - c0) / max(counted[0], 1) * 1e6
    finally:
        await drv.stop()
    return rate, cpu, drv.diagnostics().as_dict()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring); return 0."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--dbs", type=int, default=10, help="data blocks (10)")
    ap.add_argument("--reals", type=int, default=1000, help="REAL tags per data block (1000)")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of one phase (5 s)")
    ap.add_argument("--rounds", type=int, default=3, help="alternations of the phases (3)")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 2 s")
    ap.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.dbs, args.reals)
        return 0
    if args.quick:
        args.seconds, args.rounds = 2.0, 2
    logging.basicConfig(level=logging.WARNING)
    addresses = layout(args.dbs, args.reals)
    port = free_port()
    proc = start_server(port, args.dbs, args.reals)
    try:
        probe = snap7.Client()
        probe.connect("127.0.0.1", 0, 1, tcp_port=port)
        pdu = probe.pdu_length
        probe.disconnect()
        ranges, requests = plan([parse_address(a) for a in addresses], pdu_size=pdu)
        print(f"layout: {len(addresses)} REAL tags in {args.dbs} DBs; PDU granted {pdu}")
        print(
            f"plan: {len(ranges)} ranges, {len(requests)} requests per scan "
            f"(lower bound {lower_bound(ranges, pdu_size=pdu)})"
        )
        names = ("driver", "bare db_read", "bare read_multi_vars")
        rows: dict[str, list[float]] = {k: [] for k in names}
        cpu: dict[str, list[float]] = {k: [] for k in names}
        diag: dict[str, Any] = {}
        for r in range(args.rounds):
            for name, fn in (
                ("bare db_read", lambda: bare_db_read(port, args.dbs, args.reals, args.seconds)),
                ("bare read_multi_vars", lambda: bare_multi(port, addresses, args.seconds)),
            ):
                rate, per_tag = fn()
                rows[name].append(rate)
                cpu[name].append(per_tag)
            rate, per_tag, diag = asyncio.run(driver_rate(port, addresses, args.seconds))
            rows["driver"].append(rate)
            cpu["driver"].append(per_tag)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rows.items()))
        med = {k: statistics.median(v) for k, v in rows.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        best = max(("bare db_read", "bare read_multi_vars"), key=lambda k: med[k])
        print("medians:                tags/s   client CPU per tag")
        for k in names:
            print(f"  {k:22s} {med[k]:10,.0f}   {med_cpu[k]:6.2f} us")
        print(
            f"ratio driver / best bare loop ({best}): {med['driver'] / med[best]:.2f} (target >= 0.8)"
        )
        print(f"CPU per tag, driver / {best}: {med_cpu['driver'] / med_cpu[best]:.2f}")
        print(
            f"driver: requests_per_scan {diag.get('requests_per_scan')}, errors {diag.get('errors')}, "
            f"rtt avg {diag.get('rtt_avg_ms')} ms, overruns {diag.get('scan_overruns')}"
        )
    finally:
        proc.kill()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
