"""The IEC 104 driver's last reading per point, and its delivery as the fewest batches.

IEC 104 reports changes; this cache is what :meth:`Iec104Driver.read` answers (the
read-back after a command waits for the RTU's return information to arrive here) and
what the periodic refresh delivers again for points that have been quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from drivers.base import Batch

from .codec import BAD, GOOD
from .points import Iec104Point

#: a reading: (point, value, quality, reason, source_ts)
Item = tuple[Iec104Point, float, int, str, float]


class PointCache:
    """Readings of a device's usable points; ``emit`` receives the batches (loop thread)."""

    def __init__(
        self,
        points: Sequence[Iec104Point],
        by_index: Mapping[int, Iec104Point],
        emit: Callable[[Batch], None],
    ) -> None:
        self.points = list(points)
        self.by_index = by_index
        self.emit = emit
        self.all = np.asarray([pt.index for pt in self.points], dtype=np.int32)

    def apply(self, items: Sequence[Item]) -> None:
        """New readings from the RTU (the hot path): remember them, deliver them."""
        n = len(items)
        seen = time.monotonic()
        idx = np.empty(n, np.int32)
        values = np.empty(n)
        ts = np.empty(n)
        all_good = True
        for k, (pt, value, quality, reason, t) in enumerate(items):
            pt.value, pt.quality, pt.reason, pt.source_ts = value, quality, reason, t
            pt.received, pt.seen = True, seen
            idx[k], values[k], ts[k] = pt.spec.index, value, t
            all_good = all_good and quality == GOOD
        if all_good:
            self.emit(Batch(idx, values, GOOD, "", ts, time.time()))
        else:
            self.deliver(items)

    def deliver(self, items: Sequence[Item]) -> None:
        """Readings -> the fewest batches: all GOOD ones together, the rest by reason."""
        now = time.time()
        good = [it for it in items if it[2] == GOOD]
        groups: dict[tuple[int, str], list[Item]] = {(GOOD, ""): good} if good else {}
        for it in items:
            if it[2] != GOOD:
                groups.setdefault((it[2], it[3]), []).append(it)
        for (quality, reason), group in groups.items():
            idx = np.fromiter((it[0].spec.index for it in group), np.int32, len(group))
            values = np.fromiter((it[1] for it in group), np.float64, len(group))
            if quality == BAD:
                values[:] = np.nan
            ts = np.fromiter((it[4] for it in group), np.float64, len(group))
            self.emit(Batch(idx, values, quality, reason, ts, now))

    def refresh(self, period: float) -> None:
        """Deliver again the last reading of every point quiet for about ``period`` s."""
        cutoff = time.monotonic() - 0.9 * period
        items = [(pt, pt.value, pt.quality, pt.reason, pt.source_ts)
                 for pt in self.points if pt.received and pt.seen < cutoff]  # fmt: skip
        if items:
            self.deliver(items)

    def mark_missing(self, template: str) -> list[Iec104Point]:
        """Monitored points (not counters) without a reading since connect become BAD with
        ``template.format(addr=...)``; returns them."""
        missing = [pt for pt in self.points if pt.monitored and not pt.counter and not pt.received]
        for pt in missing:
            pt.quality, pt.reason = BAD, template.format(addr=pt.addr)
            self.emit(Batch.bad([pt.index], pt.reason))
        return missing

    def mismatch(self, ioa: int, type_name: str) -> None:
        """The RTU reports ``ioa`` with another type than the tag's address: BAD, config error."""
        for pt in self.points:
            if pt.monitored and pt.addr.ioa == ioa:
                pt.quality, pt.received = BAD, True
                pt.reason = (f"config error: the RTU reports IOA {ioa} as {type_name}, "
                             f"the tag's address says {pt.addr.type}")  # fmt: skip
                self.emit(Batch.bad([pt.index], pt.reason))

    def fail_all(self, reason: str) -> None:
        """Every point BAD (link down, stopped), forgotten until the next reading."""
        for pt in self.points:
            pt.value, pt.quality, pt.reason, pt.received = float("nan"), BAD, reason, False
        if len(self.all):
            self.emit(Batch.bad(self.all, reason))

    def read(self, indices: Sequence[int]) -> Batch:
        """The last reading of some points, one quality each; unknown indices are BAD."""
        idx = [int(i) for i in indices]
        values = np.full(len(idx), np.nan)
        quality = np.zeros(len(idx), dtype=np.uint8)
        ts = np.zeros(len(idx))
        reasons: list[str] = []
        for slot, i in enumerate(idx):
            pt = self.by_index.get(i)
            if pt is None:
                reasons.append(f"no IEC 104 point with index {i}")
                continue
            values[slot], quality[slot], ts[slot] = pt.value, pt.quality, pt.source_ts
            if pt.quality != GOOD:
                reasons.append(pt.reason)
        return Batch(np.asarray(idx, np.int32), values, quality, reasons[0] if reasons else "",
                     ts, time.time())  # fmt: skip
