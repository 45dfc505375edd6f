"""Dispatch benchmark: N Sparkplug edge nodes x T tags at 1 Hz through a local mosquitto.

A generator process publishes N synthetic stations (:class:`EdgeNodeSim`: births with
metadata, one DDATA with every tag per station per second at QoS 1, an alarm event every
second somewhere, a death + rebirth every 10 s somewhere). Two consumers take turns on the
same stream, each in its own process, measured with psutil over the same window:

* **baseline**: a bare paho subscriber (QoS 1) that decodes every payload with protobuf
  and does nothing else — what the library alone costs;
* **dispatch**: the real :class:`DispatchHost` (fleet model, key figures, fleet.db).

Prints per consumer: CPU % of one core, RSS, messages/s and values/s received, and for the
dispatch the publish -> fleet-model delay (p50/p99/max, from the payload timestamp) in the
first and the last third of the window (a growing delay is a growing backlog); then the
ratio dispatch / baseline CPU.

``python -m bench.bench_fleet`` (200 x 200, 30 s per consumer, about 2 minutes);
``python -m bench.bench_fleet --stations 20 --tags 50 --seconds 10`` for a quick run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import psutil

from tests.mqtt_broker import MosquittoBroker


def generator(port: int, n: int, tags: int, stop: Any, ready: Any) -> None:
    """Publish N stations at 1 Hz until ``stop`` is set."""
    from hmi.core.fleet.generator import EdgeNodeSim
    from hmi.core.uplink import sparkplug_b_pb2 as pb
    from tests.fleet_rig import FleetPublisher, alarm_event

    pub = FleetPublisher("127.0.0.1", port, "bench-fleetgen")
    nodes = [EdgeNodeSim(f"st{i:04d}", n_tags=tags) for i in range(n)]
    for node in nodes:
        pub.send(node.births(time.time()), wait=False)
    templates = []
    for node in nodes:
        _t, payload = node.data(time.time())
        templates.append(pb.Payload.FromString(payload))
    wanted: set[str] = set()  # rebirth requests (NCMD), answered on the next tick
    pub.client.on_message = lambda _c, _u, msg: wanted.add(msg.topic.split("/")[3])
    pub.client.subscribe("spBv1.0/+/NCMD/#", 1)
    by_id = {node.edge: node for node in nodes}
    ready.set()
    rnd = random.Random(1)
    slot = max(1, len(nodes) // 10)
    tick = time.monotonic()
    k = 0
    while not stop.is_set():
        now = time.time()
        ts = int(now * 1000)
        for edge in list(wanted):
            wanted.discard(edge)
            for t_, pl in by_id[edge].births(time.time()):
                pub.client.publish(t_, pl, 0)
        for i, (node, p) in enumerate(zip(nodes, templates, strict=True)):
            if i and i % slot == 0:  # stations are not synchronised: spread over the second
                time.sleep(max(0.0, tick + (i // slot) * 0.1 - time.monotonic()))
            p.timestamp = int(time.time() * 1000)  # stamped at publish, as a station does
            p.seq = node.seq
            node.seq = (node.seq + 1) % 256
            for m in p.metrics:
                m.timestamp = ts
                m.double_value += 0.001
            pub.client.publish(node.topic("DDATA", node.device), p.SerializeToString(), 1)
        node = rnd.choice(nodes)
        ev = alarm_event(
            f"a{k % 7}",
            "outlet.pressure",
            1 + k % 4,
            "ACTIVE_UNACK",
            "outlet",
            "bench alarm",
            "测试报警",
            0.5,
        )
        t_, pl = node.alarm(time.time(), ev)
        pub.client.publish(t_, pl, 1)
        if k % 10 == 5:
            node = rnd.choice(nodes)
            pub.client.publish(*node.death(), 1)
            node.bdseq = (node.bdseq + 1) % 256
            for t_, pl in node.births(time.time()):
                pub.client.publish(t_, pl, 0)
        k += 1
        tick += 1.0
        time.sleep(max(0.0, tick - time.monotonic()))
    pub.stop()


def baseline(port: int, seconds: float, out: Any) -> None:
    """Bare paho + protobuf decode of every message."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from hmi.core.uplink import sparkplug_b_pb2 as pb

    stats = {"msgs": 0, "values": 0}
    delays: deque[float] = deque(maxlen=100000)

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        p = pb.Payload.FromString(msg.payload)
        stats["msgs"] += 1
        stats["values"] += len(p.metrics)
        if p.timestamp:
            delays.append(time.time() - p.timestamp / 1000.0)

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-baseline")
    c.max_inflight_messages_set(0)
    c.on_message = on_message
    c.on_connect = lambda cl, *_a: cl.subscribe("spBv1.0/#", 1)
    c.connect("127.0.0.1", port, 60)
    c.loop_start()
    out.send(_measure(lambda: dict(stats), seconds, delays=delays))
    c.disconnect()
    c.loop_stop()


def dispatch(port: int, seconds: float, data_dir: str, out: Any) -> None:
    """The real dispatch host."""
    from hmi.core.fleet import DispatchHost

    host = DispatchHost(f"mqtt://127.0.0.1:{port}", data_dir, "bench-dispatch")
    host.start()
    result = _measure(lambda: {"msgs": host.model.messages, "values": 0}, seconds, host)
    host.stop()
    out.send(result)


SETTLE = 8.0


def _measure(counts: Any, seconds: float, host: Any = None, delays: Any = None) -> dict[str, Any]:
    proc = psutil.Process()
    time.sleep(SETTLE)  # births, subscriptions, the rebirth requests of a host that joins late
    c0, cpu0, t0 = counts(), proc.cpu_times(), time.monotonic()
    thirds: list[list[float]] = []
    if host is not None:
        delays = host.model.delays
    delays.clear()
    for _ in range(3):
        time.sleep(seconds / 3)
        thirds.append(list(delays))
        delays.clear()
    c1, cpu1, t1 = counts(), proc.cpu_times(), time.monotonic()
    wall = t1 - t0
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    return {
        "cpu_pct": 100.0 * cpu / wall,
        "rss_mb": proc.memory_info().rss / 2**20,
        "msg_s": (c1["msgs"] - c0["msgs"]) / wall,
        "values_s": (c1["values"] - c0["values"]) / wall,
        "delays": [_pct(d) for d in thirds],
    }


def _pct(d: list[float]) -> dict[str, float]:
    if not d:
        return {"n": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    d = sorted(d)
    return {
        "n": len(d),
        "p50": d[len(d) // 2] * 1000,
        "p99": d[int(len(d) * 0.99)] * 1000,
        "max": d[-1] * 1000,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=200)
    ap.add_argument("--tags", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(Path(tmp) / "mqtt").start()
        stop, ready = ctx.Event(), ctx.Event()
        gen = ctx.Process(
            target=generator, args=(broker.port, args.stations, args.tags, stop, ready)
        )
        gen.start()
        try:
            ready.wait(120)
            results = {}
            gproc = psutil.Process(gen.pid)
            g0, gt0 = gproc.cpu_times(), time.monotonic()
            for name, target, extra in (
                ("baseline (paho + protobuf decode)", baseline, ()),
                ("dispatch (DispatchHost)", dispatch, (str(Path(tmp) / "d"),)),
            ):
                rx, tx = ctx.Pipe(duplex=False)
                p = ctx.Process(target=target, args=(broker.port, args.seconds, *extra, tx))
                p.start()
                results[name] = rx.recv()
                p.join(60)
            g1 = gproc.cpu_times()
            gen_cpu = 100.0 * (g1.user + g1.system - g0.user - g0.system) / (time.monotonic() - gt0)
        finally:
            stop.set()
            gen.join(30)
            broker.stop()
    offered = args.stations * args.tags
    print(
        f"fleet: {args.stations} stations x {args.tags} tags at 1 Hz = {offered:,} values/s "
        f"offered ({args.stations} DDATA/s + 1 alarm/s + a rebirth every 10 s); "
        f"{args.seconds:.0f} s per consumer; generator {gen_cpu:.0f} % CPU"
    )
    for name, r in results.items():
        values = r["values_s"] or r["msg_s"] * args.tags
        print(
            f"  {name:36s} CPU {r['cpu_pct']:5.1f} % of a core, RSS {r['rss_mb']:6.1f} MB, "
            f"{r['msg_s']:7.1f} msg/s, {values:9,.0f} values/s"
        )
        for i, d in enumerate(r["delays"]):
            print(
                f"      publish -> model, third {i + 1}: n={d['n']} p50 {d['p50']:.1f} ms, "
                f"p99 {d['p99']:.1f} ms, max {d['max']:.1f} ms"
            )
    b, d = results.values()
    print(f"  ratio dispatch / baseline CPU: {d['cpu_pct'] / max(b['cpu_pct'], 0.1):.2f}")


if __name__ == "__main__":
    main()
