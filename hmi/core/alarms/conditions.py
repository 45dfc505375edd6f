"""Alarm conditions: evaluate tag values into "condition active?" flags, cheaply.

Limit (HH/H/L/LL), discrete and fault alarms are one NumPy group (:class:`VectorConditions`):
their rows are sorted by tag index with a CSR offset table, so an update of *m* tags
touches only those tags' rows, with a handful of array operations and no Python loop.
Only rows whose condition *changes* come back to Python. Deviation and rate-of-change
alarms are few and need state (a second tag, a window of samples); they are evaluated
one by one (:class:`DeviationCondition`, :class:`RocCondition`), only when their tags move.

A row whose input is not GOOD keeps its previous condition: a stale or BAD value neither
raises nor clears an alarm.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

OP_HIGH, OP_LOW, OP_EQ, OP_NE = 0, 1, 2, 3
_EQ_TOL = 1e-9


class VectorConditions:
    """Limit / discrete / fault conditions of many alarms, as arrays sorted by tag."""

    def __init__(
        self,
        n_tags: int,
        tag: Sequence[int],
        op: Sequence[int],
        threshold: Sequence[float],
        deadband: Sequence[float],
    ) -> None:
        order = np.argsort(np.asarray(tag, dtype=np.int64), kind="stable")
        #: row -> position in the caller's list (rows are sorted by tag)
        self.owner = order.astype(np.int64)
        self.tag = np.asarray(tag, dtype=np.int64)[order]
        self.op = np.asarray(op, dtype=np.int8)[order]
        self.threshold = np.asarray(threshold, dtype=np.float64)[order]
        self.deadband = np.asarray(deadband, dtype=np.float64)[order]
        self.raw = np.zeros(len(order), dtype=bool)
        # CSR: rows of tag i are first[i]:first[i+1]
        counts = (
            np.bincount(self.tag, minlength=n_tags) if len(order) else np.zeros(n_tags, np.int64)
        )
        self.first = np.zeros(n_tags + 1, dtype=np.int64)
        np.cumsum(counts, out=self.first[1:])

    def __len__(self) -> int:
        return len(self.tag)

    def row_of(self, owner_pos: int) -> int:
        """Row of the caller's alarm number ``owner_pos``."""
        return int(np.nonzero(self.owner == owner_pos)[0][0])

    def evaluate(
        self, indices: np.ndarray, values: np.ndarray, good: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Evaluate the rows of the updated tags; return (changed rows, new condition, value) of changes."""
        starts = self.first[indices]
        counts = self.first[indices + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return _EMPTY_I, _EMPTY_B, _EMPTY_F
        # rows = concatenation of ranges starts[k] : starts[k] + counts[k]
        shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        rows = shift + np.arange(total)
        v = np.repeat(values, counts)
        g = np.repeat(good, counts)
        a = self.threshold[rows]
        db = self.deadband[rows]
        op = self.op[rows]
        prev = self.raw[rows]
        with np.errstate(invalid="ignore"):
            high = np.where(prev, v >= a - db, v >= a)
            low = np.where(prev, v <= a + db, v <= a)
            eq = np.abs(v - a) <= _EQ_TOL
        new = np.where(
            op == OP_HIGH, high, np.where(op == OP_LOW, low, np.where(op == OP_EQ, eq, ~eq))
        )
        new &= g  # evaluated only on GOOD values...
        new |= prev & ~g  # ...anything else keeps the previous condition
        changed = new != prev
        if not changed.any():
            return _EMPTY_I, _EMPTY_B, _EMPTY_F
        rows_c = rows[changed]
        new_c = new[changed]
        self.raw[rows_c] = new_c
        return rows_c, new_c, v[changed]


_EMPTY_I = np.empty(0, np.int64)
_EMPTY_B = np.empty(0, bool)
_EMPTY_F = np.empty(0, np.float64)


@dataclass(slots=True)
class DeviationCondition:
    """|value - set point| beyond ``deviation``; the set point is a tag or a fixed number."""

    tag: int
    setpoint_tag: int  # -1: fixed set point
    setpoint: float
    deviation: float
    deadband: float
    raw: bool = False

    def evaluate(self, value: np.ndarray, good: np.ndarray) -> tuple[bool, float] | None:
        """New condition and the deviation when the inputs are GOOD and it changed, else None."""
        if not good[self.tag] or (self.setpoint_tag >= 0 and not good[self.setpoint_tag]):
            return None
        sp = float(value[self.setpoint_tag]) if self.setpoint_tag >= 0 else self.setpoint
        dev = float(value[self.tag]) - sp
        limit = self.deviation - self.deadband if self.raw else self.deviation
        new = abs(dev) >= limit
        if new == self.raw:
            return None
        self.raw = new
        return new, dev


@dataclass(slots=True)
class RocCondition:
    """|rate of change| in units per minute, measured over the last ``window`` seconds."""

    tag: int
    rate: float
    deadband: float
    window: float
    raw: bool = False
    samples: deque[tuple[float, float]] = field(default_factory=deque)
    last_rate: float = 0.0

    def add(self, ts: float, value: float) -> tuple[bool, float] | None:
        """Feed one GOOD sample; return (new condition, rate) when the condition changed."""
        s = self.samples
        if s and ts <= s[-1][0]:
            return None  # same or older timestamp: nothing new to measure
        s.append((ts, value))
        while len(s) > 2 and ts - s[1][0] >= self.window:
            s.popleft()
        t0, v0 = s[0]
        if ts - t0 < self.window * 0.5:  # too short a span: one noisy step is not a rate
            return None
        rate = (value - v0) / (ts - t0) * 60.0
        self.last_rate = rate
        limit = self.rate - self.deadband if self.raw else self.rate
        new = abs(rate) >= limit
        if new == self.raw:
            return None
        self.raw = new
        return new, rate

    def reset_window(self) -> None:
        """Forget the samples (the input went BAD: rates across the gap are meaningless)."""
        self.samples.clear()


@dataclass(slots=True)
class FrozenCondition:
    """The value has not changed for ``seconds`` (a PLC heartbeat that stopped counting)."""

    tag: int
    seconds: float
    raw: bool = False
    last_value: float = float("nan")
    changed_at: float = float("nan")

    def add(self, ts: float, value: float) -> tuple[bool, float] | None:
        """Feed one GOOD sample; return (new condition, seconds unchanged) when it changed."""
        if value != self.last_value or self.changed_at != self.changed_at:  # first or new value
            self.last_value, self.changed_at = value, ts
        age = ts - self.changed_at
        new = age >= self.seconds
        if new == self.raw:
            return None
        self.raw = new
        return new, age

    def reset_window(self) -> None:
        """Forget the last value (the input went BAD: a gap is not a frozen value)."""
        self.last_value = self.changed_at = float("nan")
