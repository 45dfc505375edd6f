"""The horn: which unacknowledged alarms are sounding, silence, and re-annunciation.

An alarm starts sounding when it is raised (or comes back from shelving, suppression or
out-of-service while unacknowledged). Acknowledging it stops it for good; *silence*
stops every sounding alarm without acknowledging anything. An alarm that stays
unacknowledged re-sounds ``realarm_after`` seconds after it last sounded or was silenced.
The caller (the engine) holds its lock around every call.
"""

from __future__ import annotations

from hmi.core.alarms.model import Annunciation


class Annunciator:
    """Sounding set and re-alarm timers of the annunciated, unacknowledged alarms."""

    def __init__(self, realarm_after: float = 600.0) -> None:
        self.realarm_after = float(realarm_after)
        self._priority: dict[str, int] = {}  # tracked: annunciated and unacknowledged
        self._since: dict[str, float] = {}  # last time it sounded or was silenced
        self._sounding: set[str] = set()

    def sound(self, alarm_id: str, priority: int, now: float) -> None:
        """Start (or restart) sounding one alarm."""
        self._priority[alarm_id] = priority
        self._since[alarm_id] = now
        self._sounding.add(alarm_id)

    def forget(self, alarm_id: str) -> None:
        """The alarm was acknowledged, hidden or went back to NORMAL: never sound it again."""
        self._priority.pop(alarm_id, None)
        self._since.pop(alarm_id, None)
        self._sounding.discard(alarm_id)

    def silence(self, now: float) -> int:
        """Stop the horn (nothing is acknowledged); return how many alarms were sounding."""
        n = len(self._sounding)
        for alarm_id in self._sounding:
            self._since[alarm_id] = now
        self._sounding.clear()
        return n

    def shift(self, delta: float) -> None:
        """The wall clock stepped by ``delta``: re-alarm timers keep their remaining time."""
        for a in self._since:
            self._since[a] += delta

    def due(self, now: float) -> list[str]:
        """Silenced alarms whose re-alarm time has come (the caller re-sounds them)."""
        if self.realarm_after <= 0:
            return []
        due = [
            a
            for a, t in self._since.items()
            if a not in self._sounding and now - t >= self.realarm_after
        ]
        return sorted(due, key=lambda a: (self._priority[a], a))

    def is_sounding(self, alarm_id: str) -> bool:
        """Whether this alarm is sounding right now."""
        return alarm_id in self._sounding

    def state(self) -> Annunciation:
        """The horn state now."""
        if not self._sounding:
            return Annunciation(False, None, (), len(self._priority))
        ids = tuple(sorted(self._sounding, key=lambda a: (self._priority[a], a)))
        return Annunciation(True, self._priority[ids[0]], ids, len(self._priority))
