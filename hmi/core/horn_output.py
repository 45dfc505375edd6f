"""The alarm horn on a field output: a PLC coil that drives the station horn / beacon.

When ``horn_output`` names a writable tag, the coil follows the annunciation state (1 while
any alarm is sounding, 0 when silenced or acknowledged) and is written only when that state
changes, or again after a failed write.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hmi.core.ports import AlarmOps, TagWriter

log = logging.getLogger(__name__)

PERIOD = 0.5  # s between looks at the horn state


class HornOutput:
    """Mirror the annunciation state on one writable tag (runs on the acquisition loop)."""

    def __init__(self, alarms: AlarmOps | None, write: TagWriter, tag: str) -> None:
        self.alarms = alarms
        self._write = write  # the runtime's device writer (no operator, nothing to audit)
        self.tag = tag
        self.written: bool | None = None  # the state last written successfully
        self.writes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the watcher task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="horn-output")

    async def stop(self) -> None:
        """Stop the watcher (the coil keeps its last state)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.step()
            await asyncio.sleep(PERIOD)

    async def step(self) -> None:
        """Write the coil when the horn state differs from what was last written."""
        alarms = self.alarms
        sounding = bool(alarms is not None and alarms.annunciation().horn)
        if sounding == self.written:
            return
        res = await self._write(self.tag, 1 if sounding else 0, "system", "horn")
        self.writes += 1
        if res.ok:
            if self.written is not None or sounding:
                log.info("station horn output %s: %s", self.tag, "on" if sounding else "off")
            self.written = sounding
        else:
            log.warning("station horn output %s: %s", self.tag, res.message)
