"""A wall clock that notices when it is stepped, for timers that must measure durations.

Timestamps (alarm journal, history, uplink) are wall-clock Unix seconds: they must say
what the station's clock said. Durations (an alarm's on-delay, a shelve's remaining time,
re-annunciation) must not follow a step of that clock: an NTP correction of one hour back
would otherwise freeze every running timer for an hour, a CMOS reset one day forward would
complete every on-delay and end every shelve at once.

:class:`StepClock` returns the wall time, and compares on each call how far the wall clock
moved against the monotonic clock since the previous call. A difference beyond
``tolerance`` is a step: the clock calls ``on_step(delta)`` *before* it returns the new
time, so every stamp taken earlier is a pre-step stamp, and the owner shifts its running
deadlines by ``delta`` (they keep their remaining duration, in the new time). Slewing by
NTP (milliseconds per second) stays below the tolerance and is not a step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TOLERANCE = 2.0  # s of disagreement between wall and monotonic progress that count as a step


class StepClock:
    """``clock()`` -> wall time; calls ``on_step(delta)`` first when the wall clock was stepped."""

    def __init__(
        self,
        on_step: Callable[[float], None],
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        tolerance: float = TOLERANCE,
    ) -> None:
        self._on_step = on_step
        self._wall = wall
        self._mono = mono
        self.tolerance = tolerance
        self._offset = wall() - mono()
        self.steps = 0
        self.last_step = 0.0

    def __call__(self) -> float:
        """The wall time now (after handling a step that happened since the last call)."""
        w = self._wall()
        offset = w - self._mono()
        delta = offset - self._offset
        self._offset = offset  # slew between calls is absorbed, never adds up to a "step"
        if abs(delta) > self.tolerance:
            self.steps += 1
            self.last_step = delta
            log.warning(
                "the system clock was stepped by %+.1f s: running timers keep their remaining time",
                delta,
            )
            self._on_step(delta)
        return w
