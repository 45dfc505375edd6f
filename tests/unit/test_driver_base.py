"""The state machine, backoff, counters and logging every connection-holding driver shares
(drivers.base.ReconnectingDriver), with a scripted protocol in memory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from drivers.base import (
    Backoff,
    Batch,
    DeviceDiagnostics,
    DeviceState,
    PointSpec,
    ReconnectingDriver,
    ScanResult,
    WriteResult,
    WriteStatus,
)

LOGGER = logging.getLogger("tests.driver_base")


class Scripted(ReconnectingDriver):
    """Connects as ``connects`` says ('' = works), serves as ``serves`` says (None = forever)."""

    kind = "modbus_tcp"  # any registered protocol: validate_address goes by it
    logger = LOGGER

    def __init__(self, connects: Sequence[str], serves: Sequence[str | None]) -> None:
        self.states: list[tuple[DeviceState, str]] = []
        self.batches: list[Batch] = []
        super().__init__("dev", {}, [PointSpec(0, "a", "hr:1")], self.batches.append, self._on)
        self._backoff = Backoff(0.01, 0.04)
        self._degrade_after = 3
        self.connects = list(connects)
        self.serves = list(serves)
        self.failed: list[str] = []
        self.disconnects = 0

    def _on(self, _dev: str, _old: DeviceState, new: DeviceState, reason: str) -> None:
        self.states.append((new, reason))

    @property
    def _peer(self) -> str:
        return "plc:502"

    async def _connect(self) -> str:
        return self.connects.pop(0) if self.connects else "refused"

    async def _serve(self) -> str:
        outcome = self.serves.pop(0) if self.serves else None
        if outcome is None:
            await asyncio.Event().wait()
        return str(outcome)

    async def _disconnect(self) -> None:
        self.disconnects += 1

    def _fail_all(self, reason: str) -> None:
        self.failed.append(reason)

    async def start(self) -> None:
        if not self._running:
            self._spawn("scripted")

    async def stop(self) -> None:
        await self._cancel()
        self._set_state(DeviceState.STOPPED, "stopped")

    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        return self._not_connected(True) or WriteResult(WriteStatus.SUCCESS)

    async def read(self, indices: Sequence[int]) -> Batch:
        return Batch.bad(indices, "not read")


async def _until(predicate: object, what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def test_backoff_doubles_up_to_the_maximum_and_starts_again_after_a_reset() -> None:
    b = Backoff(0.5, 5.0)
    assert [b.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    b.reset()
    assert b.next() == 0.5


def test_record_error_counts_errors_and_timeouts_apart() -> None:
    d = DeviceDiagnostics("dev", "s7")
    d.record_error("S7 error 0x0a on DB1 bytes 0-3")
    d.record_error("timeout after 1 s", timeout=True)
    assert (d.errors, d.timeouts, d.last_error) == (2, 1, "timeout after 1 s")
    assert d.last_error_ts > 0


def test_reconnect_loop_backs_off_doubling_and_resets_after_a_connection() -> None:
    async def main() -> Scripted:
        drv = Scripted(["refused", "refused", "", ""], ["link lost"])
        await drv.start()
        await _until(lambda: drv.state is DeviceState.UP and drv.diag.reconnects == 1, "2nd UP")
        await drv.stop()
        await drv.stop()  # idempotent
        return drv

    drv = asyncio.run(main())
    assert drv.states == [
        (DeviceState.CONNECTING, "connecting to plc:502"),
        (DeviceState.BACKOFF, "refused; retry in 0.01 s"),
        (DeviceState.CONNECTING, "connecting to plc:502"),
        (DeviceState.BACKOFF, "refused; retry in 0.02 s"),
        (DeviceState.CONNECTING, "connecting to plc:502"),
        (DeviceState.UP, "connected to plc:502"),
        (DeviceState.BACKOFF, "link lost; retry in 0.01 s"),  # the connection reset the backoff
        (DeviceState.CONNECTING, "connecting to plc:502"),
        (DeviceState.UP, "connected to plc:502"),
        (DeviceState.STOPPED, "stopped"),
    ]
    assert drv.failed == ["refused", "refused", "link lost"]
    assert (drv.diag.errors, drv.diag.last_error) == (2, "refused")  # failed connects count
    assert drv.disconnects == 1  # after the connection that ended, never after a failed connect
    assert drv._task is None


def test_each_distinct_problem_is_logged_once_until_the_device_is_up_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    drv = Scripted([], [])
    caplog.set_level(logging.DEBUG, logger=LOGGER.name)
    for cause in ["refused", "timeout", "refused", "timeout"]:  # alternating causes: one line each
        drv._set_state(DeviceState.CONNECTING, "connecting to plc:502")
        drv._set_state(DeviceState.BACKOFF, f"{cause}; retry in 1 s")
    drv._set_state(DeviceState.UP, "connected to plc:502")
    drv._set_state(DeviceState.DEGRADED, "refused")  # up in between: logged again
    drv._set_state(DeviceState.DEGRADED, "refused")  # no transition: nothing
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    debugs = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert warnings == [
        "device dev backoff: refused; retry in 1 s",
        "device dev backoff: timeout; retry in 1 s",
        "device dev degraded: refused",
    ]
    assert infos == ["device dev up: connected to plc:502"]
    assert debugs == ["device dev connecting: connecting to plc:502"] * 4


def test_cycles_degrade_recover_and_drop_after_degrade_after_failures() -> None:
    drv = Scripted([], [])
    drv._set_state(DeviceState.UP, "connected")
    assert drv._cycle(False, "bad reply") == ""
    assert (drv.state, drv.diag.consecutive_failures) == (DeviceState.DEGRADED, 1)
    assert drv._cycle(True, "") == ""
    assert (drv.state, drv.diag.consecutive_failures) == (DeviceState.UP, 0)
    assert drv.states[-1] == (DeviceState.UP, "recovered")
    assert [drv._cycle(False, "bad reply") for _ in range(3)] == [
        "",
        "",
        "bad reply (3 failed cycles)",
    ]
    assert drv.diag.consecutive_failures == 3


@dataclass
class Group:
    period: float
    next_due: float = 0.0


def test_poll_groups_skip_overrun_slots_and_stop_when_the_link_is_lost() -> None:
    fast, slow = Group(0.01), Group(10.0)
    scans: list[Group] = []

    async def scan(g: Group) -> ScanResult:
        scans.append(g)
        await asyncio.sleep(0.03)  # longer than the fast group's period: every scan overruns
        return True, len(scans) == 4, "connection lost to plc:502" if len(scans) == 4 else ""

    async def main() -> tuple[str, float, Scripted]:
        drv = Scripted([], [])
        start = asyncio.get_running_loop().time()
        why = await drv._poll_groups([fast, slow], scan, lambda: True, "plc:502")
        return why, start, drv

    why, start, drv = asyncio.run(main())
    assert why == "connection lost to plc:502"
    assert scans[:2] == [fast, slow]  # both due at once; then the slow one waits 10 s
    assert scans[2:] == [fast, fast]
    assert drv.diag.scan_overruns == 3  # each fast scan outlasted its period
    grid = slow.next_due - slow.period  # when both groups were first due
    assert grid - start == pytest.approx(0.0, abs=0.1)
    steps = (fast.next_due - grid) / fast.period
    assert steps == pytest.approx(round(steps), abs=1e-6) and round(steps) >= 8  # on the grid


def test_poll_groups_count_overruns_and_give_up_after_degrade_after_failed_cycles() -> None:
    g = Group(0.01)

    async def scan(_g: Group) -> ScanResult:
        await asyncio.sleep(0.02)
        return False, False, "malformed reply"

    async def main() -> Scripted:
        drv = Scripted([], [])
        drv._set_state(DeviceState.UP, "connected")
        assert await drv._poll_groups([g], scan, lambda: True, "x") == (
            "malformed reply (3 failed cycles)"
        )
        return drv

    drv = asyncio.run(main())
    assert drv.diag.scan_overruns == 3
    assert drv.states[-1] == (DeviceState.DEGRADED, "malformed reply")


def test_no_groups_waits_while_connected() -> None:
    up = [True]

    async def main() -> str:
        drv = Scripted([], [])
        asyncio.get_running_loop().call_later(0.05, up.clear)
        return await drv._poll_groups([], _never_scanned, lambda: bool(up), "plc:502")

    assert asyncio.run(main()) == "connection lost to plc:502"


async def _never_scanned(_g: Group) -> ScanResult:
    raise AssertionError("no group to scan")


def test_a_failing_sink_is_logged_once_and_does_not_stop_delivery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    drv = Scripted([], [])
    seen: list[Batch] = []

    def broken(batch: Batch) -> None:
        seen.append(batch)
        raise RuntimeError("consumer bug")

    drv.sink = broken
    caplog.set_level(logging.ERROR, logger=LOGGER.name)
    for _ in range(3):
        drv._emit(Batch.bad(np.array([0]), "x"))
    assert len(seen) == 3
    assert [r.getMessage() for r in caplog.records] == ["device dev: the batch consumer failed"]


def test_writes_need_the_device_up_or_degraded() -> None:
    drv = Scripted([], [])
    result = asyncio.run(drv.write(0, 1.0))
    assert (result.status, result.message) == (
        WriteStatus.NOT_CONNECTED,
        "device dev is not connected (stopped)",
    )
    drv._set_state(DeviceState.DEGRADED, "slow")
    assert asyncio.run(drv.write(0, 1.0)).ok
    assert drv._not_connected(False) is not None


def test_validate_address_goes_by_the_protocol_kind() -> None:
    assert Scripted.validate_address("hr:1") is None
    assert Scripted.validate_address("zz:1")
