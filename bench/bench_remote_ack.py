"""Remote command round trips, dispatch -> real station -> dispatch, on loopback.

A local mosquitto, one simulated demo station (``gas-hmi demo --headless``: its simulator
and runtime, uplink on, gated on this dispatch as primary host, one set point open to
remote writes) and the real :class:`~hmi.core.fleet.DispatchHost` in this process. Three
round trips, each repeated ``--rounds`` times, one at a time:

* **baseline**: a bare paho ping -> pong through the same broker (a second client echoes
  each message back) — what the broker and the two network hops alone cost;
* **remote ack**: ``DispatchHost.acknowledge`` -> NCMD ``Alarms/Ack`` -> the station's
  permission check, alarm engine, audit row, outbox -> ``Commands/Reply`` -> the fleet model;
* **remote write**: ``DispatchHost.write`` -> DCMD -> the station's command service
  (audit, Modbus write to the simulated PLC, read-back verification) -> ``Commands/Reply``.

Prints p50 / p90 / max per kind and the ratio to the baseline's p50. The issue's target is
a remote ack confirmed back on the dispatch screen within 2 s on loopback.

``python -m bench.bench_remote_ack`` (about a minute; ``--rounds 20`` by default).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from hmi.core.fleet import DispatchHost
from hmi.core.fleet.demo import station_instance
from hmi.core.users import Role, Session
from tests.helpers import wait_until
from tests.mqtt_broker import MosquittoBroker
from tests.stations import demo_station_copy

ROOT = Path(__file__).resolve().parents[1]
HOST_ID = "bench-dispatch"
SID = "gate_bench"
TAG = "odor.dose.setpoint"


def _baseline(broker: MosquittoBroker, rounds: int) -> list[float]:
    """Bare MQTT ping -> echo -> pong round trips (QoS 1 both ways)."""
    got = threading.Event()
    echo = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-echo")
    echo.on_message = lambda c, _u, m: c.publish("bench/pong", m.payload, qos=1)
    echo.connect(broker.host, broker.port)
    echo.subscribe("bench/ping", qos=1)
    echo.loop_start()
    ping = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-ping")
    ping.on_message = lambda _c, _u, _m: got.set()
    ping.connect(broker.host, broker.port)
    ping.subscribe("bench/pong", qos=1)
    ping.loop_start()
    time.sleep(0.5)  # both SUBACKs in
    out = []
    try:
        for _ in range(rounds):
            got.clear()
            t0 = time.monotonic()
            ping.publish("bench/ping", b"x", qos=1)
            if got.wait(5):
                out.append(time.monotonic() - t0)
            time.sleep(0.1)
    finally:
        for c in (ping, echo):
            c.disconnect()
            c.loop_stop()
    return out


def _station(root: Path, broker: MosquittoBroker) -> subprocess.Popen[bytes]:
    base, _ports = demo_station_copy(root / "ports")
    st = station_instance(
        base,
        root / SID,
        SID,
        (broker.host, broker.port),
        primary_host=HOST_ID,
        keepalive=10,
        remote_write=(TAG,),
    )
    cmd = [sys.executable, "-m", "hmi", "demo", "--headless", "--station-dir", str(st)]
    cmd += ["--uplink-on", "--scenario", "gas_leak", "--speed", "4"]
    cmd += ["--data-dir", str(root / "station-data")]
    env = dict(os.environ, GAS_HMI_DATA_ROOT=str(root / "xdg"))
    log = open(root / "station.log", "wb")  # noqa: SIM115 - the child's output
    try:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def _acks(host: DispatchHost, rounds: int) -> tuple[list[float], int, int]:
    """Remote acks of the station's unacknowledged alarms (``all`` when none is open)."""
    op = Session("bench.dispatch", Role.OPERATOR)
    out, refused, real = [], 0, 0
    for _ in range(rounds):
        open_ = [a.key for a in host.model.active_alarms() if a.unacked and a.station == SID]
        real += bool(open_)
        keys = open_[:1] or [(SID, "all")]
        req = host.acknowledge(op, keys, "bench")
        wait_until(lambda r=req: r.done, 10, 0.002, "the station's ack reply")
        confirmed, ok, _msg = req.replies[SID]
        out.append(confirmed - req.sent)
        refused += not ok
        time.sleep(0.2)
    return out, refused, real


def _writes(host: DispatchHost, rounds: int) -> tuple[list[float], int]:
    op = Session("bench.dispatch", Role.OPERATOR)
    out, refused = [], 0
    for k in range(rounds):
        req = host.write(op, SID, TAG, 18.0 + (k % 5))
        wait_until(lambda r=req: r.done, 10, 0.002, "the station's write reply")
        out.append((req.confirmed or req.sent) - req.sent)
        refused += not req.ok
        time.sleep(0.2)
    return out, refused


def _row(name: str, xs: list[float], base: float, note: str = "") -> str:
    xs = sorted(xs)
    p50, p90 = statistics.median(xs), xs[int(0.9 * (len(xs) - 1))]
    ms = f"{p50 * 1000:7.1f} {p90 * 1000:7.1f} {xs[-1] * 1000:7.1f}"
    return f"{name:<14} {len(xs):>3}  {ms}   x{p50 / base:6.1f}  {note}"


def main() -> None:
    """Run the three round trips and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp_name:
        tmp = Path(tmp_name)
        broker = MosquittoBroker(tmp / "mqtt").start()
        host = DispatchHost(broker.url, tmp / "dispatch", HOST_ID, keepalive=10)
        station = None
        try:
            base = _baseline(broker, args.rounds)
            host.start()
            station = _station(tmp, broker)

            def live() -> bool:
                st = host.model.stations.get(SID)
                return bool(st and st.online and TAG in st.metrics)

            wait_until(live, 90, 0.1, "the station born at the dispatch")
            time.sleep(5.0)  # past the station's start-up burst (births, first scans)
            acks, ack_refused, ack_real = _acks(host, args.rounds)
            writes, write_refused = _writes(host, args.rounds)
        finally:
            host.stop()
            if station is not None:
                station.send_signal(signal.SIGTERM)
                try:
                    station.wait(30)
                except subprocess.TimeoutExpired:
                    station.kill()
                    station.wait(10)
            broker.stop()
    b50 = statistics.median(base)
    print("round trip       n   p50 ms  p90 ms  max ms   / baseline p50")
    print(_row("baseline MQTT", base, b50, "paho ping -> echo -> pong, QoS 1"))
    note = f"refused {ack_refused}; {ack_real} of an open alarm, the rest 'all'"
    print(_row("remote ack", acks, b50, note))
    print(_row("remote write", writes, b50, f"refused {write_refused}; with read-back"))


if __name__ == "__main__":
    main()
