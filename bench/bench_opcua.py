"""OPC UA subscription throughput: the driver into the tag table vs a bare asyncua handler.

    .venv/bin/python bench/bench_opcua.py [--vars 5000] [--seconds 10]

An asyncua server in a separate process changes every one of ``--vars`` Double
variables once a second. In this process, one after the other:

1. **bare**: asyncua's own subscription API (``create_subscription`` +
   ``subscribe_data_change`` with a handler that only counts notifications);
2. **driver**: :class:`drivers.opcua.driver.OpcUaDriver` with every variable in one 1 s
   poll group, its batches applied to a :class:`hmi.core.tagtable.TagTable`.

Printed per phase: notifications/s delivered, client CPU seconds per wall second
(``time.process_time``; the server's CPU is not counted) and CPU microseconds per
notification, then the driver/bare ratios. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NS = "urn:gas-hmi:bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_main(port: int, n: int, ready: mp.Event, stop: mp.Event) -> None:  # type: ignore[valid-type]
    import logging

    from asyncua import Server, ua

    logging.basicConfig(level=logging.ERROR)

    async def run() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NS)
        folder = await server.nodes.objects.add_folder(idx, "Bench")
        ids = []
        for i in range(n):
            var = await folder.add_variable(ua.NodeId(f"V{i}", idx), f"{idx}:V{i}", 0.0)
            ids.append(var.nodeid)
        async with server:
            ready.set()
            k = 0
            while not stop.is_set():
                k += 1
                t0 = time.monotonic()
                for i, nid in enumerate(ids):
                    await server.write_attribute_value(
                        nid, ua.DataValue(ua.Variant(k + i * 1e-3, ua.VariantType.Double))
                    )
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))

    asyncio.run(run())


class _Count:
    def __init__(self) -> None:
        self.n = 0

    def datachange_notification(self, node: object, val: object, data: object) -> None:
        self.n += 1


async def _bare(endpoint: str, n: int, seconds: float) -> tuple[float, float]:
    from asyncua import Client, ua

    async with Client(endpoint, timeout=30) as client:
        idx = await client.get_namespace_index(NS)
        handler = _Count()
        sub = await client.create_subscription(1000, handler)
        nodes = [client.get_node(ua.NodeId(f"V{i}", idx)) for i in range(n)]
        for start in range(0, n, 1000):
            await sub.subscribe_data_change(nodes[start : start + 1000], queuesize=1)
        await asyncio.sleep(3.0)  # initial values and warm-up are not measured
        c0, t0, n0 = time.process_time(), time.perf_counter(), handler.n
        await asyncio.sleep(seconds)
        c1, t1, n1 = time.process_time(), time.perf_counter(), handler.n
        await sub.delete()
    return (n1 - n0) / (t1 - t0), (c1 - c0) / (t1 - t0)


async def _driver(endpoint: str, n: int, seconds: float) -> tuple[float, float]:
    from drivers.base import DeviceState, PointSpec
    from drivers.opcua.driver import OpcUaDriver
    from hmi.config.schema import TagConfig
    from hmi.core.tagtable import TagTable

    tags = [
        TagConfig(name=f"bench.v{i}", device="bench", address=f"nsu={NS};s=V{i}", range=(0, 1e9))
        for i in range(n)
    ]
    table = TagTable(tags, [1.0] * n)
    applied = [0]
    compat = [False]

    def sink(batch: object) -> None:
        if compat[0]:
            batch.source_ts = float(batch.source_ts.max()) if batch.source_ts.size else 0.0  # type: ignore[attr-defined]
        try:
            res = table.apply(batch)  # type: ignore[arg-type]
        except ValueError:
            # a TagTable that cannot take per-point source timestamps yet: measure with one
            # timestamp per batch (same work) and say so
            if compat[0] or not hasattr(batch.source_ts, "size"):  # type: ignore[attr-defined]
                raise
            compat[0] = True
            print(
                "  note: this TagTable.apply rejects per-point source_ts arrays; measuring with one per batch"
            )
            sink(batch)
            return
        applied[0] += len(res.scan)

    points = [PointSpec(i, t.name, t.address, 1.0) for i, t in enumerate(tags)]
    drv = OpcUaDriver("bench", {"endpoint": endpoint, "timeout": 30.0}, points, sink)
    await drv.start()
    try:
        deadline = time.monotonic() + 60
        while drv.state is not DeviceState.UP and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)
        c0, t0, n0 = time.process_time(), time.perf_counter(), drv.diag.notifications
        a0 = applied[0]
        await asyncio.sleep(seconds)
        c1, t1, n1 = time.process_time(), time.perf_counter(), drv.diag.notifications
        a1 = applied[0]
    finally:
        await drv.stop()
    rate = (n1 - n0) / (t1 - t0)
    print(
        f"  driver: {(a1 - a0) / (t1 - t0):,.0f} values/s applied to the tag table (notifications + confirmations)"
    )
    return rate, (c1 - c0) / (t1 - t0)


def main(argv: list[str] | None = None) -> int:
    """Run both phases and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vars", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args(argv)
    port = _free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(
        target=_server_main, args=(port, args.vars, ready, stop), name="bench-opcua-server"
    )
    proc.start()
    try:
        if not ready.wait(120):
            raise SystemExit("the benchmark server did not start")
        print(f"OPC UA subscription benchmark: {args.vars} variables changing every 1 s, {args.seconds:g} s per phase, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        bare_rate, bare_cpu = asyncio.run(_bare(endpoint, args.vars, args.seconds))
        drv_rate, drv_cpu = asyncio.run(_driver(endpoint, args.vars, args.seconds))
    finally:
        stop.set()
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
    rows = [
        ("bare asyncua handler", bare_rate, bare_cpu),
        ("OpcUaDriver -> TagTable", drv_rate, drv_cpu),
    ]
    print(f"{'phase':26} {'notifications/s':>16} {'CPU s/s':>8} {'CPU us/notif':>13}")
    for name, rate, cpu in rows:
        print(
            f"{name:26} {rate:16,.0f} {cpu:8.3f} {cpu / rate * 1e6 if rate else float('nan'):13.1f}"
        )
    print(f"ratio driver/bare: throughput {drv_rate / bare_rate:.2f}, CPU per notification "
          f"{(drv_cpu / drv_rate) / (bare_cpu / bare_rate):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
