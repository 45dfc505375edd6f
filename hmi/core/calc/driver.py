"""The ``calc`` device: expression tags and manual entries as ordinary tags.

:class:`CalcDriver` implements :class:`drivers.base.Driver` for a ``protocol: calc``
device. It does not poll: the runtime hands it every scan (:meth:`feed`) and it
answers with batches of the expression tags whose inputs moved, on the acquisition
thread, through the same sink as any device. Manual-entry tags are written through
the command service (role, range, comment and audit there) and land here: the value
is kept in the device's state file and sent like a reading.

Lives in ``hmi.core`` (not ``drivers/``) because it reads the runtime's tag table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import (
    Batch,
    DeviceState,
    Driver,
    PointSpec,
    Quality,
    StateListener,
    WriteResult,
    WriteStatus,
)
from hmi.core.calc.engine import CalcEngine
from hmi.core.calc.state import CalcStore

log = logging.getLogger(__name__)

NO_ENTRY = "no manual entry yet"


class CalcDriver(Driver):
    """Evaluates expression tags after their inputs; holds manual entries."""

    kind = "calc"

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Any,
        on_state: StateListener | None = None,
        *,
        runtime: Any,
    ) -> None:
        super().__init__(device_id, params, points, sink, on_state)
        cfg = runtime.cfg
        self.diag.endpoint = "local"
        names = list(runtime.tags.names)
        mine = [p.name for p in self.points]
        self.engine = CalcEngine(
            cfg,
            names,
            mine,
            gas_day_start=int(params.get("gas_day_start", 8)),
            timezone=cfg.station.timezone,
        )
        self.save_period = float(params.get("save_period", 10.0))
        self.store = CalcStore(Path(runtime.data_dir) / f"calc_{device_id}.json")
        saved = self.store.data["states"]
        for key, st in self.engine.state_items():
            if st.persistent and isinstance(saved.get(key), dict):
                st.load(saved[key])
        tag_map = cfg.tag_map()
        self.manual = {p.index: p.name for p in self.points if tag_map[p.name].access == "manual"}
        # calc tags are never stale on their own: they follow their inputs' quality
        # (an expression over a stale input is UNCERTAIN), manual entries hold until changed
        for p in self.points:
            runtime.tags.stale_after[p.index] = math.inf
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def validate_address(cls, address: str) -> str | None:
        """Calc tags have no address (checked in :mod:`hmi.config.calc`)."""
        return None if not address else "calc tags have no address (use expr:)"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Send the saved manual entries, then save states every ``save_period``."""
        self._set_state(DeviceState.UP)
        entries = self.store.data["manual"]
        for i, name in self.manual.items():
            e = entries.get(name)
            if isinstance(e, dict) and isinstance(e.get("value"), int | float):
                self._emit_manual(i, float(e["value"]), float(e.get("ts") or time.time()))
            else:
                self.sink(Batch.bad([i], NO_ENTRY))
        self._task = asyncio.get_running_loop().create_task(
            self._saver(), name=f"calc-save-{self.device_id}"
        )

    async def stop(self) -> None:
        """Stop saving and save once more. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.save()
        self._set_state(DeviceState.STOPPED)

    async def _saver(self) -> None:
        while True:
            await asyncio.sleep(self.save_period)
            self.save()

    def save(self) -> None:
        """Write counters, integrals, runtimes, daily baselines and manual entries."""
        self.store.data["states"] = {
            k: st.dump() for k, st in self.engine.state_items() if st.persistent
        }
        try:
            self.store.save()
        except OSError as exc:
            log.error(
                "calc device %s: saving state to %s failed: %s",
                self.device_id,
                self.store.path,
                exc,
            )

    # ------------------------------------------------------------------ data path
    def feed(self, u: Any) -> None:
        """One scan from the tag table (acquisition thread): evaluate what it touched."""
        batches = self.engine.feed(u.indices, u.values, u.quality, u.ts, u.reasons)
        if not batches:
            return
        self.engine.busy = True  # our own results come back through the sink: no re-entry
        try:
            for b in batches:
                self.sink(b)
        finally:
            self.engine.busy = False
        self.diag.requests += 1

    # ------------------------------------------------------------------ manual entries
    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        """Store a manual entry (checked and audited by the command service)."""
        name = self.manual.get(index)
        if name is None:
            return WriteResult(WriteStatus.INVALID, "expression tags are read-only")
        try:
            v = float(value)
        except (TypeError, ValueError):
            return WriteResult(WriteStatus.INVALID, f"{value!r} is not a number")
        now = time.time()
        self.store.data["manual"][name] = {"value": v, "ts": now}
        try:
            await asyncio.to_thread(self.save)
        except OSError as exc:  # pragma: no cover - save() logs and swallows
            return WriteResult(WriteStatus.ERROR, f"entry not saved: {exc}")
        log.info("manual entry %s = %g", name, v)
        self._emit_manual(index, v, now)
        return WriteResult(WriteStatus.SUCCESS, "entered")

    def _emit_manual(self, index: int, value: float, ts: float) -> None:
        self.sink(
            Batch(np.array([index], np.int32), np.array([value]), Quality.GOOD, "", ts, time.time())
        )

    async def read(self, indices: Sequence[int]) -> Batch:
        """Current values of ``indices`` as the engine holds them (read-back of an entry)."""
        idx = np.asarray(indices, np.int64)
        vals = self.engine.val[idx].copy()
        entries = self.store.data["manual"]
        for k, i in enumerate(idx.tolist()):
            name = self.manual.get(i)
            if name is not None:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    vals[k] = float(entries[name]["value"])
        now = time.time()
        return Batch(idx.astype(np.int32), vals, Quality.GOOD, "", now, now)
