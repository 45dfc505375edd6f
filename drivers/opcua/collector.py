"""Gather per-point readings and hand them to the sink as the fewest :class:`Batch` objects.

A batch has one reason for all its points, and is either numeric or text, so the
readings of one publish response or read are split by (text, quality, reason). In
the usual case everything is Good and numeric: one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from drivers.base import Batch

from .codec import BAD, GOOD

Key = tuple[bool, int, str]


class BatchCollector:
    """Accumulates readings; :meth:`flush` delivers them."""

    __slots__ = ("good_i", "good_v", "good_t", "other")

    def __init__(self) -> None:
        self.good_i: list[int] = []
        self.good_v: list[float] = []
        self.good_t: list[float] = []
        self.other: dict[Key, tuple[list[int], list[object], list[float]]] = {}

    def add_good(self, index: int, value: float, ts: float) -> None:
        """A GOOD numeric reading (the hot path)."""
        self.good_i.append(index)
        self.good_v.append(value)
        self.good_t.append(ts)

    def add(
        self, index: int, value: object, quality: int, reason: str, ts: float, text: bool = False
    ) -> None:
        """Any reading: text, or not GOOD (BAD values are delivered as NaN / empty text)."""
        if quality == BAD:
            value = "" if text else float("nan")
        lists = self.other.get((text, quality, reason))
        if lists is None:
            lists = self.other[(text, quality, reason)] = ([], [], [])
        lists[0].append(index)
        lists[1].append(value)
        lists[2].append(ts)

    def __len__(self) -> int:
        return len(self.good_i) + sum(len(v[0]) for v in self.other.values())

    def flush(self, sink: Callable[[Batch], None], recv_ts: float) -> int:
        """Deliver everything collected; return the number of readings."""
        n = 0
        if self.good_i:
            sink(Batch(np.array(self.good_i, dtype=np.int32), np.array(self.good_v, dtype=np.float64),
                       GOOD, "", np.array(self.good_t, dtype=np.float64), recv_ts))  # fmt: skip
            n += len(self.good_i)
            self.good_i, self.good_v, self.good_t = [], [], []
        for (text, quality, reason), (idx, vals, ts) in self.other.items():
            values = np.empty(len(vals), dtype=object) if text else np.array(vals, dtype=np.float64)
            if text:
                values[:] = cast(Any, vals)  # one object per slot, never split
            sink(
                Batch(
                    np.array(idx, dtype=np.int32),
                    values,
                    quality,
                    reason,
                    np.array(ts, dtype=np.float64),
                    recv_ts,
                )
            )
            n += len(idx)
        self.other = {}
        return n

    def merged(self, recv_ts: float) -> Batch:
        """Everything collected as ONE batch with a quality per point (``Driver.read``).

        The reason is the first non-GOOD one; text anywhere makes the values an object array.
        """
        idx: list[int] = list(self.good_i)
        vals: list[object] = list(self.good_v)
        ts: list[float] = list(self.good_t)
        qual: list[int] = [GOOD] * len(idx)
        reason = ""
        text = False
        for (is_text, q, why), (i, v, t) in self.other.items():
            idx += i
            vals += v
            ts += t
            qual += [q] * len(i)
            text = text or is_text
            if q != GOOD and not reason:
                reason = why
        if text:
            values = np.empty(len(vals), dtype=object)
            values[:] = vals
        else:
            values = np.array(vals, dtype=np.float64)
        return Batch(
            np.array(idx, dtype=np.int32),
            values,
            np.array(qual, dtype=np.uint8),
            reason,
            np.array(ts),
            recv_ts,
        )
