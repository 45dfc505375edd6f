"""Modbus driver against a real pymodbus TCP server (tests/modbus_server.py) and a raw TCP server.

Nothing is mocked: the driver talks Modbus TCP over loopback to pymodbus's own server
(with a test register image as datastore) or, for broken replies, to a plain asyncio
server that answers hand-made frames.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import psutil
import pytest
from pymodbus.constants import ExcCodes

from drivers.base import Batch, DeviceState, PointSpec, Quality, WriteStatus
from drivers.modbus.address import parse_address
from drivers.modbus.codec import encode
from drivers.modbus.driver import ModbusDriver
from tests.helpers import async_wait_until, free_port
from tests.modbus_server import ModbusTestServer


class Recorder:
    """Sink + state listener: latest value/quality/reason per tag index, every state change."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple[object, int, str]] = {}
        self.batches: list[Batch] = []
        self.states: list[tuple[float, DeviceState, DeviceState, str]] = []

    def sink(self, batch: Batch) -> None:
        self.batches.append(batch)
        q = np.broadcast_to(np.asarray(batch.quality), (len(batch.indices),))
        for i, v, qq in zip(batch.indices.tolist(), batch.values.tolist(), q.tolist(), strict=True):
            self.latest[i] = (v, qq, batch.reason)

    def on_state(self, device_id: str, old: DeviceState, new: DeviceState, reason: str) -> None:
        self.states.append((time.monotonic(), old, new, reason))

    def good(self, *indices: int) -> bool:
        return all(self.latest.get(i, (None, 0, ""))[1] == Quality.GOOD for i in indices)

    def bad(self, *indices: int, reason: str = "") -> bool:
        return all(
            (e := self.latest.get(i)) is not None and e[1] == Quality.BAD and reason in e[2]
            for i in indices
        )

    def value(self, index: int) -> object:
        return self.latest[index][0]


def _driver(port: int, points: list[PointSpec], rec: Recorder, **params) -> ModbusDriver:
    base = {"port": port, "timeout": 0.5, "retries": 0, "backoff_initial": 0.1, "backoff_max": 0.4}
    return ModbusDriver("plc1", {**base, **params}, points, rec.sink, rec.on_state)


def run(coro) -> None:
    """Run one test body on a fresh loop and check it left no task behind."""

    async def guarded():
        await asyncio.wait_for(coro, 30)
        await asyncio.sleep(0)
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftovers, f"tasks left running: {leftovers}"

    asyncio.run(guarded())


TYPED = [
    ("hr:0:u16", 65000),
    ("hr:1:i16", -1234),
    ("hr:2:f32", 123456.0),
    ("hr:4:f32:cdab", -2.5),
    ("hr:6:f32:badc", 0.125),
    ("hr:8:f32:dcba", 1e6),
    ("hr:10:i32", -100000),
    ("hr:12:u32:cdab", 3_000_000_000),
    ("hr:14:f64:dcba", 101.325),
    ("hr:18:i64:cdab", -(2**40)),
    ("hr:22:u64", 2**50),
    ("hr:26:bit:3", True),
    ("hr:26:bit:4", False),
    ("hr:27:bool", True),
    ("hr:30:str:4", "GC-7"),
    ("ir:5:u16", 42),
    ("ir:6:f32:cdab", 6.5),
    ("co:3", True),
    ("di:9", True),
    ("di:10", False),
]


def _fill(server: ModbusTestServer, pairs) -> None:
    img = server.image
    for text, value in pairs:
        a = parse_address(text)
        words = encode(a, value)
        table = img.table(a.table)
        if a.type == "bit":
            table[a.offset] = table[a.offset] | words[0]
        else:
            table[a.offset : a.offset + len(words)] = words


def test_every_type_decodes_right():
    async def body():
        async with ModbusTestServer() as server:
            _fill(server, TYPED)
            rec = Recorder()
            points = [PointSpec(i, f"t{i}", text, 0.2) for i, (text, _) in enumerate(TYPED)]
            drv = _driver(server.port, points, rec)
            await drv.start()
            try:
                await async_wait_until(
                    lambda: rec.good(*range(len(TYPED))), 10, what="all points GOOD"
                )
                for i, (_text, want) in enumerate(TYPED):
                    got = rec.value(i)
                    assert got == (want if isinstance(want, str) else pytest.approx(float(want))), (
                        TYPED[i]
                    )
                # hr 0-31 is one block, ir 5-7, co 3, di 9-10: four requests per scan
                assert drv.diag.requests_per_scan == 4
                assert drv.state is DeviceState.UP
                server.image.hr[0] = 7  # a changed register shows up on a later scan
                await async_wait_until(lambda: rec.value(0) == 7.0, 10, what="new value")
            finally:
                await drv.stop()
            assert drv.state is DeviceState.STOPPED

    run(body())


def test_one_based_addresses_and_config_errors():
    async def body():
        async with ModbusTestServer() as server:
            server.image.hr[9] = 99
            rec = Recorder()
            points = [
                PointSpec(0, "a", "hr:10", 0.2),
                PointSpec(1, "b", "hr:0", 0.2),
                PointSpec(2, "c", "hr:x", 0.2),
            ]
            drv = _driver(server.port, points, rec, zero_based=False)
            await drv.start()
            try:
                await async_wait_until(lambda: rec.good(0), 10, what="point GOOD")
                assert rec.value(0) == 99.0  # register 10, 1-based = offset 9
                assert rec.bad(1, reason="offset 0 does not exist with 1-based addresses")
                assert rec.bad(2, reason="config error: Modbus address 'hr:x'")
            finally:
                await drv.stop()

    run(body())


def test_writes_of_each_kind_land_in_the_server():
    async def body():
        async with ModbusTestServer() as server:
            img = server.image
            img.hr[7] = 0b0001
            texts = [
                "co:5",
                "hr:1:u16",
                "hr:2:i16",
                "hr:4:f32:cdab",
                "hr:7:bit:3",
                "hr:10:str:3",
                "ir:1",
                "hr:20",
            ]
            points = [PointSpec(i, f"w{i}", t, 0.2, writable=(i != 7)) for i, t in enumerate(texts)]
            rec = Recorder()
            drv = _driver(server.port, points, rec)
            await drv.start()
            try:
                await async_wait_until(lambda: drv.state is DeviceState.UP, 10, what="UP")
                assert (await drv.write(0, True)).ok and img.co[5] is True
                assert (await drv.write(1, 65535)).ok and img.hr[1] == 65535
                assert (await drv.write(2, -2)).ok and img.hr[2] == 0xFFFE
                assert (await drv.write(3, 123456.0)).ok and img.hr[4:6] == [0x2000, 0x47F1]
                assert (await drv.write(4, True)).ok and img.hr[7] == 0b1001  # other bits kept
                assert (await drv.write(4, False)).ok and img.hr[7] == 0b0001
                assert (await drv.write(5, "AB")).ok and img.hr[10:13] == [0x4142, 0, 0]
                assert [fc for fc, _, _ in img.writes] == [5, 6, 6, 16, 6, 6, 16]
                # read-back of what was written
                back = await drv.read([1, 2, 3, 4, 5, 0])
                assert list(back.values) == [65535, -2, 123456.0, 0.0, "AB", 1.0]
                assert np.all(back.quality == Quality.GOOD)
                # refused before anything goes on the wire
                count = len(img.writes)
                r = await drv.write(6, 1)
                assert (
                    r.status is WriteStatus.INVALID and "input registers are read-only" in r.message
                )
                r = await drv.write(7, 1)
                assert r.status is WriteStatus.INVALID and "read-only" in r.message
                r = await drv.write(1, 70000)
                assert r.status is WriteStatus.INVALID and "outside the uint16 range" in r.message
                r = await drv.write(3, "high")
                assert r.status is WriteStatus.INVALID and "not a number" in r.message
                r = await drv.write(99, 1)
                assert (
                    r.status is WriteStatus.INVALID and "no Modbus point with index 99" in r.message
                )
                assert len(img.writes) == count
            finally:
                await drv.stop()
            r = await drv.write(1, 5)
            assert r.status is WriteStatus.NOT_CONNECTED

    run(body())


def test_modbus_exceptions_map_to_bad_and_rejected():
    async def body():
        async with ModbusTestServer() as server:
            img = server.image
            img.illegal.add(("hr", 50))
            points = [
                PointSpec(0, "ok", "hr:0", 0.2, True),
                PointSpec(1, "gone", "hr:50", 0.2, True),
            ]
            rec = Recorder()
            drv = _driver(server.port, points, rec)
            await drv.start()
            try:
                reason = "Modbus exception 2 (illegal data address) on hr 50-50"
                await async_wait_until(
                    lambda: rec.good(0) and rec.bad(1, reason=reason), 10, what="BAD point"
                )
                r = await drv.write(1, 3)
                assert (
                    r.status is WriteStatus.REJECTED
                    and "exception 2 (illegal data address)" in r.message
                )
                # a device that answers with exceptions is alive: no degradation, no reconnect
                await asyncio.sleep(0.5)
                assert drv.state is DeviceState.UP and drv.diag.reconnects == 0
                img.busy = True
                await async_wait_until(
                    lambda: rec.bad(0, reason="exception 6 (server device busy)"), 10
                )
                img.busy = False
                img.illegal.clear()
                await async_wait_until(lambda: rec.good(0, 1), 10, what="GOOD again")
                assert drv.diag.errors >= 2 and "exception" in drv.diag.last_error
            finally:
                await drv.stop()

    run(body())


def test_gateway_exception_is_a_communication_failure_of_the_unit():
    """0x0B from a gateway: the unit behind it is not talking (DEGRADED with the reason, the
    gateway connection kept); answering again brings it UP; 0x0A likewise; a write is not sent."""

    async def body():
        async with ModbusTestServer() as server:
            img = server.image
            points = [PointSpec(0, "flow", "hr:0", 0.1, True), PointSpec(1, "t", "hr:9", 0.1, True)]
            rec = Recorder()
            drv = _driver(server.port, points, rec, degrade_after=2)
            await drv.start()
            try:
                await async_wait_until(lambda: rec.good(0, 1), 10, what="GOOD first")
                img.answer = ExcCodes.GATEWAY_NO_RESPONSE
                reason = "Modbus exception 11 (gateway target device failed to respond) on hr 0-9"
                await async_wait_until(
                    lambda: drv.state is DeviceState.DEGRADED and rec.bad(0, 1, reason=reason),
                    10,
                    what="DEGRADED on 0x0B",
                )
                assert reason in rec.states[-1][3]
                # well past degrade_after failed cycles: still DEGRADED on the same connection
                await async_wait_until(lambda: drv.diag.consecutive_failures >= 6, 10)
                assert drv.state is DeviceState.DEGRADED and drv.diag.reconnects == 0
                assert DeviceState.BACKOFF not in [s[2] for s in rec.states]
                r = await drv.write(0, 5)
                assert r.status is WriteStatus.NOT_CONNECTED and "exception 11" in r.message
                img.answer = None
                await async_wait_until(
                    lambda: drv.state is DeviceState.UP and rec.good(0, 1), 10, what="UP again"
                )
                img.answer = ExcCodes.GATEWAY_PATH_UNAVIABLE
                await async_wait_until(
                    lambda: (
                        drv.state is DeviceState.DEGRADED
                        and rec.bad(0, reason="exception 10 (gateway path unavailable)")
                    ),
                    10,
                    what="DEGRADED on 0x0A",
                )
                img.answer = None
                await async_wait_until(lambda: drv.state is DeviceState.UP, 10, what="UP again")
                assert drv.diag.reconnects == 0
            finally:
                await drv.stop()

    run(body())


def test_server_stop_and_restart_on_the_same_port():
    async def body():
        server = ModbusTestServer()
        await server.start()
        server.image.hr[3] = 11
        period = 0.5
        points = [
            PointSpec(0, "a", "hr:3", period, writable=True),
            PointSpec(1, "b", "co:1", period),
        ]
        rec = Recorder()
        drv = _driver(server.port, points, rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0, 1), 10, what="GOOD")
            requests = drv.diag.requests
            await server.stop()
            # BAD within 3 poll periods, device in BACKOFF
            await async_wait_until(lambda: rec.bad(0, 1), 3 * period, what="BAD after server stop")
            await async_wait_until(
                lambda: drv.state is DeviceState.BACKOFF, 3 * period, what="BACKOFF"
            )
            assert "connection" in rec.latest[0][2]
            back = await drv.read([0])
            assert back.quality[0] == Quality.BAD and "connection lost" in back.reason
            assert (await drv.write(0, 1)).status is WriteStatus.NOT_CONNECTED
            server.image.hr[3] = 12
            await server.start()
            await async_wait_until(
                lambda: rec.good(0, 1) and rec.value(0) == 12.0, 10, what="GOOD after restart"
            )
            assert drv.state is DeviceState.UP
            assert drv.diag.reconnects >= 1 and drv.diag.requests > requests
        finally:
            await drv.stop()
            await server.stop()
        # no socket of this process is left on the server's port
        left = [
            c
            for c in psutil.Process().net_connections("tcp")
            if server.port in (c.laddr.port, c.raddr and c.raddr.port)
        ]
        assert not left, left

    run(body())


def test_backoff_intervals_grow_and_unreachable_is_bad_at_once():
    async def body():
        port = free_port()  # nothing listens here
        rec = Recorder()
        drv = _driver(
            port, [PointSpec(0, "a", "hr:1", 1.0)], rec, backoff_initial=0.05, backoff_max=0.4
        )
        await drv.start()
        try:
            await async_wait_until(
                lambda: rec.bad(0, reason=f"connection refused 127.0.0.1:{port}"), 1.0
            )
            backoffs = lambda: [s for s in rec.states if s[2] is DeviceState.BACKOFF]  # noqa: E731
            await async_wait_until(lambda: len(backoffs()) >= 6, 10, what="six connect attempts")
        finally:
            await drv.stop()
        entries = backoffs()[:6]
        planned = [float(s[3].rsplit("retry in ", 1)[1].rstrip(" s")) for s in entries]
        assert planned == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
        for (t0, *_), (t1, *_), delay in zip(entries, entries[1:], planned, strict=False):
            assert t1 - t0 >= delay * 0.95  # the driver really waited at least the planned delay
        assert drv.diag.errors >= 6 and drv.diag.requests == 0

    run(body())


# ---------------------------------------------------------------- broken replies
class RawServer:
    """A TCP server that answers each Modbus request with a hand-made (usually broken) reply."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            while True:
                head = await reader.readexactly(7)
                body = await reader.readexactly(int.from_bytes(head[4:6], "big") - 1)
                tid, unit, fc = head[0:2], head[6:7], body[0]
                count = int.from_bytes(body[3:5], "big")

                def frame(pdu: bytes, tid: bytes = tid, unit: bytes = unit) -> bytes:
                    return tid + b"\x00\x00" + (len(pdu) + 1).to_bytes(2, "big") + unit + pdu

                if self.mode == "garbage":
                    writer.write(b"\xde\xad\xbe\xef" * 5)
                elif self.mode == "bad_bytecount":
                    writer.write(frame(bytes([fc, 200]) + b"\x00\x01"))
                elif self.mode == "short":
                    writer.write(frame(bytes([fc, 2]) + b"\x00\x01"))  # one register of `count`
                elif self.mode == "wrong_fc":
                    writer.write(frame(bytes([fc + 1, 2 * count]) + b"\x00" * (2 * count)))
                elif self.mode == "truncated":
                    writer.write(frame(bytes([fc, 2 * count]) + b"\x00" * (2 * count))[:9])
                elif self.mode == "silent":
                    continue
                elif self.mode == "close":
                    writer.close()
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize(
    ("mode", "reason", "states"),
    [
        ("garbage", "timeout after 0.3 s", {DeviceState.DEGRADED, DeviceState.BACKOFF}),
        (
            "bad_bytecount",
            "malformed reply (undecodable frame) on hr 0-3",
            {DeviceState.DEGRADED, DeviceState.BACKOFF},
        ),
        (
            "short",
            "short reply: 1 of 4 registers on hr 0-3",
            {DeviceState.DEGRADED, DeviceState.BACKOFF},
        ),
        ("wrong_fc", "malformed reply (function code 4, expected 3)", {DeviceState.DEGRADED}),
        ("truncated", "timeout after 0.3 s", {DeviceState.DEGRADED, DeviceState.BACKOFF}),
        ("close", "connection lost to 127.0.0.1", {DeviceState.BACKOFF}),
    ],
)
def test_broken_replies_give_bad_with_a_reason_and_no_crash(mode, reason, states):
    async def body():
        server = RawServer(mode)
        await server.start()
        rec = Recorder()
        points = [
            PointSpec(0, "a", "hr:0:f32", 0.1),
            PointSpec(1, "b", "hr:2:u16", 0.1),
            PointSpec(2, "c", "hr:3", 0.1),
        ]
        drv = _driver(server.port, points, rec, timeout=0.3, degrade_after=2)
        await drv.start()
        try:
            await async_wait_until(
                lambda: rec.bad(0, 1, 2, reason=reason), 10, what=f"BAD with {reason!r}"
            )
            seen = {s[2] for s in rec.states}
            await async_wait_until(
                lambda: states <= {s[2] for s in rec.states}, 10, what=f"states {states}"
            )
            assert DeviceState.UP in seen
            assert drv._task is not None and not drv._task.done()  # the device task survived
            d = drv.diagnostics()
            assert d.requests >= 1 and d.errors >= 1 and reason.split(" (")[0] in d.last_error
            if "timeout" in reason:
                assert d.timeouts >= 1
        finally:
            await drv.stop()
            await server.stop()

    run(body())


def test_diagnostics_rtt_and_overruns_with_two_poll_periods():
    async def body():
        async with ModbusTestServer() as server:
            points = [
                PointSpec(0, "fast", "hr:0", 0.05),
                PointSpec(1, "slow", "hr:100", 0.3),
                PointSpec(2, "x", "hr:1", 0.05),
            ]
            rec = Recorder()
            drv = _driver(server.port, points, rec)
            await drv.start()
            try:
                await async_wait_until(lambda: drv.diag.requests >= 12, 10, what="a dozen requests")
                d = drv.diagnostics().as_dict()
                assert d["requests_per_scan"] == 2 and d["rtt_avg_ms"] > 0 and d["rtt_last_ms"] > 0
                assert d["state"] == "up" and d["endpoint"] == f"127.0.0.1:{server.port}/1"
                fast = sum(1 for b in rec.batches if 0 in b.indices.tolist())
                slow = sum(1 for b in rec.batches if 1 in b.indices.tolist())
                assert fast > slow >= 1  # each group on its own period
                # a reply slower than the period is an overrun, counted, not a pile-up

                async def slow_read(count):
                    await asyncio.sleep(0.15)
                    return [5] * count

                getter = server.image.async_getValues
                server.image.async_getValues = (  # type: ignore[method-assign]
                    lambda dev, fc, addr, count=1: (
                        slow_read(count) if addr == 0 else getter(dev, fc, addr, count)
                    )
                )
                await async_wait_until(
                    lambda: drv.diag.scan_overruns >= 2, 10, what="overruns counted"
                )
                assert drv.state is DeviceState.UP and rec.value(0) == 5.0  # slow, not failed
            finally:
                await drv.stop()

    run(body())


def test_validate_address_and_params():
    assert ModbusDriver.validate_address("hr:1:f32:cdab") is None
    assert "unknown table" in (ModbusDriver.validate_address("zz:1") or "")
    assert ModbusDriver.validate_params({"host": "10.0.0.5", "port": 502}) == []
    problems = ModbusDriver.validate_params(
        {
            "host": "",
            "port": 70000,
            "max_registers": 200,
            "backoff_initial": 5,
            "poll_groups": {"fast": 0},
        }
    )
    text = "\n".join(problems)
    for fragment in ("host: empty", "port: 70000", "max_registers: 200", "poll group 'fast'"):
        assert fragment in text, fragment
    assert ModbusDriver.validate_params({"backoff_initial": 60, "backoff_max": 30}) == [
        "backoff_initial 60 is above backoff_max 30"
    ]


def test_silent_device_times_out_writes_and_reads():
    async def body():
        server = RawServer("silent")
        await server.start()
        rec = Recorder()
        points = [PointSpec(0, "sp", "hr:4:f32", 0.5, writable=True)]
        drv = _driver(server.port, points, rec, timeout=0.3, retries=1, degrade_after=100)
        await drv.start()
        try:
            await async_wait_until(
                lambda: rec.bad(0, reason="timeout after 0.3 s"), 10, what="timeout"
            )
            assert drv.state is DeviceState.DEGRADED  # connected but failing, not yet dropped
            assert (
                drv.diag.timeouts >= 2 and drv.diag.requests >= 2
            )  # the retry is a request of its own
            r = await drv.write(0, 12.5)
            assert r.status is WriteStatus.TIMEOUT and r.message == "timeout after 0.3 s"
        finally:
            await drv.stop()
            await server.stop()

    run(body())
