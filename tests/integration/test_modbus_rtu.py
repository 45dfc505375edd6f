"""Modbus RTU drivers against real RTU slaves: pymodbus's own serial/RTU-over-TCP servers and
the simulator's units on a pseudo-terminal.

Nothing is mocked. Serial lines are pseudo-terminals: a socat pair (pymodbus's serial
server on one end, the driver on the other) or the simulator's own pty linked at a path
in ``tmp_path``. What a pty cannot give is a physical line (baud-rate pacing, parity on
the wire); the timing of the bus is covered by ``bench/bench_rtu.py``, not here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import time

import pytest
from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.base import DeviceState, PointSpec, Quality
from drivers.modbus.rtu_driver import ModbusRtuDriver, ModbusRtuOverTcpDriver
from drivers.sim.model import StationModel
from drivers.sim.rtu_server import ModbusRtuSimServer
from drivers.sim.runner import Simulator
from drivers.sim.spec import SimDeviceSpec, SimPointSpec
from tests.helpers import async_wait_until, free_port, wait_until
from tests.integration.test_modbus_driver import TYPED, Recorder, _fill, run
from tests.modbus_server import RegisterImage

FAST = {"timeout": 0.3, "retries": 0, "backoff_initial": 0.1, "backoff_max": 0.4}


@pytest.fixture(scope="module")
def socat_pair(tmp_path_factory):
    """Two linked pseudo-terminals (paths a, b): bytes written to one come out of the other."""
    d = tmp_path_factory.mktemp("pty")
    a, b = d / "slave-side", d / "master-side"
    proc = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: a.exists() and b.exists(), 10, what="socat ptys")
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(10)


class PymodbusRtu:
    """pymodbus's RTU server (serial port or RTU framing over TCP) serving a RegisterImage."""

    def __init__(self, port: str | None = None, tcp_port: int = 0) -> None:
        self.image = RegisterImage()
        device = SimDevice(id=0, simdata=SimData(0, count=1, datatype=DataType.REGISTERS))
        if port is not None:
            self.server = ModbusSerialServer(
                device, framer=FramerType.RTU, port=port, baudrate=115200
            )
        else:
            self.server = ModbusTcpServer(
                device, framer=FramerType.RTU, address=("127.0.0.1", tcp_port)
            )
        self.server.context = self.image  # type: ignore[assignment]

    async def __aenter__(self) -> PymodbusRtu:
        await self.server.serve_forever(background=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.shutdown()
        await asyncio.sleep(0)


def _typed_points() -> list[PointSpec]:
    return [PointSpec(i, f"t{i}", text, 0.2) for i, (text, _) in enumerate(TYPED)]


@pytest.mark.parametrize("transport", ["serial", "tcp"])
def test_every_type_and_byte_order_over_rtu(transport, socat_pair):
    async def body():
        tcp_port = free_port()
        server = PymodbusRtu(socat_pair[0] if transport == "serial" else None, tcp_port)
        async with server:
            _fill(server, TYPED)
            rec = Recorder()
            if transport == "serial":
                params = {"serial_port": socat_pair[1], "baudrate": 115200, "unit_id": 3}
                drv: ModbusRtuDriver = ModbusRtuDriver(
                    "fc", {**FAST, **params}, _typed_points(), rec.sink, rec.on_state
                )
            else:
                params = {"host": "127.0.0.1", "port": tcp_port, "unit_id": 3}
                drv = ModbusRtuOverTcpDriver(
                    "fc", {**FAST, **params}, _typed_points(), rec.sink, rec.on_state
                )
            await drv.start()
            try:
                await async_wait_until(lambda: rec.good(*range(len(TYPED))), 10, what="all GOOD")
                for i, (_text, want) in enumerate(TYPED):
                    want_v = want if isinstance(want, str) else pytest.approx(float(want))
                    assert rec.value(i) == want_v, TYPED[i]
                # hr 0-31, ir 5-7, co 3, di 9-10: four requests per scan, as over Modbus TCP
                assert drv.diag.requests_per_scan == 4
                reads = server.image.reads
                await async_wait_until(lambda: server.image.reads >= reads + 8, 10, what="2 scans")
                assert drv.diag.errors == 0 and drv.state is DeviceState.UP
            finally:
                await drv.stop()
            assert drv.state is DeviceState.STOPPED

    run(body())


def test_writes_of_each_kind_over_rtu(socat_pair):
    async def body():
        async with PymodbusRtu(socat_pair[0]) as server:
            rec = Recorder()
            points = [
                PointSpec(0, "sp", "hr:10:f32", 0.2, True),
                PointSpec(1, "mode", "hr:12:u16", 0.2, True),
                PointSpec(2, "cmd", "co:4", 0.2, True),
                PointSpec(3, "flag", "hr:13:bit:5", 0.2, True),
                PointSpec(4, "ro", "ir:0", 0.2, False),
            ]
            params = {"serial_port": socat_pair[1], "baudrate": 115200, "unit_id": 9}
            drv = ModbusRtuDriver("plc", {**FAST, **params}, points, rec.sink, rec.on_state)
            await drv.start()
            try:
                await async_wait_until(lambda: rec.good(0, 1, 2, 3, 4), 10, what="GOOD")
                server.image.hr[13] = 0x0001
                for index, value in ((0, 0.41), (1, 7), (2, True), (3, True)):
                    res = await drv.write(index, value)
                    assert res.ok, (index, res)
                back = await drv.read([0, 1, 2, 3])
                assert back.values.tolist() == pytest.approx([0.41, 7.0, 1.0, 1.0])
                assert server.image.hr[13] == 0x0021  # bit 5 set, bit 0 kept
                assert [w[0] for w in server.image.writes] == [16, 6, 5, 6]
                res = await drv.write(4, 1)
                assert not res.ok and "read-only" in res.message
            finally:
                await drv.stop()

    run(body())


def test_exception_reply_is_bad_with_its_name(socat_pair):
    async def body():
        async with PymodbusRtu(socat_pair[0]) as server:
            server.image.illegal.add(("hr", 20))
            rec = Recorder()
            points = [PointSpec(0, "ok", "hr:0", 0.2), PointSpec(1, "gone", "hr:20", 0.2)]
            params = {"serial_port": socat_pair[1], "baudrate": 115200, "max_gap_registers": 0}
            drv = ModbusRtuDriver("fc", {**FAST, **params}, points, rec.sink, rec.on_state)
            await drv.start()
            try:
                reason = "Modbus exception 2 (illegal data address) from unit 1 on hr 20-20"
                await async_wait_until(lambda: rec.good(0) and rec.bad(1, reason=reason), 10)
                assert drv.state is DeviceState.UP  # an exception still proves the unit talks
            finally:
                await drv.stop()

    run(body())


# ---------------------------------------------------------------- the simulator's units
def _units(path: str, protocol: str = "modbus_rtu", port: int = 0, **line):
    """Two simulated units on one bus: a flow computer (unit 1) and gas detection (unit 2)."""
    model = StationModel(seed=1)
    params = {"serial_port": path, "baudrate": 19200, **line}
    fc = ModbusRtuSimServer(
        SimDeviceSpec("fc", protocol, "127.0.0.1", port, 1, params),
        [
            SimPointSpec("flow", "fc", "hr:0:f32", {"signal": "const", "base": 1234.5}),
            SimPointSpec("sp", "fc", "hr:2:f32", None, writable=True),
        ],
        model,
    )
    gd = ModbusRtuSimServer(
        SimDeviceSpec("gd", protocol, "127.0.0.1", port, 2, params),
        [SimPointSpec("lel", "gd", "ir:0:i16", {"signal": "const", "base": 3})],
        model,
    )
    return fc, gd


def _fc_points() -> list[PointSpec]:
    return [PointSpec(0, "flow", "hr:0:f32", 0.2), PointSpec(1, "sp", "hr:2:f32", 0.2, True)]


def _gd_points() -> list[PointSpec]:
    return [PointSpec(2, "lel", "ir:0:i16", 0.2)]


def _drivers(protocol: str, path: str, port: int, rec: Recorder, **extra):
    """Drivers for the two units of ``_units`` (unit 1: tags 0-1, unit 2: tag 2)."""
    if protocol == "modbus_rtu":
        line: dict = {"serial_port": path, "baudrate": 19200}
        cls: type[ModbusRtuDriver] = ModbusRtuDriver
    else:
        line, cls = {"host": "127.0.0.1", "port": port}, ModbusRtuOverTcpDriver
    p = {**FAST, **extra, **line}
    d1 = cls("fc", {**p, "unit_id": 1}, _fc_points(), rec.sink)
    return d1, cls("gd", {**p, "unit_id": 2}, _gd_points(), rec.sink)


@pytest.mark.parametrize("protocol", ["modbus_rtu", "modbus_rtu_over_tcp"])
@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("bad_crc", "CRC error in reply from unit 2 on ir 0-0"),
        ("truncated", "truncated frame: 3 of 7 bytes from unit 2"),
        ("wrong_unit", "reply from unit 3 to a request for unit 2 on ir 0-0"),
    ],
)
def test_malformed_replies_are_bad_with_the_reason(kind, reason, protocol, tmp_path):
    async def body():
        path, port = str(tmp_path / "rs485"), free_port()
        fc, gd = _units(path, protocol, port)
        await fc.start()
        await gd.start()
        rec = Recorder()
        d1, d2 = _drivers(protocol, path, port, rec)
        await d1.start()
        await d2.start()
        try:
            await async_wait_until(lambda: rec.good(0, 2), 10, what="both units GOOD")
            gd.set_malformed(kind)
            await async_wait_until(lambda: rec.bad(2, reason=reason), 10, what=reason)
            assert rec.good(0)  # the other unit on the bus is unaffected
            gd.set_malformed("")
            await async_wait_until(lambda: rec.good(2), 10, what="recovery")
            assert rec.value(2) == 3.0
        finally:
            await d1.stop()
            await d2.stop()
            await fc.stop()
            await gd.stop()
        assert not os.path.lexists(path)  # the simulator removed its link

    run(body())


@pytest.mark.parametrize("protocol", ["modbus_rtu", "modbus_rtu_over_tcp"])
def test_silent_unit_does_not_starve_the_other(protocol, tmp_path):
    """Unit 2 stops answering; unit 1 (period 0.2 s) keeps its period within one response
    timeout, and unit 2 goes BAD, backs off and comes back."""

    async def body():
        path, port = str(tmp_path / "rs485"), free_port()
        fc, gd = _units(path, protocol, port)
        await fc.start()
        await gd.start()
        rec = Recorder()
        slow = {"timeout": 0.25, "retries": 1, "backoff_initial": 0.5, "backoff_max": 2.0}
        d1, d2 = _drivers(protocol, path, port, rec, **slow)
        await d1.start()
        await d2.start()
        try:
            await async_wait_until(lambda: rec.good(0, 2), 10, what="both units GOOD")
            await gd.set_online(False)
            await async_wait_until(lambda: rec.bad(2, reason="unit 2 does not answer"), 10)
            # degraded for degrade_after cycles, as a TCP device, then backoff with a probe
            await async_wait_until(lambda: d2.state is DeviceState.BACKOFF, 10, what="backoff")
            t0 = time.monotonic()
            n0 = len(rec.batches)
            await asyncio.sleep(4.0)  # observe unit 1 while unit 2 stays silent
            stamps = [
                b.recv_ts
                for b in rec.batches[n0:]
                if 0 in b.indices.tolist() and b.quality == Quality.GOOD
            ]
            gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
            assert len(stamps) >= 4.0 / 0.2 * 0.8, (len(stamps), time.monotonic() - t0)
            assert statistics.median(gaps) == pytest.approx(0.2, abs=0.03)
            # at worst one scan waits for one of unit 2's timeouts (plus its retry)
            assert max(gaps) < 0.2 + 2 * 0.25 + 0.1, max(gaps)
            assert d1.state is DeviceState.UP and d1.diag.errors == 0
            assert d2.diag.timeouts >= 3 + 1  # degraded cycles, then at least one probe
            await gd.set_online(True)
            await async_wait_until(lambda: rec.good(2), 10, what="unit 2 back")
            assert d2.diag.reconnects >= 1
        finally:
            await d1.stop()
            await d2.stop()
            await fc.stop()
            await gd.stop()

    run(body())


def test_bus_loss_and_recovery(tmp_path):
    """The whole bus goes (the adapter is unplugged: the pty and its link vanish) and returns."""

    async def body():
        path = str(tmp_path / "rs485")
        fc, gd = _units(path)
        await fc.start()
        await gd.start()
        rec = Recorder()
        line = {"serial_port": path, "baudrate": 19200}
        d1 = ModbusRtuDriver("fc", {**FAST, **line, "unit_id": 1}, _fc_points(), rec.sink)
        try:
            await d1.start()
            await async_wait_until(lambda: rec.good(0), 10, what="GOOD")
            await fc.stop()
            await gd.stop()
            await async_wait_until(lambda: rec.bad(0), 10, what="BAD after the bus is gone")
            await async_wait_until(
                lambda: "cannot open" in d1.diag.last_error, 10, what="open fails"
            )
            assert path in d1.diag.last_error
            await fc.start()
            await async_wait_until(lambda: rec.good(0), 10, what="recovered")
            assert d1.state is DeviceState.UP and d1.diag.reconnects >= 1
        finally:
            await d1.stop()
            await fc.stop()

    run(body())


def test_simulator_scenario_breaks_frames_then_recovers(tmp_path):
    """``malformed_reply`` through the simulator's runner: CRC, truncated, wrong unit, fixed."""

    async def body():
        path = str(tmp_path / "rs485")
        params = {"serial_port": path, "baudrate": 19200}
        devices = [
            SimDeviceSpec("fc", "modbus_rtu", "", 0, 1, params),
            SimDeviceSpec("gd", "modbus_rtu", "", 0, 2, params),
        ]
        points = [
            SimPointSpec("flow", "fc", "hr:0:f32", {"signal": "const", "base": 5.0}),
            SimPointSpec("lel", "gd", "ir:0:i16", {"signal": "const", "base": 3}),
        ]
        sim = Simulator(devices, points, scenario="malformed_reply", speed=20.0, comms_device="gd")
        await sim.start()
        rec = Recorder()
        d2 = ModbusRtuDriver("gd", {**FAST, **params, "unit_id": 2}, _gd_points(), rec.sink)
        seen: list[str] = []

        def watch() -> bool:
            e = rec.latest.get(2)
            if e and e[1] == Quality.BAD and (not seen or seen[-1] != e[2]):
                seen.append(e[2])
            return bool(seen) and rec.good(2) and len(seen) >= 3

        try:
            await d2.start()
            await async_wait_until(watch, 20, interval=0.01, what="three faults, then GOOD")
            text = " | ".join(seen)
            for part in ("CRC error", "truncated frame", "reply from unit 3"):
                assert part in text, text
        finally:
            await d2.stop()
            await sim.stop()

    run(body())


@pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll (Debian package) not installed")
def test_third_party_master_reads_the_simulated_bus(tmp_path):
    """mbpoll (libmodbus) opens the simulator's linked pty and reads both units."""

    async def body():
        path = tmp_path / "rs485"
        fc, gd = _units(str(path), parity="N", stop_bits=2)
        await fc.start()
        await gd.start()
        try:
            out = {}
            for unit, args in (
                (1, ["-t", "4:float", "-r", "1", "-B"]),
                (2, ["-t", "3", "-r", "1"]),
            ):
                cmd = [
                    "mbpoll",
                    "-m",
                    "rtu",
                    "-a",
                    str(unit),
                    "-b",
                    "19200",
                    "-P",
                    "none",
                    "-s",
                    "2",
                    "-1",
                    "-q",
                    *args,
                    str(path),
                ]
                proc = await asyncio.create_subprocess_exec(
                    *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
                )
                stdout, _ = await asyncio.wait_for(proc.communicate(), 20)
                out[unit] = stdout.decode(errors="replace")
                assert proc.returncode == 0, out[unit]
            assert "1234.5" in out[1], out[1]
            assert "[1]: \t3" in out[2] or "[1]: 3" in out[2].replace("\t", ""), out[2]
        finally:
            await fc.stop()
            await gd.stop()

    run(body())
