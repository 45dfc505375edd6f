"""Shelving (OPC UA Part 9 ShelvedStateMachine): timed and one-shot, reason required, bounded.

A timed shelve lasts the given duration; a one-shot shelve lasts until the alarm's
condition next returns to normal. Both are bounded by the alarm's ``max_shelve``
(OPC UA MaxTimeShelved also ends a one-shot shelve), after which the alarm unshelves
itself. Expiry times are absolute Unix times, so they survive a restart.
"""

from __future__ import annotations

import math

from hmi.core.alarms.model import AlarmRecord


class Shelf:
    """The currently shelved alarms and the rules for shelving one."""

    def __init__(self) -> None:
        self._shelved: dict[str, AlarmRecord] = {}

    def __len__(self) -> int:
        return len(self._shelved)

    @staticmethod
    def refusal(rec: AlarmRecord, reason: str, duration: float | None) -> str | None:
        """Why ``rec`` cannot be shelved with these arguments, or None."""
        if rec.shelved:
            return "already shelved"
        if not reason or not reason.strip():
            return "reason required"
        if duration is not None:
            if not math.isfinite(duration) or duration <= 0:
                return "shelve duration must be positive"
            if duration > rec.d.max_shelve:
                return f"exceeds maximum shelve time ({rec.d.max_shelve:g} s)"
        return None

    def shelve(
        self, rec: AlarmRecord, now: float, user: str, reason: str, duration: float | None
    ) -> None:
        """Shelve ``rec`` (checked with :meth:`refusal` first)."""
        rec.shelved = True
        rec.shelve_oneshot = duration is None
        rec.shelve_until = now + (rec.d.max_shelve if duration is None else duration)
        rec.shelve_user = user
        rec.shelve_reason = reason.strip()
        self._shelved[rec.d.alarm_id] = rec

    def restore(self, rec: AlarmRecord) -> None:
        """Track a record that was reloaded shelved."""
        if rec.shelved:
            self._shelved[rec.d.alarm_id] = rec

    def unshelve(self, rec: AlarmRecord) -> None:
        """Clear the shelve of ``rec``."""
        rec.shelved = False
        rec.shelve_oneshot = False
        rec.shelve_until = 0.0
        rec.shelve_user = ""
        rec.shelve_reason = ""
        self._shelved.pop(rec.d.alarm_id, None)

    def shift(self, delta: float) -> list[AlarmRecord]:
        """The wall clock stepped by ``delta``: move every expiry with it; the shifted records."""
        for r in self._shelved.values():
            if r.shelve_until:
                r.shelve_until += delta
        return list(self._shelved.values())

    def expired(self, now: float) -> list[AlarmRecord]:
        """Shelved alarms whose time is up."""
        return [r for r in self._shelved.values() if r.shelve_until and now >= r.shelve_until]
