"""Peer comparison: gas-hmi vs a bare pymodbus -> paho loop (and Node-RED when installed).

The workload (issue "Uplink for the cloud integrator"): one Modbus TCP device with
``--tags`` (10,000) uint16 holding registers, polled every second in 125-register reads,
every value forwarded to a local mosquitto. Latency is the subscriber's receive time
minus the time the server served the register: the server (a pymodbus server in its own
process) answers each read with the read's serial number in every register and notes when
it served it, so every received value names its read.

Runs, each ``--seconds`` long after a warm-up, CPU % of one core and RSS of the process
(Node-RED: with its children), latency median / p99 over every forwarded value:

* ``gas-hmi full``: ``gas-hmi run --headless``, JSON uplink QoS 1, history on, 100 alarms;
* ``gas-hmi forward``: history off, no alarms, QoS 0 (forwarding alone);
* ``bare``: pymodbus async client reads the same blocks, one paho message per block, QoS 0;
* ``bare + objects``: the bare loop sending gas-hmi's JSON value objects (tag name, value,
  quality, time) instead of bare numbers: what the payload itself costs;
* ``bare + history``: the same, plus every value into a SQLite table like the historian's
  (one commit a scan) and QoS 1: the least the full job costs with the bare libraries;
* ``node-red``: Node-RED 4 + node-red-contrib-modbus (one modbus-read node per block, one
  MQTT message per tag, as in the issue) when ``--node-red DIR`` holds an npm install of
  both (see docs/PERFORMANCE.md);
* ``--outage S``: the full job with the broker down for S seconds, then counts every read
  the server served that did not reach the subscriber (0 = no loss).

``python -m bench.bench_peer`` (about 5 minutes); ``--seconds 10`` for a quick look; ``--rounds 3``
for figures to compare (the medians of three rounds in turn).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from tests.helpers import free_port
from tests.mqtt_broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 125


# ---------------------------------------------------------------------- the Modbus server
def _serve(port: int, n_tags: int, conn: Any) -> None:
    """Server process: every read returns its serial number; served times go back on ``conn``."""
    import logging

    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    served: dict[tuple[int, int], float] = {}
    count: dict[int, int] = {}

    class Store:
        def device_ids(self) -> list[int]:
            return [0]

        async def async_getValues(  # noqa: N802 - pymodbus datastore interface
            self, device_id: int, func_code: int, address: int, count_: int = 1
        ) -> list[int]:
            k = (count.get(address, 0) + 1) % 65536
            count[address] = k
            served[(address, k)] = time.time()
            return [k] * count_

        async def async_setValues(self, *a: Any) -> None:  # noqa: N802
            return None

    async def main() -> None:
        dev = SimDevice(id=0, simdata=SimData(0, count=1, datatype=DataType.REGISTERS))
        server = ModbusTcpServer(dev, address=("127.0.0.1", port))
        server.context = Store()  # type: ignore[assignment]
        await server.serve_forever(background=True)
        conn.send("ready")
        while not conn.poll():
            await asyncio.sleep(0.2)
        conn.recv()
        await server.shutdown()
        conn.send(served)

    asyncio.run(main())


class Server:
    """The Modbus server process of one run."""

    def __init__(self, n_tags: int) -> None:
        self.port = free_port()
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("spawn").Process(
            target=_serve, args=(self.port, n_tags, child), daemon=True
        )

    def __enter__(self) -> Server:
        self.proc.start()
        if not self.conn.poll(30) or self.conn.recv() != "ready":
            raise RuntimeError("the bench Modbus server did not start")
        return self

    def stop(self) -> dict[tuple[int, int], float]:
        """Stop serving; the (block start, read serial) -> served time of every read."""
        self.conn.send("stop")
        served: dict[tuple[int, int], float] = self.conn.recv()
        self.proc.join(10)
        return served

    def __exit__(self, *exc: object) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


# ---------------------------------------------------------------------- the subscriber
class Subscriber:
    """Records (receive time, topic, payload) of every message under ``topic``."""

    def __init__(self, broker: MosquittoBroker, topic: str, persistent: bool = False) -> None:
        self.got: list[tuple[float, str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"peer-sub-{os.getpid()}",
            clean_session=not persistent,
        )
        self.client.max_inflight_messages_set(0)
        self.client.reconnect_delay_set(0.1, 1.0)
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, 1)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port, 60)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        with self.lock:
            self.got.append((now, msg.topic, msg.payload))

    def take(self) -> list[tuple[float, str, bytes]]:
        with self.lock:
            out, self.got = self.got, []
        return out

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _values(kind: str, topic: str, payload: bytes) -> list[tuple[int, int]]:
    """(register address, value) pairs of one received message."""
    if kind == "gas-hmi":
        body = json.loads(payload)
        return [
            (int(v["tag"][2:]), int(v["value"]))
            for v in body.get("values", [])
            if v.get("value") is not None and not body.get("integrity")
        ]
    if kind == "bare-objects":
        body = json.loads(payload)
        return [(int(v["tag"][2:]), int(v["value"])) for v in body["values"]]
    if kind == "bare":
        body = json.loads(payload)
        return [(body["start"] + i, v) for i, v in enumerate(body["values"])]
    return [(int(topic.rsplit("/", 1)[1]), int(float(payload)))]  # node-red: one tag a message


def _latencies(
    kind: str, got: list[tuple[float, str, bytes]], served: dict[tuple[int, int], float]
) -> tuple[np.ndarray, set[tuple[int, int]]]:
    lat: list[float] = []
    seen: set[tuple[int, int]] = set()
    for t, topic, payload in got:
        for addr, value in _values(kind, topic, payload):
            start = addr - addr % BLOCK
            ts = served.get((start, value))
            if ts is not None:
                lat.append(t - ts)
                seen.add((addr, value))
    return np.array(lat) * 1000.0, seen


# ---------------------------------------------------------------------- the contenders
def _station(folder: Path, port: int, n_tags: int, full: bool, qos: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "station.yaml").write_text(
        "station:\n  id: bench\n  name: Peer bench\n"
        f"uplink:\n  enabled: true\n  mode: json\n  qos: {qos}\n  integrity_interval: 0\n"
    )
    (folder / "devices.yaml").write_text(
        f"devices:\n  - id: dev\n    protocol: modbus_tcp\n    port: {port}\n"
        "    poll_groups: {default: 1.0}\n    max_gap_registers: 0\n"
    )
    lines = ["tags:"]
    for i in range(n_tags):
        lines.append(f"  - {{name: r.{i:05d}, device: dev, address: 'hr:{i}', range: [0, 65535]")
        if not full:
            lines[-1] += ", history: {mode: none}"
        elif i % 100 == 0:
            lines[-1] += ", alarms: [{kind: H, limit: 65000}]"
        lines[-1] += "}"
    (folder / "tags.yaml").write_text("\n".join(lines) + "\n")
    return folder


def _gas_hmi(
    work: Path, broker: MosquittoBroker, port: int, n: int, full: bool
) -> subprocess.Popen[bytes]:
    station = _station(work / "station", port, n, full, 1 if full else 0)
    cmd = [
        sys.executable,
        "-m",
        "hmi",
        "run",
        str(station),
        "--headless",
        "--data-dir",
        str(work / "data"),
        "--uplink",
        broker.url,
        "--uplink-mode",
        "json",
    ]
    log = open(work / "gas-hmi.log", "w")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


BARE = r"""
import asyncio, json, sqlite3, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.client import AsyncModbusTcpClient
port, n, host, bport = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
objects = len(sys.argv) > 5 and sys.argv[5] == "objects"  # gas-hmi's value objects
db = sqlite3.connect(sys.argv[5]) if len(sys.argv) > 5 and not objects else None  # + history, QoS 1
qos = 1 if db else 0
if db:
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE samples (tag_id INTEGER, ts INTEGER, value REAL, quality INTEGER,"
               " PRIMARY KEY (tag_id, ts)) WITHOUT ROWID")
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare-peer")
c.max_queued_messages_set(0); c.max_inflight_messages_set(0)
c.connect(host, bport, 60); c.loop_start()
async def main():
    cl = AsyncModbusTcpClient("127.0.0.1", port=port)
    await cl.connect()
    while True:
        t0 = time.monotonic()
        for start in range(0, n, 125):
            rr = await cl.read_holding_registers(start, count=min(125, n - start))
            if db:
                ms = int(time.time() * 1000)
                db.executemany("INSERT OR IGNORE INTO samples VALUES (?, ?, ?, 192)",
                               [(start + i, ms, v) for i, v in enumerate(rr.registers)])
            if objects:
                t = round(time.time(), 3)
                body = {"device": "dev", "values": [
                    {"tag": "r.%05d" % (start + i), "value": v, "quality": 192, "ts": t}
                    for i, v in enumerate(rr.registers)]}
            else:
                body = {"start": start, "values": rr.registers}
            c.publish("bare/block", json.dumps(body), qos)
        if db:
            db.commit()
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
asyncio.run(main())
"""


def _bare(
    work: Path,
    broker: MosquittoBroker,
    port: int,
    n: int,
    history: bool = False,
    objects: bool = False,
) -> subprocess.Popen[bytes]:
    """The bare loop; with ``history`` it also writes every value to SQLite (one commit a
    scan) and publishes at QoS 1: the least any full job does with the bare libraries;
    with ``objects`` it sends gas-hmi's JSON value objects (name, value, quality, time)."""
    script = work / "bare.py"
    script.write_text(BARE)
    extra = [str(work / "bare-history.db")] if history else ["objects"] if objects else []
    return subprocess.Popen(
        [sys.executable, str(script), str(port), str(n), broker.host, str(broker.port), *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _node_red(
    work: Path, broker: MosquittoBroker, port: int, n: int, nr_dir: Path
) -> subprocess.Popen[bytes]:
    """Node-RED with one modbus-read node per block -> split per tag -> mqtt out."""
    flows: list[dict[str, Any]] = [
        {"id": "tab", "type": "tab", "label": "peer"},
        {
            "id": "mbc",
            "type": "modbus-client",
            "name": "dev",
            "clienttype": "tcp",
            "bufferCommands": True,
            "stateLogEnabled": False,
            "queueLogEnabled": False,
            "tcpHost": "127.0.0.1",
            "tcpPort": str(port),
            "tcpType": "DEFAULT",
            "unit_id": "1",
            "commandDelay": "1",
            "clientTimeout": "1000",
            "reconnectOnTimeout": True,
            "reconnectTimeout": "2000",
            "parallelUnitIdsAllowed": True,
        },
        {
            "id": "brk",
            "type": "mqtt-broker",
            "name": "local",
            "broker": broker.host,
            "port": str(broker.port),
            "clientid": "node-red-peer",
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": True,
        },
        {
            "id": "split",
            "type": "function",
            "z": "tab",
            "name": "per tag",
            "outputs": 1,
            "func": "const s = Number(msg.topic); return [msg.payload.map((v, i) => "
            "({topic: 'nr/' + (s + i), payload: String(v)}))];",
            "wires": [["out"]],
        },
        {
            "id": "out",
            "type": "mqtt out",
            "z": "tab",
            "name": "",
            "topic": "",
            "qos": "0",
            "retain": "false",
            "broker": "brk",
            "wires": [],
        },
    ]
    for k, start in enumerate(range(0, n, BLOCK)):
        flows.append(
            {
                "id": f"rd{k}",
                "type": "modbus-read",
                "z": "tab",
                "name": f"b{k}",
                "topic": str(start),
                "showStatusActivities": False,
                "logIOActivities": False,
                "showErrors": False,
                "unitid": "1",
                "dataType": "HoldingRegister",
                "adr": str(start),
                "quantity": str(min(BLOCK, n - start)),
                "rate": "1",
                "rateUnit": "s",
                "delayOnStart": False,
                "startDelayTime": "",
                "server": "mbc",
                "useIOFile": False,
                "ioFile": "",
                "useIOForPayload": False,
                "emptyMsgOnFail": False,
                "wires": [["split"], []],
            }
        )
    user = work / "nr"
    user.mkdir(parents=True, exist_ok=True)
    (user / "flows.json").write_text(json.dumps(flows))
    red = nr_dir / "node_modules" / "node-red" / "red.js"
    cmd = ["node", str(red), "--userDir", str(user), "--port", str(free_port()), "flows.json"]
    env = {**os.environ, "NODE_PATH": str(nr_dir / "node_modules")}
    log = open(work / "node-red.log", "w")  # noqa: SIM115
    (user / "package.json").write_text('{"name": "peer", "version": "1.0.0"}')
    link = user / "node_modules"
    if not link.exists():
        link.symlink_to(nr_dir / "node_modules")
    return subprocess.Popen(cmd, cwd=user, env=env, stdout=log, stderr=subprocess.STDOUT)


# ---------------------------------------------------------------------- one run
def _usage(proc: psutil.Process) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process and its children."""
    cpu, rss = 0.0, 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return cpu, rss


def run(
    name: str,
    kind: str,
    start: Any,
    broker: MosquittoBroker,
    n: int,
    seconds: float,
    warmup: float,
    outage: float = 0.0,
) -> dict[str, Any]:
    """Run one contender and measure it."""
    topic = {
        "gas-hmi": "gas/bench/telemetry",
        "bare": "bare/#",
        "bare-objects": "bare/#",
        "node-red": "nr/#",
    }[kind]
    work = Path(tempfile.mkdtemp(prefix=f"peer-{kind}-"))
    with Server(n) as server:
        sub = Subscriber(broker, topic, persistent=outage > 0)
        proc = start(work, broker, server.port)
        ps = psutil.Process(proc.pid)
        try:
            time.sleep(warmup)  # bench, not a test: start-up and the first scans settle
            sub.take()
            cpu0, _ = _usage(ps)
            t0 = time.time()
            if outage:
                broker.stop()
                time.sleep(outage)
                broker.start()
                time.sleep(max(0.0, seconds - outage))
            else:
                time.sleep(seconds)
            cpu1, rss = _usage(ps)
            t1 = time.time()
            time.sleep(outage / 2 + 3 if outage else 2.0)  # let the last reads arrive
            got = sub.take()
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            sub.stop()
        served = server.stop()
    shutil.rmtree(work, ignore_errors=True)
    lat, seen = _latencies(kind, got, served)
    window = {k: t for k, t in served.items() if t0 <= t <= t1 - 1.0}
    expected = {(s + i, v) for (s, v) in window for i in range(min(BLOCK, n - s))}
    lost = len(expected - seen)
    res = {
        "name": name,
        "cpu": 100.0 * (cpu1 - cpu0) / (t1 - t0),
        "rss_mb": rss / 2**20,
        "median": float(np.median(lat)) if len(lat) else float("nan"),
        "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        "values": len(lat),
        "rate": len(expected) / max(1e-9, t1 - 1.0 - t0),
        "lost": lost,
        "largest_kb": max((len(p) for _t, _topic, p in got), default=0) / 1024,
    }
    print(
        f"{name:18s} CPU {res['cpu']:5.1f} %  RSS {res['rss_mb']:6.0f} MB  latency median "
        f"{res['median']:6.1f} ms  p99 {res['p99']:6.1f} ms  ({res['rate']:,.0f} values/s "
        f"served, {lost:,} not received, largest message {res['largest_kb']:.1f} KB)",
        flush=True,
    )
    return res


def _summary(rounds: list[dict[str, dict[str, Any]]]) -> None:
    """The ratios of gas-hmi to each peer (median over the rounds); with several rounds,
    each contender's median figures first."""
    out = rounds[-1]
    if len(rounds) > 1:
        print(f"medians of {len(rounds)} rounds")
        for key, res in out.items():
            cpu = float(np.median([r[key]["cpu"] for r in rounds]))
            p99 = float(np.median([r[key]["p99"] for r in rounds]))
            med = float(np.median([r[key]["median"] for r in rounds]))
            spread = [r[key]["cpu"] for r in rounds]
            print(
                f"  {res['name']:18s} CPU {cpu:5.1f} % ({min(spread):.1f}-{max(spread):.1f})"
                f"  latency median {med:6.1f} ms  p99 {p99:6.1f} ms"
            )
    print(
        "ratios (gas-hmi / peer): CPU, p99 latency"
        + (" (median, range)" if len(rounds) > 1 else "")
    )
    for peer in ("bare", "bareo", "bareh", "nr"):
        if peer not in out:
            continue
        for mine in ("full", "fwd"):
            if mine not in out or (peer, mine) in (("bareh", "fwd"), ("bareo", "full")):
                continue
            cpu = [r[mine]["cpu"] / r[peer]["cpu"] for r in rounds]
            p99 = [r[mine]["p99"] / r[peer]["p99"] for r in rounds]
            rng = f" ({min(cpu):.2f}-{max(cpu):.2f})" if len(rounds) > 1 else ""
            print(
                f"  {out[mine]['name']:16s} / {out[peer]['name']:14s}  CPU "
                f"{float(np.median(cpu)):.2f}x{rng}  p99 {float(np.median(p99)):.2f}x"
            )


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the figures and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tags", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--outage", type=float, default=60.0, help="broker outage run (0: skip)")
    ap.add_argument(
        "--node-red",
        type=Path,
        default=Path("/tmp/nodered-bench"),
        help="folder with an npm install of node-red@4 and node-red-contrib-modbus",
    )
    ap.add_argument(
        "--only",
        default="bare,bareo,bareh,full,fwd,nr",
        help="comma-separated contenders to run: bare, bareo, bareh, full, fwd, nr (default: all)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the contenders this many times in turn; the figures are then the median "
        "of the rounds and each ratio the median of its rounds' ratios (a slow minute of "
        "the machine hits one round, not the comparison)",
    )
    a = ap.parse_args(argv)
    only = set(a.only.split(","))
    n = a.tags
    broker = MosquittoBroker(Path(tempfile.mkdtemp(prefix="peer-mq-")), persistent=True).start()
    try:
        red = a.node_red / "node_modules" / "node-red-contrib-modbus"
        has_red = red.is_dir() and shutil.which("node") is not None
        contenders: list[tuple[str, str, str, Any]] = [
            ("bare", "bare loop", "bare", lambda w, b, p: _bare(w, b, p, n)),
            (
                "bareo",
                "bare + objects",
                "bare-objects",
                lambda w, b, p: _bare(w, b, p, n, objects=True),
            ),
            ("bareh", "bare + history", "bare", lambda w, b, p: _bare(w, b, p, n, True)),
            ("full", "gas-hmi full", "gas-hmi", lambda w, b, p: _gas_hmi(w, b, p, n, True)),
            ("fwd", "gas-hmi forward", "gas-hmi", lambda w, b, p: _gas_hmi(w, b, p, n, False)),
            ("nr", "node-red", "node-red", lambda w, b, p: _node_red(w, b, p, n, a.node_red)),
        ]
        if "nr" in only and not has_red:
            print(f"node-red: not run (no npm install in {a.node_red}; see docs/PERFORMANCE.md)")
            only.discard("nr")
        rounds: list[dict[str, dict[str, Any]]] = []
        for r in range(a.rounds):
            if a.rounds > 1:
                print(f"round {r + 1} of {a.rounds}", flush=True)
            out: dict[str, dict[str, Any]] = {}
            for key, name, kind, start in contenders:
                if key in only:
                    out[key] = run(name, kind, start, broker, n, a.seconds, a.warmup)
            rounds.append(out)
        _summary(rounds)
        if a.outage > 0:
            run(
                f"outage {a.outage:.0f} s",
                "gas-hmi",
                lambda w, b, p: _gas_hmi(w, b, p, n, True),
                broker,
                n,
                a.outage + 30.0,
                a.warmup,
                outage=a.outage,
            )
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
