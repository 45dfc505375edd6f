"""IEC 104 receive throughput: the driver into the tag table vs a bare c104 client loop.

    .venv/bin/python bench/bench_iec104.py [--points 2000] [--seconds 8]

A c104 server in a separate process keeps changing every one of ``--points`` short-float
points (M_ME_NC_1) and transmits them spontaneously, 40 to an ASDU, as fast as the link
takes them (the IEC 104 window k/w throttles it to what the client acknowledges). In this
process, one after the other, a client receives them with

1. **bare**: c104's own client with an ``on_receive`` callback per point that reads the
   value and quality and counts;
2. **driver**: :class:`drivers.iec104.driver.Iec104Driver`, every batch applied to a
   :class:`hmi.core.tagtable.TagTable`.

Printed per phase: points/s received, client CPU seconds per wall second
(``time.process_time``; the server's CPU is not counted) and CPU microseconds per point,
then the driver/bare ratios. Not a test: nothing is asserted.

c104 checks a callback's parameter names and annotations against the real classes, so
this module does not use postponed annotations.
"""

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CA = 1
from drivers.iec104.link import TICK_MS  # noqa: E402  the driver's client tick, for a fair baseline

FIRST_IOA = 10_000
PER_ASDU = 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_main(port: int, n: int, ready: Any, stop: Any) -> None:
    import c104

    server = c104.Server(ip="127.0.0.1", port=port, tick_rate_ms=50)
    station = server.add_station(common_address=CA)
    points = [
        station.add_point(io_address=FIRST_IOA + i, type=c104.Type.M_ME_NC_1) for i in range(n)
    ]
    server.start()
    time.sleep(0.3)
    ready.set()
    k = 0
    while not stop.is_set():
        if not server.has_active_connections:
            time.sleep(0.01)
            continue
        k += 1
        for start in range(0, n, PER_ASDU):
            chunk = points[start : start + PER_ASDU]
            for j, p in enumerate(chunk):
                p.value = float(k + j)
            server.transmit_batch(c104.Batch(cause=c104.Cot.SPONTANEOUS, points=chunk))
    server.stop()


def _bare(port: int, n: int, seconds: float) -> tuple[float, float]:
    import c104

    count = [0]

    def on_rx(
        point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
    ) -> c104.ResponseState:
        info = point.info
        _ = (float(info.value), int(info.quality.value))
        count[0] += 1
        return c104.ResponseState.NONE

    client = c104.Client(tick_rate_ms=TICK_MS)
    con = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.INTERROGATION)
    assert con is not None
    station = con.add_station(common_address=CA)
    assert station is not None
    for i in range(n):
        p = station.add_point(io_address=FIRST_IOA + i, type=c104.Type.M_ME_NC_1)
        assert p is not None
        p.on_receive(callable=on_rx)
    client.start()
    deadline = time.monotonic() + 5
    while con.state != c104.ConnectionState.OPEN and time.monotonic() < deadline:
        time.sleep(0.05)
    if con.state != c104.ConnectionState.OPEN:  # c104's server may not answer a first STARTDT
        client.stop()
        return _bare(port, n, seconds)
    time.sleep(1.0)
    c0, t0, n0 = time.process_time(), time.perf_counter(), count[0]
    time.sleep(seconds)
    c1, t1, n1 = time.process_time(), time.perf_counter(), count[0]
    client.stop()
    return (n1 - n0) / (t1 - t0), (c1 - c0) / (t1 - t0)


async def _driver(port: int, n: int, seconds: float) -> tuple[float, float]:
    from drivers.base import Batch, DeviceState, PointSpec
    from drivers.iec104.driver import Iec104Driver
    from hmi.config.schema import TagConfig
    from hmi.core.tagtable import TagTable

    tags = [
        TagConfig(name=f"bench.p{i}", device="rtu", address=f"M_ME_NC_1:{FIRST_IOA + i}",
                  range=(0, 1e12))
        for i in range(n)
    ]  # fmt: skip
    table = TagTable(tags, [1.0] * n)
    applied = [0]

    def sink(batch: Batch) -> None:
        applied[0] += len(table.apply(batch).scan.indices)

    points = [PointSpec(i, t.name, t.address, 1.0) for i, t in enumerate(tags)]
    params = {"port": port, "common_address": CA, "t1": 3, "t2": 2}
    drv = Iec104Driver("rtu", params, points, sink)
    await drv.start()
    try:
        deadline = time.monotonic() + 30
        while drv.state is not DeviceState.UP and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        c0, t0, n0, a0 = (
            time.process_time(),
            time.perf_counter(),
            drv.diag.notifications,
            applied[0],
        )
        await asyncio.sleep(seconds)
        c1, t1, n1, a1 = (
            time.process_time(),
            time.perf_counter(),
            drv.diag.notifications,
            applied[0],
        )
    finally:
        await drv.stop()
    print(f"  driver: {(a1 - a0) / (t1 - t0):,.0f} values/s applied to the tag table "
          "(received + re-delivered once per poll period)")  # fmt: skip
    return (n1 - n0) / (t1 - t0), (c1 - c0) / (t1 - t0)


def _phase(port: int, n: int, seconds: float, which: str) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_server_main, args=(port, n, ready, stop), name="bench-iec104-rtu")
    proc.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the benchmark server did not start")
        if which == "bare":
            return _bare(port, n, seconds)
        return asyncio.run(_driver(port, n, seconds))
    finally:
        stop.set()
        proc.join(30)
        if proc.is_alive():
            proc.terminate()


def main(argv: list[str] | None = None) -> int:
    """Run both phases (a fresh server each) and print the figures."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args(argv)
    print(f"IEC 104 receive benchmark: {args.points} M_ME_NC_1 points sent back to back, "
          f"{args.seconds:g} s per phase, {os.cpu_count()} CPUs")  # fmt: skip
    bare_rate, bare_cpu = _phase(_free_port(), args.points, args.seconds, "bare")
    drv_rate, drv_cpu = _phase(_free_port(), args.points, args.seconds, "driver")
    rows = [("bare c104 on_receive loop", bare_rate, bare_cpu),
            ("Iec104Driver -> TagTable", drv_rate, drv_cpu)]  # fmt: skip
    print(f"{'phase':28} {'points/s':>10} {'CPU s/s':>8} {'CPU us/point':>13}")
    for name, rate, cpu in rows:
        per = cpu / rate * 1e6 if rate else float("nan")
        print(f"{name:28} {rate:10,.0f} {cpu:8.3f} {per:13.1f}")
    print(f"ratio driver/bare: throughput {drv_rate / bare_rate:.2f} (target >= 0.8), "
          f"CPU per point {(drv_cpu / drv_rate) / (bare_cpu / bare_rate):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
