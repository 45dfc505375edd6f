"""Fail-soft device start: a device that cannot start is BAD with a reason, never the station.

A device whose secret is missing, whose keyring has no backend, whose driver cannot be
built or whose ``start()`` raises is replaced by a :class:`FailSoftDriver`. It marks
every point of the device BAD with a reason that says what to do, goes to BACKOFF (the
runtime raises the device's comm-loss alarm from that state change, as for a lost link),
and retries building and starting the real driver with exponential backoff. Once the real
driver runs, the stand-in delegates everything to it: its state changes, reads, writes
and diagnostics are the real driver's own. Every other device of the station runs.

Untrusted server certificates and endpoints that do not resolve are found by the
drivers themselves when they connect (they go to BACKOFF with the reason and retry);
this module covers what fails before a driver has a connection loop at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from drivers.base import (
    Batch,
    DeviceDiagnostics,
    DeviceState,
    Driver,
    PointSpec,
    Sink,
    StateListener,
    WriteResult,
    WriteStatus,
)
from hmi.core.secrets import MissingSecretError, NoKeyringBackendError

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 5.0  # s before the first retry
BACKOFF_MAX = 300.0  # s: a missing secret is fixed by a person, not in milliseconds


def start_failure_reason(exc: BaseException, device: Any, station_id: str) -> str:
    """What the operator reads for a device that could not start, and what fixes it."""
    if isinstance(exc, MissingSecretError):
        return f"secret {exc.name} missing: gas-hmi secrets set {exc.name} --station {station_id}"
    if isinstance(exc, NoKeyringBackendError):
        names = [
            n
            for n in (
                getattr(device, "password_secret", ""),
                getattr(device, "key_passphrase_secret", ""),
            )
            if n
        ]
        what = f"secret {', '.join(names)}" if names else "its secret"
        return f"no keyring backend for {what}: {exc}"
    text = str(exc) or type(exc).__name__
    return f"driver cannot start: {text}"


class FailSoftDriver(Driver):
    """Stands in for a device that could not start; retries and then hands over to it."""

    kind = "failsoft"

    def __init__(
        self,
        device_id: str,
        protocol: str,
        points: Sequence[PointSpec],
        sink: Sink,
        on_state: StateListener | None,
        factory: Callable[[], Driver],
        reason: str,
        explain: Callable[[BaseException], str],
        *,
        endpoint: str = "",
        backoff_initial: float | None = None,
        backoff_max: float | None = None,
    ) -> None:
        super().__init__(device_id, {}, points, sink, on_state)
        self._own = DeviceDiagnostics(device_id=device_id, protocol=protocol, endpoint=endpoint)
        self._factory = factory
        self._explain = explain
        self._reason = reason
        self.backoff_initial = BACKOFF_INITIAL if backoff_initial is None else backoff_initial
        self.backoff_max = BACKOFF_MAX if backoff_max is None else backoff_max
        self._indices = [p.index for p in points]
        self._inner: Driver | None = None
        self._task: asyncio.Task[None] | None = None
        self.attempts = 1

    # the diagnostics the runtime, the header and the diagnostics page read are the real
    # driver's once it runs, this stand-in's until then
    @property
    def diag(self) -> DeviceDiagnostics:
        """Diagnostics of the real driver when it runs, else of the failed start."""
        return self._inner.diag if self._inner is not None else self._own

    @diag.setter
    def diag(self, value: DeviceDiagnostics) -> None:
        self._own = value

    @property
    def inner(self) -> Driver | None:
        """The real driver once it has started, else None."""
        return self._inner

    @property
    def reason(self) -> str:
        """Why the device is not running (empty once it runs)."""
        return "" if self._inner is not None else self._reason

    @classmethod
    def validate_address(cls, address: str) -> str | None:
        """Addresses are the real driver's business."""
        return None

    async def start(self) -> None:
        """Mark every point BAD with the reason, go to BACKOFF and start retrying."""
        if self._task is not None:
            return
        self._own.last_error = self._reason
        self._own.errors += 1
        self._own.consecutive_failures = 1
        self._set_state(DeviceState.BACKOFF, self._reason)
        self._mark_bad()
        self._task = asyncio.get_running_loop().create_task(
            self._retry(), name=f"failsoft:{self.device_id}"
        )

    def _mark_bad(self) -> None:
        if self._indices:
            self.sink(Batch.bad(self._indices, self._reason))
        self._own.last_error_ts = time.time()

    async def _retry(self) -> None:
        delay = self.backoff_initial
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)
            self.attempts += 1
            drv: Driver | None = None
            try:
                drv = self._factory()
                await drv.start()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if drv is not None:
                    await _quiet_stop(drv)
                self._failed_again(self._explain(exc))
                continue
            self._inner = drv
            log.info(
                "device %s started after %d attempt(s); it was: %s",
                self.device_id,
                self.attempts,
                self._reason,
            )
            return

    def _failed_again(self, reason: str) -> None:
        self._own.errors += 1
        self._own.consecutive_failures += 1
        if reason != self._reason:
            old = self._reason
            self._reason = reason
            self._own.last_error = reason
            log.warning("device %s still cannot start: %s (was: %s)", self.device_id, reason, old)
            if self._on_state is not None:  # same state, new reason: the comm alarm's text follows
                self._on_state(self.device_id, DeviceState.BACKOFF, DeviceState.BACKOFF, reason)
            self._mark_bad()

    async def stop(self) -> None:
        """Stop retrying, stop the real driver if it runs. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._inner is not None:
            await self._inner.stop()
        else:
            self._set_state(DeviceState.STOPPED, "stopped")

    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        """The real driver's write, or NOT_CONNECTED with the reason."""
        if self._inner is not None:
            return await self._inner.write(index, value)
        return WriteResult(WriteStatus.NOT_CONNECTED, self._reason)

    async def read(self, indices: Sequence[int]) -> Batch:
        """The real driver's read, or the points BAD with the reason."""
        if self._inner is not None:
            return await self._inner.read(indices)
        return Batch.bad(list(indices), self._reason)

    def diagnostics(self) -> DeviceDiagnostics:
        """See :attr:`diag`."""
        return self.diag


async def _quiet_stop(drv: Driver) -> None:
    try:
        await drv.stop()
    except Exception:  # a half-started driver: nothing more to do with it
        log.debug("stopping a driver that failed to start", exc_info=True)


def _endpoint(device: Any) -> str:
    if getattr(device, "endpoint", ""):
        return str(device.endpoint)
    host, port = getattr(device, "host", ""), getattr(device, "port", "")
    return f"{host}:{port}" if host else ""


def stand_in(runtime: Any, device: Any, points: Sequence[PointSpec], exc: BaseException) -> Driver:
    """A :class:`FailSoftDriver` for ``device`` of ``runtime`` whose driver raised ``exc``.

    ``runtime`` provides ``cfg``, ``_make_driver(device, points)``, ``_on_batch`` and
    ``_on_state`` (the Runtime's current API).
    """
    station_id = runtime.cfg.station.id

    def explain(e: BaseException) -> str:
        return start_failure_reason(e, device, station_id)

    reason = explain(exc)
    log.error("device %s cannot start, the station runs without it: %s", device.id, reason)
    return FailSoftDriver(
        device.id,
        device.protocol,
        points,
        runtime._on_batch,
        runtime._on_state,
        lambda: runtime._make_driver(device, list(points)),
        reason,
        explain,
        endpoint=_endpoint(device),
    )


async def restart_failed(runtime: Any, drv: Driver, exc: BaseException) -> Driver:
    """``drv.start()`` raised ``exc``: stop what it began, put a stand-in in its place and start it."""
    await _quiet_stop(drv)
    device = runtime.cfg.device(drv.device_id)
    fs = stand_in(runtime, device, drv.points, exc)
    for p in drv.points:
        runtime._tag_driver[p.index] = fs
    await fs.start()
    return fs
