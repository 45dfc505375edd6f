"""Uplink benchmark: backlog replay rate and CPU per 1,000 tags/s, next to bare paho.

Prints
* how fast a backlog of ``--backlog`` messages (default 1,000,000; ``--tags-per-msg``
  tag values each) is stored into the outbox, and how fast it is replayed through the
  outbox + payload codec + paho to a local mosquitto (``replay_rate`` unlimited), next
  to a bare paho loop publishing the same payload bytes with the same QoS 1 in-flight
  window in the same run, and their ratio;
* the CPU time the uplink needs to forward live changes of ``--tags`` tags (report by
  exception, one message per device), as a share of one core at 1,000 tags/s, next to
  bare paho publishing the same payloads; the ratio is the cost of the outbox (SQLite
  commit before publish, delete on PUBACK) and of the encoding.

``python -m bench.bench_uplink`` (about 3-4 minutes on 2 cores);
``python -m bench.bench_uplink --backlog 100000`` for a quick run.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from drivers.base import Batch
from hmi.config.schema import StationConfig
from hmi.core.tagtable import TagTable, TagUpdate
from hmi.core.uplink import Uplink
from hmi.core.uplink.jsonmode import JsonMode
from hmi.core.uplink.outbox import KIND_TELEMETRY, Outbox, Row
from hmi.core.uplink.publisher import MAX_INFLIGHT
from hmi.core.uplink.sparkplug import Sparkplug
from tests.mqtt_broker import MosquittoBroker


def station(
    broker: MosquittoBroker, n_tags: int, n_devices: int, mode: str, budget_mb: float
) -> StationConfig:
    """A synthetic station: ``n_tags`` float tags spread over ``n_devices`` devices."""
    per = max(1, n_tags // n_devices)
    return StationConfig.model_validate(
        {
            "station": {"id": "bench", "name": "Bench station"},
            "devices": [
                {"id": f"d{d}", "protocol": "modbus_tcp", "port": 1502 + d}
                for d in range(n_devices)
            ],
            "tags": [
                {
                    "name": f"d{i // per}.t{i % per}",
                    "device": f"d{min(i // per, n_devices - 1)}",
                    "address": f"hr:{2 * (i % per)}:f32",
                    "range": [0, 1000],
                }
                for i in range(n_tags)
            ],
            "uplink": {
                "enabled": True,
                "mode": mode,
                "brokers": [{"host": broker.host, "port": broker.port}],
                "integrity_interval": 0,
                "replay_rate": 1e9,
                "outbox_budget_mb": budget_mb,
            },
        }
    )


def _bodies(cfg: StationConfig, n: int, per_msg: int, t0: float) -> list[bytes]:
    """Telemetry row bodies like the publish policy makes them (cycled over the devices)."""
    devs = [d.id for d in cfg.devices]
    names: dict[str, list[str]] = {d: [] for d in devs}
    for t in cfg.tags:
        names[t.device].append(t.name)
    out = []
    for k in range(n):
        d = devs[k % len(devs)]
        tn = names[d]
        vals = [
            [tn[(k + j) % len(tn)], 100.0 + (k % 997) * 0.01, 192, int((t0 + k * 0.001) * 1000), ""]
            for j in range(per_msg)
        ]
        out.append(json.dumps({"d": d, "i": 0, "v": vals}, separators=(",", ":")).encode())
    return out


def _bare_publish(
    broker: MosquittoBroker, payloads: list[bytes], topic: str, n: int
) -> tuple[float, float]:
    """Bare paho: publish ``n`` messages (cycling ``payloads``), QoS 1, same window; (seconds, cpu s)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", clean_session=True)
    c.max_inflight_messages_set(0)
    c.max_queued_messages_set(0)
    acked = [0]
    c.on_publish = lambda *_a: acked.__setitem__(0, acked[0] + 1)
    c.connect(broker.host, broker.port, 60)
    while not c.is_connected():
        c.loop(0.05)
    sent = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    while acked[0] < n:
        while sent < n and sent - acked[0] < MAX_INFLIGHT:
            c.publish(topic, payloads[sent % len(payloads)], 1)
            sent += 1
        c.loop(0.02)
    dt, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    c.disconnect()
    c.loop(0.1)
    return dt, cpu


def _wait(up: Uplink, done: callable, what: str, timeout: float = 3600.0) -> None:  # type: ignore[valid-type]
    deadline = time.monotonic() + timeout
    while not done(up.status()):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_uplink: timed out waiting for {what}: {up.status()}")
        time.sleep(0.05)


def bench_replay(work: Path, broker: MosquittoBroker, n: int, per_msg: int, mode: str) -> None:
    """Backlog store rate, replay rate, bare paho rate."""
    cfg = station(broker, 100, 10, mode, budget_mb=max(64.0, n * (120 + 50 * per_msg) / 1e6 * 2))
    data = work / "replay"
    bodies = _bodies(cfg, min(n, 10_000), per_msg, time.time() - n)
    ob = Outbox(data / "outbox.db", 1 << 40)
    t0 = time.perf_counter()
    chunk = 20_000
    for start in range(0, n, chunk):
        ob.append(
            [
                (KIND_TELEMETRY, 0.0, bodies[(start + i) % len(bodies)])
                for i in range(min(chunk, n - start))
            ]
        )
    store_dt = time.perf_counter() - t0
    size_mb = (data / "outbox.db").stat().st_size / 1e6
    ob.close()
    print(
        f"backlog: {n:,} messages x {per_msg} tag(s) stored in {store_dt:.1f} s ({n / store_dt:,.0f} msg/s, chunks of {chunk:,}); outbox.db {size_mb:.0f} MB"
    )

    proc = psutil.Process()
    up = Uplink(cfg, data, TagTable(cfg.tags))
    cpu0, t0 = time.process_time(), time.perf_counter()
    broker_cpu0 = sum(psutil.Process(broker.proc.pid).cpu_times()[:2]) if broker.proc else 0.0
    up.start()
    _wait(up, lambda s: s["connected"] and s["outbox_depth"] == 0, "the replay")
    dt, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    broker_cpu = (
        (sum(psutil.Process(broker.proc.pid).cpu_times()[:2]) - broker_cpu0) if broker.proc else 0.0
    )
    rss = proc.memory_info().rss / 1e6
    up.stop()
    rate = n / dt
    print(
        f"uplink replay ({mode}): {rate:,.0f} msg/s ({dt:.1f} s, process CPU {cpu:.1f} s = {cpu / dt * 100:.0f} % of a core, mosquitto CPU {broker_cpu:.1f} s, RSS {rss:.0f} MB)"
    )

    # bare paho with the same payload bytes (encoded beforehand, not timed)
    codec = (
        Sparkplug(cfg, Outbox(work / "alias.db", 1 << 30).aliases)
        if mode == "sparkplug"
        else JsonMode(cfg)
    )
    msgs = [
        codec.encode(Row(i + 1, KIND_TELEMETRY, 0.0, b), True, time.time())
        for i, b in enumerate(bodies[:1000])
    ]
    bdt, bcpu = _bare_publish(
        broker, [m.payload for m in msgs if m], msgs[0].topic if msgs[0] else "bench/x", n
    )
    brate = n / bdt
    print(f"bare paho, same payloads:  {brate:,.0f} msg/s ({bdt:.1f} s, CPU {bcpu:.1f} s)")
    print(
        f"ratio uplink / bare paho: {rate / brate:.2f} (throughput), {cpu / max(bcpu, 1e-9):.2f} (CPU per message)"
    )


def bench_live(work: Path, broker: MosquittoBroker, n_tags: int, scans: int, mode: str) -> None:
    """CPU per 1,000 tags/s forwarded (every tag changes every scan)."""
    n_dev = max(1, n_tags // 100)
    cfg = station(broker, n_tags, n_dev, mode, budget_mb=512)
    tags = TagTable(cfg.tags)
    idx = np.arange(n_tags, dtype=np.int32)
    now = time.time()
    updates: list[TagUpdate] = []
    for s in range(scans):  # built before the clock starts: acquisition is not the uplink's cost
        vals = 100.0 + ((s % 2) * 1.0) + np.arange(n_tags) * 0.001
        updates.append(tags.apply(Batch(idx, vals, 192, "", now + s, now + s)).changes)
    up = Uplink(cfg, work / "live", tags)
    up.start()
    _wait(up, lambda s: s["connected"], "the connection", 60)
    base_acked = up.status()["acked"]
    expected = scans * n_dev
    cpu0, t0 = time.process_time(), time.perf_counter()
    for u in updates:
        up.on_changes(u)
    _wait(
        up,
        lambda s: s["acked"] - base_acked >= expected and s["outbox_depth"] == 0,
        "live forwarding",
    )
    dt, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    up.stop()
    values = scans * n_tags
    per_k = cpu / values * 1000.0  # CPU s per 1,000 tag values = share of a core at 1,000 tags/s
    print(
        f"uplink live ({mode}): {values:,} tag values in {expected:,} messages, {values / dt:,.0f} tags/s, "
        f"CPU {per_k * 100:.2f} % of a core per 1,000 tags/s"
    )
    # bare paho with the same messages (encoded beforehand)
    pol_rows = []
    from hmi.core.uplink.policy import PublishPolicy

    pol = PublishPolicy(cfg, tags)
    for u in updates[:20]:
        pol_rows += pol.telemetry(u)
    codec = (
        Sparkplug(cfg, Outbox(work / "alias2.db", 1 << 30).aliases)
        if mode == "sparkplug"
        else JsonMode(cfg)
    )
    payloads = [
        m.payload
        for i, b in enumerate(pol_rows)
        if (m := codec.encode(Row(i + 1, KIND_TELEMETRY, 0.0, b), False, now))
    ]
    bdt, bcpu = _bare_publish(broker, payloads, "bench/live", expected)
    bper_k = bcpu / values * 1000.0
    print(
        f"bare paho, same payloads:  CPU {bper_k * 100:.2f} % of a core per 1,000 tags/s ({values / bdt:,.0f} tags/s)"
    )
    print(f"ratio uplink / bare paho CPU: {per_k / max(bper_k, 1e-12):.1f}")


def _terminate(_signum: int, _frame: object) -> None:
    raise SystemExit(143)


def main(argv: list[str] | None = None) -> int:
    """Run the uplink benchmark."""
    ap = argparse.ArgumentParser(prog="bench_uplink", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--backlog", type=int, default=1_000_000, help="messages in the replayed backlog"
    )
    ap.add_argument("--tags-per-msg", type=int, default=4)
    ap.add_argument("--tags", type=int, default=1000, help="tags changing every scan (live part)")
    ap.add_argument("--scans", type=int, default=200)
    ap.add_argument("--mode", choices=("sparkplug", "json"), default="sparkplug")
    ap.add_argument("--dir", help="work folder (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # SIGTERM ends the run through the finally below (the broker is stopped, the folder removed)
    signal.signal(signal.SIGTERM, _terminate)
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_uplink_"))
    broker = MosquittoBroker(work / "mosquitto").start()
    try:
        print(f"mosquitto on 127.0.0.1:{broker.port}; {psutil.cpu_count()} CPU(s)")
        bench_replay(work, broker, args.backlog, args.tags_per_msg, args.mode)
        bench_live(work, broker, args.tags, args.scans, args.mode)
    finally:
        broker.stop()
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
