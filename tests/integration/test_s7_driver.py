"""S7 driver against python-snap7's own server (a software S7 CPU) on a free loopback port.

Nothing is mocked: the driver talks ISO-on-TCP to snap7's server, whose data blocks and
marker area are plain bytearrays the test fills with struct (big-endian, as S7 stores
values). Faults the bare server cannot play (a mute CPU, short replies, bit access done
right) are in test_s7_simulator.py, against the simulator's S7 server.
"""

from __future__ import annotations

import asyncio
import struct
import time

import numpy as np
import pytest
import snap7
from snap7.type import SrvArea

from drivers.base import Batch, DeviceState, PointSpec, Quality, WriteStatus
from drivers.s7.address import parse_address
from drivers.s7.driver import S7Driver
from drivers.s7.planner import plan
from tests.helpers import async_wait_until, free_port


class Recorder:
    """Sink + state listener: latest value/quality/reason per tag index, every state change."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple[object, int, str]] = {}
        self.states: list[tuple[DeviceState, DeviceState, str]] = []

    def sink(self, batch: Batch) -> None:
        q = np.broadcast_to(np.asarray(batch.quality), (len(batch.indices),))
        for i, v, qq in zip(batch.indices.tolist(), batch.values.tolist(), q.tolist(), strict=True):
            self.latest[i] = (v, qq, batch.reason)

    def on_state(self, device_id: str, old: DeviceState, new: DeviceState, reason: str) -> None:
        self.states.append((old, new, reason))

    def good(self, *indices: int) -> bool:
        return all(self.latest.get(i, (None, 0, ""))[1] == Quality.GOOD for i in indices)

    def bad(self, *indices: int, reason: str = "") -> bool:
        return all(
            (e := self.latest.get(i)) is not None and e[1] == Quality.BAD and reason in e[2]
            for i in indices
        )

    def value(self, index: int) -> object:
        return self.latest[index][0]


def run(coro) -> None:
    """Run one test body on a fresh loop and check it left no task behind."""

    async def guarded():
        await asyncio.wait_for(coro, 30)
        await asyncio.sleep(0)
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftovers, f"tasks left running: {leftovers}"

    asyncio.run(guarded())


#: address, value stored in the server, how it is packed
TYPED = [
    ("DB10.DBD4:real", 3.25, ">f"),
    ("DB10.DBW2:int", -1234, ">h"),
    ("DB10.DBW8", 65000, ">H"),
    ("DB10.DBW10:uint", 40000, ">H"),
    ("DB10.DBB1", 200, ">B"),
    ("DB10.DBB12:sint", -5, ">b"),
    ("DB5.DBD8:dint", -100000, ">i"),
    ("DB5.DBD12:udint", 3_000_000_000, ">I"),
    ("DB5.DBD16:dword", 0xDEADBEEF, ">I"),
    ("MW20:int", -321, ">h"),
    ("MD24:real", 0.125, ">f"),
]
BITS = [("DB10.DBX0.3", True), ("DB10.DBX0.4", False), ("M3.1", True)]


class Cpu:
    """A snap7 server with DB10, DB5, the markers, inputs and outputs registered."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.db10, self.db5 = bytearray(64), bytearray(32)
        self.mk, self.pe, self.pa = bytearray(32), bytearray(128), bytearray(8)
        self.server: snap7.Server | None = None

    def fill(self) -> None:
        areas = {"DB10": self.db10, "DB5": self.db5, "M": self.mk}
        for address, value, fmt in TYPED:
            a = parse_address(address)
            struct.pack_into(fmt, areas[f"DB{a.db}" if a.area == "DB" else "M"], a.byte, value)
        self.db10[0] = 0b0000_1000
        self.mk[3] = 0b10
        self.db10[20:23] = bytes([16, 5]) + b"H"
        self.db10[23:27] = b"ELLO"
        struct.pack_into(">h", self.pe, 64, 27648)  # full-scale raw analog input
        self.pe[0] = 0b10
        self.pa[1] = 0b1

    def start(self) -> Cpu:
        s = snap7.Server(log=False)
        s.register_area(SrvArea.DB, 10, self.db10)
        s.register_area(SrvArea.DB, 5, self.db5)
        s.register_area(SrvArea.MK, 0, self.mk)
        s.register_area(SrvArea.PE, 0, self.pe)
        s.register_area(SrvArea.PA, 0, self.pa)
        s.start_to("127.0.0.1", self.port)
        self.server = s
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="module")
def cpu():
    c = Cpu(free_port())
    c.fill()
    c.start()
    yield c
    c.stop()


@pytest.fixture(autouse=True)
def _refill(cpu):
    cpu.fill()


def _driver(port: int, points: list[PointSpec], rec: Recorder, **params) -> S7Driver:
    base = {"port": port, "timeout": 0.5, "retries": 0, "backoff_initial": 0.1, "backoff_max": 0.4}
    return S7Driver("plc1", {**base, **params}, points, rec.sink, rec.on_state)


def _points(addresses: list[str], period: float = 0.1, writable: bool = False) -> list[PointSpec]:
    return [PointSpec(i, f"t{i}", a, period, writable) for i, a in enumerate(addresses)]


def test_every_type_and_area_decodes_big_endian(cpu):
    addresses = [a for a, _, _ in TYPED] + [a for a, _ in BITS]
    addresses += ["DB10.DBB20:string[16]", "DB10.DBB22:char", "IW64", "I0.1", "I0.0", "Q1.0"]
    rec = Recorder()

    async def body():
        drv = _driver(cpu.port, _points(addresses), rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(*range(len(addresses))), 5, what="all GOOD")
        finally:
            await drv.stop()
        d = drv.diagnostics().as_dict()
        assert d["pdu_size"] == 480
        assert d["cpu_state"] == "unknown"  # snap7's bare server has no SZL 0x0424

    run(body())
    for i, (_a, value, _fmt) in enumerate(TYPED):
        assert rec.value(i) == pytest.approx(value), addresses[i]
    n = len(TYPED)
    assert [rec.value(n + k) for k in range(3)] == [1.0, 0.0, 1.0]
    assert rec.value(n + 3) == "HELLO"
    assert rec.value(n + 4) == "H"
    assert rec.value(n + 5) == 27648.0
    assert [rec.value(n + 6), rec.value(n + 7), rec.value(n + 8)] == [1.0, 0.0, 1.0]


def test_requests_per_scan_follow_the_plan_and_the_granted_pdu(cpu):
    # words 28+ bytes apart (beyond the 16-byte gap): 7 variables, one request by default,
    # 3 requests when a request may carry 3 variables.
    addresses = ["DB10.DBW0", "DB10.DBW30", "DB10.DBW60"] + [f"MW{i}" for i in (0, 28)]
    addresses += ["DB5.DBW0", "DB5.DBW28"]
    rec = Recorder()
    ranges, requests = plan(
        [(i, parse_address(a)) for i, a in enumerate(addresses)], pdu_size=480, max_gap_bytes=16
    )
    assert len(ranges) == 7 and len(requests) == 1

    async def body():
        drv = _driver(cpu.port, _points(addresses), rec, max_items=3, pdu_size=240)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(*range(len(addresses))), 5, what="all GOOD")
            before = drv.diag.requests
            await async_wait_until(lambda: drv.diag.requests >= before + 3 * 3, 5, what="3 scans")
        finally:
            await drv.stop()
        d = drv.diagnostics().as_dict()
        assert d["pdu_size"] == 240
        assert d["requests_per_scan"] == 3  # 7 variables, 3 a request
        assert d["errors"] == 0

    run(body())


def test_missing_db_and_range_past_the_end_are_bad_with_the_s7_reason(cpu):
    addresses = ["DB10.DBW2:int", "DB99.DBW0", "DB5.DBD40:real"]
    rec = Recorder()

    async def body():
        drv = _driver(cpu.port, _points(addresses), rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0) and rec.bad(1, 2), 5, what="mixed")
            assert drv.state is DeviceState.UP  # the CPU answers: only those tags are BAD
        finally:
            await drv.stop()

    run(body())
    assert "S7 error 0x0a" in rec.latest[1][2] and "DB99 bytes 0-1" in rec.latest[1][2]
    assert "0x05" in rec.latest[2][2] and "optimized block access" in rec.latest[2][2]
    assert rec.value(0) == -1234.0


def test_writes_reach_the_cpu_and_read_back(cpu):
    addresses = ["DB10.DBD4:real", "DB10.DBW2:int", "DB10.DBB20:string[16]", "MD24:real", "Q1.0"]
    rec = Recorder()

    async def body():
        drv = _driver(cpu.port, _points(addresses, period=5.0, writable=True), rec)
        await drv.start()
        try:
            await async_wait_until(lambda: drv.state is DeviceState.UP, 5, what="UP")
            results = [
                await drv.write(0, 21.5),
                await drv.write(1, -7),
                await drv.write(2, "PLC-A1"),
                await drv.write(3, -0.5),
                await drv.write(4, False),
            ]
            assert all(r.ok for r in results), results
            back = await drv.read([0, 1, 2, 3, 4])
        finally:
            await drv.stop()
        assert list(back.values) == [21.5, -7.0, "PLC-A1", -0.5, 0.0]
        assert (np.asarray(back.quality) == Quality.GOOD).all()

    run(body())
    assert struct.unpack_from(">f", cpu.db10, 4)[0] == 21.5
    assert struct.unpack_from(">h", cpu.db10, 2)[0] == -7
    assert cpu.db10[20:28] == bytes([16, 6]) + b"PLC-A1"


def test_bad_writes_are_refused_before_the_wire(cpu):
    addresses = ["DB10.DBW2:int", "IW64", "DB10.DBB20:string[4]", "DB10.DBW8", "DB10.DBD4:real"]
    rec = Recorder()
    points = _points(addresses, period=5.0, writable=True)
    points[4] = PointSpec(4, "t4", "DB10.DBD4:real", 5.0, False)

    async def body():
        drv = _driver(cpu.port, points, rec)
        await drv.start()
        try:
            await async_wait_until(lambda: drv.state is DeviceState.UP, 5, what="UP")
            over = await drv.write(0, 40000)
            inputs = await drv.write(1, 5)
            long_text = await drv.write(2, "too long")
            fraction = await drv.write(3, 1.5)
            readonly = await drv.write(4, 1.0)
            missing = await drv.write(99, 1.0)
        finally:
            await drv.stop()
        assert over.status is WriteStatus.INVALID and "-32768..32767" in over.message
        assert inputs.status is WriteStatus.INVALID and "inputs are read-only" in inputs.message
        assert long_text.status is WriteStatus.INVALID and "exceed" in long_text.message
        assert fraction.status is WriteStatus.INVALID and "fraction" in fraction.message
        assert readonly.status is WriteStatus.INVALID and "read-only" in readonly.message
        assert missing.status is WriteStatus.INVALID

    run(body())
    assert struct.unpack_from(">h", cpu.db10, 2)[0] == -1234  # nothing was written


def test_cpu_loss_and_recovery():
    """The CPU leaves (server stopped) and comes back on the same port."""
    c = Cpu(free_port())
    c.fill()
    c.start()
    rec = Recorder()

    async def body():
        drv = _driver(c.port, _points(["DB10.DBD4:real", "MW20:int"]), rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0, 1), 5, what="GOOD")
            await asyncio.to_thread(c.stop)
            await async_wait_until(lambda: rec.bad(0, 1), 10, what="BAD after loss")
            await async_wait_until(lambda: drv.state is DeviceState.BACKOFF, 5, what="BACKOFF")
            reason = rec.latest[0][2]
            assert "connect" in reason or "lost" in reason or "timeout" in reason, reason
            struct.pack_into(">f", c.db10, 4, 9.5)
            await asyncio.to_thread(c.start)
            await async_wait_until(lambda: rec.good(0) and rec.value(0) == 9.5, 10, what="back")
        finally:
            await drv.stop()
            await asyncio.to_thread(c.stop)
        assert drv.diag.reconnects >= 1
        assert drv.diag.errors >= 1 and drv.diag.last_error

    run(body())


def test_refused_connection_backs_off_with_the_reason():
    rec = Recorder()
    port = free_port()

    async def body():
        drv = _driver(port, _points(["DB1.DBW0"]), rec)
        t0 = time.monotonic()
        await drv.start()
        try:
            await async_wait_until(lambda: rec.bad(0, reason="cannot connect"), 5, what="BAD")
            assert drv.state in (DeviceState.BACKOFF, DeviceState.CONNECTING)
        finally:
            await drv.stop()
        assert time.monotonic() - t0 < 5
        assert drv.state is DeviceState.STOPPED

    run(body())
    assert f"127.0.0.1:{port}" in rec.latest[0][2]


def test_config_error_points_are_bad_and_the_rest_polls(cpu):
    rec = Recorder()

    async def body():
        drv = _driver(cpu.port, _points(["DB10.DBW2:real", "DB10.DBW2:int"]), rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(1), 5, what="GOOD")
        finally:
            await drv.stop()

    run(body())
    assert rec.bad(0, reason="config error") and "use a D address" in rec.latest[0][2]


def test_explicit_tsaps_connect(cpu):
    """LOGO!-style fixed TSAPs instead of rack/slot (snap7's server accepts any TSAP)."""
    rec = Recorder()

    async def body():
        drv = _driver(cpu.port, _points(["MW20:int"]), rec, local_tsap="1000", remote_tsap="0200")
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0), 5, what="GOOD")
        finally:
            await drv.stop()
        assert drv.diag.endpoint.endswith("TSAP 1000/0200")

    run(body())
    assert rec.value(0) == -321.0
