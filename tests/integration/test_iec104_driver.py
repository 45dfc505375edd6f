"""IEC 104 driver against a real c104 controlled station on a loopback port.

Nothing is mocked: the driver's c104 client talks IEC 60870-5-104 over TCP to c104's own
server (tests/iec104_server.py). One server is shared by the module (each test uses its
own points and sets the values it checks); the loss-and-recovery test has its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import c104
import numpy as np
import pytest

from drivers.base import Batch, DeviceState, PointSpec, Quality, WriteStatus
from drivers.iec104.driver import Iec104Driver
from tests.helpers import async_wait_until, free_port
from tests.iec104_server import Iec104TestServer

IV, NT = int(c104.Quality.Invalid.value), int(c104.Quality.NonTopical.value)
SB, BL, OV = (int(c104.Quality.Substituted.value), int(c104.Quality.Blocked.value),
              int(c104.Quality.Overflow.value))  # fmt: skip
CY = int(c104.BinaryCounterQuality.Carry.value)
CA = 47

TYPED = [  # address, value served, value expected
    ("M_ME_NC_1:4001", 1.25, 1.25),
    ("M_ME_NB_1:4101", -77, -77),
    ("M_ME_NA_1:4201", 0.5, 0.5),
    ("M_SP_NA_1:1001", 1, 1.0),
    ("M_DP_NA_1:1101", 2, 2.0),
    ("M_ST_NA_1:7001", -3, -3),
    ("M_ME_TF_1:4002", 3.5, 3.5),
    ("M_SP_TB_1:1002", 1, 1.0),
    ("M_DP_TB_1:1003", 1, 1.0),
    ("M_IT_NA_1:5001", 123456, 123456),
]
TS = {"M_ME_TF_1:4002": 1_700_000_000.25, "M_SP_TB_1:1002": 1_700_000_100.5,
      "M_DP_TB_1:1003": 1_700_000_200.125}  # fmt: skip


class Recorder:
    """Sink + state listener: latest (value, quality, reason, source_ts) per tag index."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple[float, int, str, float]] = {}
        self.batches: list[Batch] = []
        self.states: list[tuple[DeviceState, DeviceState, str]] = []

    def sink(self, batch: Batch) -> None:
        self.batches.append(batch)
        n = len(batch.indices)
        q = np.broadcast_to(np.asarray(batch.quality), (n,)).tolist()
        ts = np.broadcast_to(np.asarray(batch.source_ts), (n,)).tolist()
        for i, v, qq, t in zip(batch.indices.tolist(), batch.values.tolist(), q, ts, strict=True):
            self.latest[i] = (v, qq, batch.reason, t)

    def on_state(self, device_id: str, old: DeviceState, new: DeviceState, reason: str) -> None:
        self.states.append((old, new, reason))

    def has(self, i: int, quality: int, reason: str = "", value: float | None = None) -> bool:
        e = self.latest.get(i)
        return (
            e is not None and e[1] == quality and reason in e[2]
            and (value is None or e[0] == pytest.approx(value))
        )  # fmt: skip


def run(coro) -> None:
    """Run one test body on a fresh loop and check it left no task behind."""

    async def guarded():
        await asyncio.wait_for(coro, 60)
        await asyncio.sleep(0)
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftovers, f"tasks left running: {leftovers}"

    asyncio.run(guarded())


def driver(port: int, points: list[PointSpec], rec: Recorder, **params) -> Iec104Driver:
    base = {"port": port, "common_address": CA, "timeout": 1.0, "backoff_initial": 0.1,
            "backoff_max": 0.4, "t0": 2, "t1": 2, "t2": 1}  # fmt: skip
    return Iec104Driver("rtu", {**base, **params}, points, rec.sink, rec.on_state)


def specs(*addresses: str, period: float = 1.0) -> list[PointSpec]:
    return [PointSpec(i, f"t{i}", a, period) for i, a in enumerate(addresses)]


@pytest.fixture(scope="module")
def rtu():
    srv = Iec104TestServer(free_port(), CA)
    for text, value, _ in TYPED:
        srv.add(text, value, ts=TS.get(text))
    for text in ("M_ME_NC_1:4501", "M_DP_NA_1:1102", "M_IT_NA_1:5002"):
        srv.add(text, 1.0)
    srv.add("M_ME_NB_1:4901", 5)  # the tag below calls it a short float
    for mon, value in (("M_SP_NA_1:1201", 0), ("M_DP_NA_1:1301", 1), ("M_ME_NC_1:4301", 0.0),
                       ("M_ME_NB_1:4401", 0), ("M_SP_NA_1:1401", 0)):  # fmt: skip
        srv.add(mon, value)
    srv.add_command("C_SC_NA_1:2001", "M_SP_NA_1:1201", select=True)
    srv.add_command("C_DC_NA_1:2101", "M_DP_NA_1:1301")
    srv.add_command("C_SE_NC_1:6001", "M_ME_NC_1:4301")
    srv.add_command("C_SE_NB_1:6101", "M_ME_NB_1:4401")
    srv.add_command("C_SC_NA_1:2201")  # command-only
    srv.add_command("C_SC_NA_1:2301", "M_SP_NA_1:1401", select=True)
    srv.add_command("C_SE_NC_1:6201")
    srv.add_command("C_SE_NC_1:6301")
    srv.answer[parse_ioa("C_SE_NC_1:6201")] = c104.ResponseState.FAILURE
    srv.add_command("C_SC_NA_1:6401")
    srv.answer[parse_ioa("C_SE_NC_1:6301")] = c104.ResponseState.NONE
    srv.answer[parse_ioa("C_SC_NA_1:6401")] = c104.ResponseState.NONE
    srv.start()
    yield srv
    srv.stop()


def parse_ioa(text: str) -> int:
    return int(text.rsplit(":", 1)[1])


def test_gi_and_counter_interrogation_deliver_every_type_and_time_tag(rtu):
    rec = Recorder()

    async def body():
        d = driver(rtu.port, specs(*(t for t, _, _ in TYPED), period=0.2), rec)
        await d.start()
        try:
            await async_wait_until(lambda: all(rec.has(i, Quality.GOOD) for i in range(len(TYPED))),
                                   10, what="every type delivered")  # fmt: skip
            assert d.state is DeviceState.UP
            for i, (text, _, expected) in enumerate(TYPED):
                value, _, _, ts = rec.latest[i]
                assert value == pytest.approx(expected), text
                if text in TS:  # CP56Time2a -> source timestamp
                    assert ts == pytest.approx(TS[text], abs=1e-3), text
                else:
                    assert abs(ts - time.time()) < 30, text
            # the RTU reports changes only: while the link is up the last reading comes again
            n = len(rec.batches)
            await async_wait_until(lambda: len(rec.batches) >= n + 3, 5, what="re-delivery")
            assert d.diagnostics().requests >= 1  # the counter interrogation
        finally:
            await d.stop()
        assert d.state is DeviceState.STOPPED

    run(body())


def test_quality_bits_become_quality_with_a_reason_naming_the_bit(rtu):
    rec = Recorder()
    cases = [  # (address, value, bits, quality, words in the reason)
        ("M_ME_NC_1:4501", 2.0, IV, Quality.BAD, "IEC 104 quality IV (invalid)"),
        ("M_ME_NC_1:4501", 3.0, NT, Quality.UNCERTAIN, "NT (not topical)"),
        ("M_ME_NC_1:4501", 4.0, SB | BL, Quality.UNCERTAIN, "SB+BL (substituted, blocked)"),
        ("M_ME_NC_1:4501", 5.0, OV, Quality.UNCERTAIN, "OV (overflow)"),
        ("M_ME_NC_1:4501", 6.0, 0, Quality.GOOD, ""),
        ("M_DP_NA_1:1102", 0, 0, Quality.UNCERTAIN, "double point intermediate (0)"),
        ("M_DP_NA_1:1102", 3, 0, Quality.BAD, "double point indeterminate (3)"),
        ("M_DP_NA_1:1102", 0, IV, Quality.BAD, "intermediate (0): the device is between positions; IEC 104 quality IV"),
        ("M_DP_NA_1:1102", 1, 0, Quality.GOOD, ""),
    ]  # fmt: skip

    async def body():
        d = driver(rtu.port, specs("M_ME_NC_1:4501", "M_DP_NA_1:1102", "M_IT_NA_1:5002"), rec,
                   counter_interrogation_period=0.2)  # fmt: skip
        await d.start()
        try:
            await async_wait_until(lambda: rec.has(0, Quality.GOOD), 10, what="connected")
            for text, value, bits, quality, words in cases:
                rtu.set(text, value, bits)
                i = 0 if text.startswith("M_ME") else 1
                want = None if quality == Quality.BAD else value
                await async_wait_until(lambda i=i, q=quality, w=words, v=want: rec.has(i, q, w, v),
                                       5, what=f"{text} {value} bits {bits}")  # fmt: skip
            # integrated totals: carry is UNCERTAIN, read by the periodic counter interrogation
            rtu.points[5002].info = c104.BinaryCounterInfo(
                counter=77, sequence=c104.UInt5(1), quality=c104.BinaryCounterQuality(CY)
            )
            await async_wait_until(lambda: rec.has(2, Quality.UNCERTAIN, "CY (carry", 77), 5,
                                   what="counter carry")  # fmt: skip
        finally:
            await d.stop()

    run(body())


def test_points_the_rtu_does_not_report_or_reports_as_another_type_are_bad(rtu):
    rec = Recorder()

    async def body():
        d = driver(rtu.port, specs("M_ME_NC_1:4001", "M_ME_NC_1:4999", "M_ME_NC_1:4901"), rec)
        await d.start()
        try:
            await async_wait_until(lambda: rec.has(0, Quality.GOOD), 10, what="connected")
            await async_wait_until(
                lambda: rec.has(1, Quality.BAD, "did not report M_ME_NC_1:4999 in its general interrogation"),
                5, what="missing point",
            )  # fmt: skip
            await async_wait_until(
                lambda: rec.has(2, Quality.BAD, "reports IOA 4901 as M_ME_NB_1, the tag's address says M_ME_NC_1"),
                5, what="type mismatch",
            )  # fmt: skip
            assert rec.has(0, Quality.GOOD, value=1.25)  # the rest work
        finally:
            await d.stop()

    run(body())


def test_commands_direct_and_select_before_operate_are_confirmed_and_read_back(rtu):
    rec = Recorder()
    points = [
        PointSpec(0, "ssv.reset", "M_SP_NA_1:1201", 1.0, True, {"command": "C_SC_NA_1:2001", "select": True}),
        PointSpec(1, "valve", "M_DP_NA_1:1301", 1.0, True, {"command": "C_DC_NA_1:2101", "pulse": "persistent"}),
        PointSpec(2, "setpoint", "M_ME_NC_1:4301", 1.0, True, {"command": "C_SE_NC_1:6001"}),
        PointSpec(3, "scaled", "M_ME_NB_1:4401", 1.0, True, {"command": "C_SE_NB_1:6101"}),
        PointSpec(4, "horn", "C_SC_NA_1:2201", 1.0, True),
        PointSpec(5, "ro", "M_ME_NC_1:4001", 1.0, False),
    ]  # fmt: skip

    async def readback(i: int, value: float) -> None:
        async def ok() -> bool:
            b = await d.read([i])
            return bool(b.quality[0] == Quality.GOOD and b.values[0] == pytest.approx(value))

        await async_wait_until(ok, 5, what=f"read-back of {points[i].name} = {value}")

    d = driver(rtu.port, points, rec)

    async def body():
        await d.start()
        try:
            await async_wait_until(lambda: rec.has(5, Quality.GOOD) and d.state is DeviceState.UP,
                                   10, what="connected")  # fmt: skip
            for i, text, value in ((0, "M_SP_NA_1:1201", 0), (1, "M_DP_NA_1:1301", 1),
                                   (2, "M_ME_NC_1:4301", 0.0)):  # fmt: skip
                rtu.set(text, value)
                await readback(i, value)
            before = len(rtu.received)
            r = await d.write(0, True)
            assert r.status is WriteStatus.SUCCESS and "select-before-operate" in r.message, r
            # c104's server hands only the execute to its callback; it refuses a direct
            # execute on this point (see test_refused_and_unanswered_commands)
            assert rtu.received[before:] == [(2001, 1.0, False)]
            await readback(0, 1.0)
            r = await d.write(1, 2)
            assert r.ok and "C_DC_NA_1:2101 confirmed" in r.message, r
            await readback(1, 2.0)
            assert (await d.write(2, 0.4375)).ok
            await readback(2, 0.4375)
            assert (await d.write(3, -1234)).ok
            await readback(3, -1234)
            assert (await d.write(4, 1)).ok  # no monitored point: the confirmed value is shown
            await readback(4, 1.0)
            assert rec.has(4, Quality.GOOD, value=1.0)
            bad = await d.write(1, 3)
            assert bad.status is WriteStatus.INVALID and "1 (off) or 2 (on)" in bad.message
            ro = await d.write(5, 1.0)
            assert ro.status is WriteStatus.INVALID and "read-only" in ro.message
            assert d.diagnostics().requests >= 5
        finally:
            await d.stop()

    run(body())


def test_refused_and_unanswered_commands(rtu):
    rec = Recorder()
    points = [
        PointSpec(0, "needs.sbo", "M_SP_NA_1:1401", 1.0, True, {"command": "C_SC_NA_1:2301"}),
        PointSpec(1, "refused", "C_SE_NC_1:6201", 1.0, True),
        PointSpec(2, "silent", "C_SE_NC_1:6301", 1.0, True),
        PointSpec(3, "horn", "C_SC_NA_1:6401", 1.0, True, {"pulse": "short"}),
    ]

    async def body():
        d = driver(rtu.port, points, rec, timeout=0.5)  # retries 1: an unconfirmed one again
        await d.start()
        try:
            await async_wait_until(lambda: d.state is DeviceState.UP, 10, what="connected")
            r = await d.write(0, 1)  # the RTU wants select-before-operate for this point
            assert r.status is WriteStatus.REJECTED and "refused C_SC_NA_1:2301" in r.message, r
            r = await d.write(1, 1.5)
            assert r.status is WriteStatus.REJECTED and "negative confirmation" in r.message, r
            r = await d.write(2, 1.5)
            assert r.status is WriteStatus.TIMEOUT and "within 0.5 s" in r.message, r
            timeouts = d.diagnostics().timeouts
            assert timeouts >= 2 and "C_SE_NC_1:6301" in d.diagnostics().last_error
            before = len(rtu.received)
            pulse = await d.write(3, 1)  # a pulse is never repeated: the RTU may have run it
            assert pulse.status is WriteStatus.TIMEOUT and rtu.received[before:] == [
                (6401, 1.0, False)
            ]
            assert d.diagnostics().timeouts == timeouts + 1
        finally:
            await d.stop()

    run(body())


def test_a_state_callback_that_arrives_late_does_not_take_the_link_down(rtu):
    """c104 stores a new connection state, then takes the GIL to call back; two of its
    threads changing the state at once (OPEN_MUTED on the connect, OPEN when the GI ends) can reach
    the loop in the wrong order, the older state last. Played here by the callback of an
    earlier transition arriving after OPEN: the link must stay up (the driver once waited
    out t1 at start-up, or dropped a good link, on the older state)."""
    rec = Recorder()

    async def body():
        d = driver(rtu.port, specs("M_ME_NC_1:4001", period=0.2), rec)
        await d.start()
        try:
            await async_wait_until(lambda: d.state is DeviceState.UP and rec.has(0, Quality.GOOD),
                                   10, what="up")  # fmt: skip
            link = d._link
            assert link is not None and link.state == "OPEN"
            late = threading.Thread(
                target=link._state_cb,
                args=(link.connection, c104.ConnectionState.OPEN_MUTED),
            )
            late.start()
            late.join()
            n = len(rec.batches)
            await async_wait_until(lambda: len(rec.batches) >= n + 3, 5,
                                   what="readings go on over the same link")  # fmt: skip
            assert d._link is link and d.state is DeviceState.UP
            assert d.diagnostics().reconnects == 0
            assert not [s for s in rec.states if s[0] is DeviceState.UP], "the link went down"
        finally:
            await d.stop()

    run(body())


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_device_loss_and_recovery():
    srv = Iec104TestServer(free_port(), CA)
    srv.add("M_ME_NC_1:4001", 7.5)
    srv.add("M_SP_NA_1:1001", 1)
    rec = Recorder()
    threads_before = _os_threads()

    async def body():
        d = driver(srv.port, specs("M_ME_NC_1:4001", "M_SP_NA_1:1001"), rec)
        await d.start()
        try:
            await async_wait_until(lambda: rec.has(1, Quality.BAD, "cannot connect"), 10,
                                   what="refused while the RTU is down")  # fmt: skip
            assert d.state in (DeviceState.BACKOFF, DeviceState.CONNECTING)
            srv.start()
            await async_wait_until(
                lambda: rec.has(0, Quality.GOOD, value=7.5) and d.state is DeviceState.UP, 10,
                what="up",
            )  # fmt: skip
            assert d.diagnostics().reconnects == 0
            srv.stop()
            await async_wait_until(lambda: rec.has(0, Quality.BAD, "connection lost"), 10,
                                   what="loss detected")  # fmt: skip
            assert (DeviceState.UP, DeviceState.BACKOFF) in [(o, n) for o, n, _ in rec.states]
            srv.points[4001].info = c104.ShortInfo(actual=8.5)
            srv.start()
            await async_wait_until(
                lambda: rec.has(0, Quality.GOOD, value=8.5) and d.state is DeviceState.UP, 10,
                what="recovered with a fresh GI",
            )  # fmt: skip
            assert d.diagnostics().reconnects == 1
            assert d.diagnostics().errors >= 1
        finally:
            await d.stop()
            srv.stop()

    run(body())
    # c104's native threads end with the driver (one fresh client per connection attempt)
    deadline = time.monotonic() + 5
    while _os_threads() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _os_threads() <= threads_before
