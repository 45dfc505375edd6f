"""RTU bus benchmark: a scan of two units on one RS-485 bus against the wire-time limit.

The bus of a pressure-regulating station: a flow computer (unit 1, 104 registers) and a
gas-detection controller (unit 2, 66 registers and 32 inputs), realistic register maps,
at 9600 and 19200 baud (8E1: 11 bits a character).

A pseudo-terminal has no baud rate: bytes arrive at once. So the simulated slaves are
*paced* (:attr:`drivers.sim.rtu_server.RtuSlaveBus.paced`): each reply leaves the slave
at request arrival + request wire time + t3.5 turnaround + reply wire time, which is when
its last byte would arrive on a real line. A master that wasted no time at all would
then scan at exactly the wire-time limit, computed per request as

    (request bytes + reply bytes) x 11 bits / baud + 2 x t3.5

(t3.5 before the slave answers, t3.5 before the next request). What the master adds
(Python, asyncio, the pty, its own t3.5 wait) shows as ratio < 1 and as overhead per
request = measured - wire time.

Phases (same paced slaves, same blocks):

* **gas-hmi**: two :class:`~drivers.modbus.rtu_driver.ModbusRtuDriver` devices on the bus,
  poll period 1 ms (they scan back to back, taking turns on the bus);
* **bare pymodbus**: one ``AsyncModbusSerialClient`` reading the same blocks of both units
  in a loop (the library baseline).

``python -m bench.bench_rtu`` (about 1 min), ``--seconds`` per phase and baud (10).
``--station DIR`` takes the units and their tags' addresses from a station config's RS-485 bus
instead (the ``modbus_rtu`` devices sharing the serial port with the most units), e.g.
``--station station_configs/demo_regulator_station``.
Nothing is asserted; figures go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/bench_rtu.py
    sys.path.insert(0, str(ROOT))

from drivers.base import Batch, PointSpec, Quality  # noqa: E402
from drivers.modbus.address import parse_address  # noqa: E402
from drivers.modbus.params import SPEC_CHAR_BITS, t35_seconds  # noqa: E402
from drivers.modbus.planner import Block, plan_blocks  # noqa: E402
from drivers.modbus.rtu_driver import ModbusRtuDriver  # noqa: E402
from drivers.sim.model import StationModel  # noqa: E402
from drivers.sim.rtu_server import ModbusRtuSimServer  # noqa: E402
from drivers.sim.spec import SimDeviceSpec, SimPointSpec  # noqa: E402


def flow_computer() -> list[str]:
    """Unit 1: live values (f32), PTZ inputs, totals (u32/f64), status words: 104 registers."""
    out = [f"ir:{2 * i}:f32" for i in range(24)]  # 0-47 flow, P, T, Z, density, energy ...
    out += [f"ir:{48 + 4 * i}:f64" for i in range(6)]  # 48-71 totals (f64)
    out += [f"ir:{72 + 2 * i}:u32" for i in range(8)]  # 72-87 counters
    out += [f"ir:{88 + i}:u16" for i in range(16)]  # 88-103 status and alarm words
    return out


def gas_detection() -> list[str]:
    """Unit 2: 16 detectors x (LEL f32, status, fault code, alarm level) + 32 relay inputs."""
    out: list[str] = []
    for d in range(16):
        base = 4 * d
        out += [f"ir:{base}:f32", f"ir:{base + 2}:u16", f"ir:{base + 3}:u16"]
    out += ["ir:64:u16", "ir:65:u16"]  # controller status, active alarm count
    out += [f"di:{i}" for i in range(32)]
    return out


Units = dict[int, list[str]]  # unit id -> the addresses polled from it


def default_units() -> Units:
    """The synthetic bus: flow computer (unit 1) and gas-detection controller (unit 2)."""
    return {1: flow_computer(), 2: gas_detection()}


def station_bus(station_dir: str) -> tuple[str, Units]:
    """(serial port, units) of the station's RS-485 bus with the most units."""
    from hmi.config import load_station

    cfg = load_station(Path(station_dir))
    buses: dict[str, Units] = {}
    for d in cfg.devices:
        if d.protocol == "modbus_rtu":
            addrs = [t.address for t in cfg.tags if t.device == d.id]
            buses.setdefault(str(getattr(d, "serial_port", "")), {})[int(d.unit_id)] = addrs
    if not buses:
        raise SystemExit(f"bench_rtu: {station_dir} has no modbus_rtu device")
    return max(buses.items(), key=lambda kv: len(kv[1]))


def blocks_of(addresses: list[str]) -> list[Block]:
    """The planner's blocks for a unit (what both phases read)."""
    return plan_blocks([(i, parse_address(a)) for i, a in enumerate(addresses)])


def reply_bytes(b: Block) -> int:
    """Bytes of the reply to a read block: unit, fc, count, data, CRC."""
    data = (b.count + 7) // 8 if b.table in ("co", "di") else 2 * b.count
    return 5 + data


def wire_limit(blocks: list[Block], baud: int) -> float:
    """Seconds one scan of ``blocks`` needs on the wire at ``baud`` (see the module docstring)."""
    bits = sum((8 + reply_bytes(b)) * SPEC_CHAR_BITS for b in blocks)
    return bits / baud + len(blocks) * 2 * t35_seconds(baud)


async def _serve(path: str, baud: int, units: Units) -> list[ModbusRtuSimServer]:
    model = StationModel(seed=1)
    params = {"serial_port": path, "baudrate": baud, "parity": "E"}
    servers = []
    for unit, addrs in units.items():
        dev = SimDeviceSpec(f"u{unit}", "modbus_rtu", "", 0, unit, params)
        points = [
            SimPointSpec(f"u{unit}.p{i}", dev.id, a, {"signal": "sine", "base": 50, "amp": 5})
            for i, a in enumerate(addrs)
        ]
        server = ModbusRtuSimServer(dev, points, model)
        await server.start()
        servers.append(server)
    assert servers[0].bus is not None
    servers[0].bus.paced = True
    return servers


async def run_gas_hmi(
    path: str, baud: int, seconds: float, units: Units
) -> tuple[dict[int, int], float]:
    """(scans completed per unit, elapsed s) by one ModbusRtuDriver a unit in about ``seconds``."""
    scans = dict.fromkeys(units, 0)

    def sink_for(unit: int) -> Any:
        def sink(batch: Batch) -> None:
            if batch.quality == Quality.GOOD and bool((batch.indices == 0).any()):
                scans[unit] += 1

        return sink

    drivers = []
    for unit, addrs in units.items():
        points = [PointSpec(i, f"p{i}", a, 0.001) for i, a in enumerate(addrs)]
        params = {"serial_port": path, "baudrate": baud, "parity": "E", "unit_id": unit}
        drivers.append(
            ModbusRtuDriver(f"u{unit}", {**params, "timeout": 1.0}, points, sink_for(unit))
        )
    for d in drivers:
        await d.start()
    deadline = time.monotonic() + 10
    while not all(scans.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    start, t0 = dict(scans), time.perf_counter()
    await asyncio.sleep(seconds)
    done, elapsed = {u: scans[u] - start[u] for u in scans}, time.perf_counter() - t0
    for d in drivers:
        await d.stop()
    errors = sum(d.diag.errors for d in drivers)
    if errors:
        print(f"    (gas-hmi phase: {errors} errors)")
    return done, elapsed


async def run_bare(
    path: str, baud: int, seconds: float, units: Units
) -> tuple[dict[int, int], float]:
    """(scans per unit, elapsed s) of a bare pymodbus serial client reading the same blocks."""
    from pymodbus.client import AsyncModbusSerialClient

    client = AsyncModbusSerialClient(path, baudrate=baud, parity="N", timeout=1.0, retries=0)
    await client.connect()
    plan = {u: blocks_of(a) for u, a in units.items()}
    calls = {1: client.read_coils, 2: client.read_discrete_inputs}
    calls |= {3: client.read_holding_registers, 4: client.read_input_registers}
    scans = dict.fromkeys(units, 0)
    for unit, blocks in plan.items():  # warm-up scan, not counted
        for b in blocks:
            await calls[b.function_code](b.start, count=b.count, device_id=unit)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for unit, blocks in plan.items():
            for b in blocks:
                await calls[b.function_code](b.start, count=b.count, device_id=unit)
            scans[unit] += 1
    elapsed = time.perf_counter() - t0
    client.close()
    return scans, elapsed


async def one_baud(baud: int, seconds: float, units: Units) -> None:
    """Both phases at one baud rate; print the table rows."""
    plan = {u: blocks_of(a) for u, a in units.items()}
    limit = {u: wire_limit(b, baud) for u, b in plan.items()}
    requests = {u: len(b) for u, b in plan.items()}
    bus_limit = sum(limit.values())
    per_unit = ", ".join(f"unit {u} {limit[u] * 1e3:.1f}" for u in limit)
    print(
        f"  {baud} baud 8E1: bus scan = {' + '.join(str(n) for n in requests.values())} "
        f"requests, wire-time limit {bus_limit * 1e3:.1f} ms ({per_unit})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "rs485")
        ratios: list[float] = []
        for name, phase in (("gas-hmi", run_gas_hmi), ("bare pymodbus", run_bare)):
            servers = await _serve(path, baud, units)
            bus = servers[0].bus
            assert bus is not None
            try:
                n0, late0 = bus.requests, bus.late
                done, elapsed = await phase(path, baud, seconds, units)
                n_slave, late = bus.requests - n0, bus.late - late0
            finally:
                for s in servers:
                    await s.stop()
            busy = sum(done[u] * limit[u] for u in done)  # wire time the completed scans need
            n_req = sum(done[u] * requests[u] for u in done)
            ratio = busy / elapsed
            ratios.append(ratio)
            overhead = (elapsed - busy) / n_req * 1e3 if n_req else float("nan")
            slave_late = late / n_slave * 1e3 if n_slave else float("nan")
            print(
                f"    {name:<14} scans {' + '.join(f'{n:>4}' for n in done.values())} in {elapsed:.2f} s, "
                f"bus scan {bus_limit / ratio * 1e3:6.1f} ms, ratio to the limit {ratio:.3f}, "
                f"overhead {overhead:.2f} ms/request (of it the paced slave late {slave_late:.2f})"
            )
        print(f"    gas-hmi / bare pymodbus: {ratios[0] / ratios[1]:.3f}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="per phase and baud rate")
    ap.add_argument("--baud", type=int, nargs="*", default=[9600, 19200])
    ap.add_argument("--station", help="take the bus (units, tag addresses) from this station")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.station:
        port, units = station_bus(args.station)
        print(f"RTU bus scan: {args.station}, bus {port}, units {', '.join(map(str, units))}")
    else:
        units = default_units()
        print("RTU bus scan: flow computer (unit 1) + gas detection (unit 2) on one bus")
    for unit, addrs in units.items():
        blocks = blocks_of(addrs)
        regs = sum(b.count for b in blocks if b.table in ("hr", "ir"))
        text = ", ".join(f"{b.table} {b.start}-{b.end - 1}" for b in blocks)
        print(f"  unit {unit}: {regs} registers, {len(blocks)} requests ({text})")
    for baud in args.baud:
        asyncio.run(one_baud(baud, args.seconds, units))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
