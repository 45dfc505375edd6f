"""The device stage of the command pipeline: engineering value -> raw -> driver -> read-back.

:class:`DeviceWriter` is private to the command pipeline: the runtime builds one and gives
its :meth:`~DeviceWriter.write` only to :class:`~hmi.core.commands.CommandService` (the
permission check and the audit come first there). It runs on the acquisition loop.

Every batch read back from the device enters the normal data path (tag table -> alarms,
history, uplink, HMI) through the same sink as a poll, whatever the tag's type, so the
verified value is what everybody sees at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from drivers.base import Batch, Driver, WriteResult, WriteStatus
from hmi.config.schema import StationConfig, TagConfig

log = logging.getLogger(__name__)

READBACK_TIMEOUT = 5.0  # s: a write is verified by reading the point back within this time
READBACK_PAUSE = 0.1  # s between read-back attempts


class DeviceWriter:
    """Writes checked values to the devices and verifies them by reading them back."""

    def __init__(
        self,
        cfg: StationConfig,
        index: dict[str, int],
        driver_of: Callable[[int], Driver | None],
        deliver: Callable[[Batch], None],
        readback_timeout: float = READBACK_TIMEOUT,
    ) -> None:
        self.cfg = cfg
        self._index = index
        self._driver_of = driver_of
        self._deliver = deliver
        self.readback_timeout = readback_timeout

    async def write(
        self, name: str, value: Any, user: str = "", origin: str = "local"
    ) -> WriteResult:
        """Write an engineering value to a tag, then verify it by reading it back."""
        t = self.cfg.tag_map().get(name)
        if t is None:
            return WriteResult(WriteStatus.INVALID, f"unknown tag {name!r}")
        if t.access not in ("rw", "manual"):
            return WriteResult(WriteStatus.INVALID, f"{name} is read-only")
        i = self._index[name]
        drv = self._driver_of(i)
        if drv is None:
            return WriteResult(WriteStatus.NOT_CONNECTED, f"device {t.device} is not running")
        raw, err = _to_raw(t, value)
        if err:
            return WriteResult(WriteStatus.INVALID, err)
        log.info("write %s = %r by %s (%s)", name, value, user or "-", origin)
        result = await drv.write(i, raw)
        if not result.ok:
            return result
        return await self._read_back(drv, t, i, raw)

    async def _read_back(self, drv: Driver, t: TagConfig, index: int, raw: Any) -> WriteResult:
        deadline = time.monotonic() + self.readback_timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                batch = await asyncio.wait_for(drv.read([index]), self.readback_timeout)
            except TimeoutError:
                break
            if len(batch.values):
                self._deliver(batch)  # a fresh reading of the device: the normal data path
                last = batch.values[0]
                if _matches(t, raw, last):
                    return WriteResult(WriteStatus.SUCCESS, "written and read back")
            await asyncio.sleep(READBACK_PAUSE)
        return WriteResult(
            WriteStatus.TIMEOUT,
            f"read-back did not confirm the value within {self.readback_timeout:.0f} s"
            f" (last read {last!r})",
        )


def _to_raw(t: TagConfig, value: Any) -> tuple[Any, str]:
    """(raw value for the driver, error) of an engineering value."""
    if t.type == "string" or isinstance(value, bool):
        return value, ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return value, f"{value!r} is not a number"
    if not (t.range[0] <= v <= t.range[1]):
        return value, (
            f"{v:g} {t.unit} is outside the range {t.range[0]:g}-{t.range[1]:g} {t.unit}"
        )
    return t.to_raw(v), ""


def _matches(t: TagConfig, raw: Any, read: Any) -> bool:
    """True when the value read back is the one written (within the raw resolution)."""
    if isinstance(raw, str):
        return str(read) == raw
    try:
        got = float(read)
    except (TypeError, ValueError):
        return False
    if not math.isfinite(got):
        return False
    want = float(raw)
    tol = max(1e-6, abs(want) * 1e-6)
    return abs(got - want) <= tol + 0.5 * _step(t)


def _step(t: TagConfig) -> float:
    """Raw-unit resolution of a scaled integer tag (read-back tolerance)."""
    return 1.0 if t.scale is not None and t.type in (None, "int") else 0.0
