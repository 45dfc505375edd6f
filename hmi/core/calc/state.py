"""State of the windowed and stateful expression functions, and where it is kept.

Each call site of ``avg(x, "10m")``, ``integral(q, "h")``, ``counter(c)``, ``runtime(c)``
or ``delta_since(v, "day")`` in an expression owns one state object. Integrals, counters,
runtimes and daily baselines survive a restart (:class:`CalcStore`, one JSON file in the
data directory, replaced atomically); windows start empty again (they refill in one
window length and say so through their quality).

Time is always the evaluation's timestamp (the newest input's), never the wall clock,
so a replayed or time-shifted input gives the same figures.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import tempfile
from collections import deque
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)


class FuncState:
    """Base of every call-site state: ``gap()`` forgets the last sample (input was BAD)."""

    persistent = False

    def gap(self) -> None:
        """The input had no usable value: do not bridge the gap."""

    def dump(self) -> dict[str, Any]:
        """What survives a restart (empty when nothing does)."""
        return {}

    def load(self, data: dict[str, Any]) -> None:
        """Restore :meth:`dump`'s output."""


class Window(FuncState):
    """Samples of the last ``seconds``: avg/min/max/sum/rate over them."""

    def __init__(self, func: str, seconds: float) -> None:
        self.func = func
        self.seconds = seconds
        self.samples: deque[tuple[float, float]] = deque()

    def add(self, ts: float, value: float) -> tuple[float, str]:
        """Take a sample; (result, note): the note says why there is no result."""
        if math.isfinite(value):
            if not self.samples or ts >= self.samples[-1][0]:
                self.samples.append((ts, value))
        cut = ts - self.seconds
        while len(self.samples) > 1 and self.samples[0][0] < cut:
            self.samples.popleft()
        if not self.samples:
            return math.nan, f"{self.func}(): no value in the window"
        vals = [v for _, v in self.samples]
        if self.func == "avg":
            out = sum(vals) / len(vals)
        elif self.func == "min":
            out = min(vals)
        elif self.func == "max":
            out = max(vals)
        elif self.func == "sum":
            out = sum(vals)
        else:  # rate: change per second between the oldest and the newest sample
            (t0, v0), (t1, v1) = self.samples[0], self.samples[-1]
            out = (v1 - v0) / (t1 - t0) if t1 > t0 else 0.0
        return out, ""

    def gap(self) -> None:
        """A BAD input empties the window: figures across an outage would mislead."""
        self.samples.clear()


class Integral(FuncState):
    """Trapezoidal time integral of x (x per second, minute, hour or day)."""

    persistent = True
    PER = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}

    def __init__(self, per: str = "s") -> None:
        self.per = self.PER[per]
        self.total = 0.0
        self.last: tuple[float, float] | None = None

    def add(self, ts: float, value: float) -> float:
        """Integrate up to ``ts``; the running total."""
        if self.last is not None and ts > self.last[0]:
            self.total += 0.5 * (value + self.last[1]) * (ts - self.last[0]) / self.per
        if self.last is None or ts >= self.last[0]:
            self.last = (ts, value)
        return self.total

    def gap(self) -> None:
        """Do not integrate across an outage."""
        self.last = None

    def dump(self) -> dict[str, Any]:
        """The total."""
        return {"total": self.total}

    def load(self, data: dict[str, Any]) -> None:
        """Restore the total."""
        self.total = float(data.get("total", 0.0))


class Counter(FuncState):
    """How many times a condition went from false to true."""

    persistent = True

    def __init__(self) -> None:
        self.count = 0
        self.last: bool | None = None

    def add(self, ts: float, cond: float) -> float:
        """Count a rising edge."""
        now = bool(cond)
        if now and self.last is False:
            self.count += 1
        self.last = now
        return float(self.count)

    def dump(self) -> dict[str, Any]:
        """Count and the last state (an edge across a restart still counts)."""
        return {"count": self.count, "last": self.last}

    def load(self, data: dict[str, Any]) -> None:
        """Restore count and last state."""
        self.count = int(data.get("count", 0))
        last = data.get("last")
        self.last = None if last is None else bool(last)


class Runtime(FuncState):
    """Hours a condition has held (time between evaluations while it was true)."""

    persistent = True

    def __init__(self) -> None:
        self.hours = 0.0
        self.last: tuple[float, bool] | None = None

    def add(self, ts: float, cond: float) -> float:
        """Add the time since the last evaluation if the condition held."""
        if self.last is not None and self.last[1] and ts > self.last[0]:
            self.hours += (ts - self.last[0]) / 3600.0
        if self.last is None or ts >= self.last[0]:
            self.last = (ts, bool(cond))
        return self.hours

    def gap(self) -> None:
        """Time with an unknown condition is not counted."""
        self.last = None

    def dump(self) -> dict[str, Any]:
        """The hours (time the station was down is not counted)."""
        return {"hours": self.hours}

    def load(self, data: dict[str, Any]) -> None:
        """Restore the hours."""
        self.hours = float(data.get("hours", 0.0))


class DeltaSince(FuncState):
    """Change of x since the current gas hour / day / month began."""

    persistent = True

    def __init__(self, period: str, day_start: int, tz: str) -> None:
        self.period = period
        self.day_start = day_start
        try:
            self.tz: dt.tzinfo = ZoneInfo(tz)
        except (KeyError, ValueError):
            self.tz = dt.UTC
        self.key = ""
        self.base = math.nan
        self.last = math.nan

    def period_key(self, ts: float) -> str:
        """Label of the period ``ts`` falls in (the gas day starts at ``day_start`` o'clock)."""
        local = dt.datetime.fromtimestamp(ts, self.tz)
        if self.period == "hour":
            return local.strftime("%Y-%m-%dT%H")
        gas = local - dt.timedelta(hours=self.day_start)
        return gas.strftime("%Y-%m-%d" if self.period == "day" else "%Y-%m")

    def add(self, ts: float, value: float) -> float:
        """The change since the period began (its baseline is the last value before it)."""
        key = self.period_key(ts)
        if key != self.key:
            self.base = self.last if math.isfinite(self.last) and self.key else value
            self.key = key
        self.last = value
        return value - self.base

    def dump(self) -> dict[str, Any]:
        """Period, baseline and last value."""
        return {"key": self.key, "base": self.base, "last": self.last}

    def load(self, data: dict[str, Any]) -> None:
        """Restore period, baseline and last value."""
        self.key = str(data.get("key", ""))
        self.base = float(data.get("base", math.nan))
        self.last = float(data.get("last", math.nan))


class CalcStore:
    """One JSON file with the persistent states and the manual entries of a calc device."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"states": {}, "manual": {}}
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(raw, dict):
                self.data["states"] = dict(raw.get("states") or {})
                self.data["manual"] = dict(raw.get("manual") or {})
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.error("calc state %s unreadable (%s): counters and runtimes start at 0", path, exc)

    def save(self) -> None:
        """Write the file atomically (a crash leaves the previous one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.data, f, allow_nan=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
