"""Operator actions on alarms: acknowledge, reset, shelve, unshelve, out of service, silence.

:class:`AlarmOperations` is the operator-facing half of :class:`~hmi.core.alarms.engine.AlarmEngine`
(kept in its own file for size). Every action runs on the acquisition thread under the
engine lock, is journaled with user, time and comment, and answers with an
:class:`~hmi.core.alarms.model.OpResult` naming every refusal ("already acknowledged",
"unknown alarm", "not latched", "reason required", "exceeds maximum shelve time", ...).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from hmi.core.alarms.annunciation import Annunciator
from hmi.core.alarms.model import AlarmRecord, AlarmState, OpResult
from hmi.core.alarms.shelving import Shelf

log = logging.getLogger(__name__)


class AlarmOperations:
    """Operator actions; the engine provides the records, lock, horn, shelf and event plumbing."""

    _lock: threading.RLock
    _records: dict[str, AlarmRecord]
    _listed: dict[str, AlarmRecord]
    _ann: Annunciator
    _shelf: Shelf
    _version: int
    _clock: Callable[[], float]

    # provided by the engine
    def _emit(
        self,
        rec: AlarmRecord,
        transition: str,
        prev: AlarmState,
        now: float,
        user: str = "",
        comment: str = "",
        remote: bool = False,
    ) -> None:
        raise NotImplementedError

    def _take_events(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _dispatch(self, events: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _annunciate_if_due(self, rec: AlarmRecord, now: float) -> None:
        raise NotImplementedError

    def _targets(self, alarm_ids: str | Iterable[str]) -> list[str]:
        if isinstance(alarm_ids, str):
            if alarm_ids == "all":  # every visible unacknowledged alarm
                return [a for a, r in self._listed.items() if r.state.unacked and not r.hidden]
            return [alarm_ids]
        return list(alarm_ids)

    def ack(
        self, alarm_ids: str | Iterable[str], user: str, comment: str = "", remote: bool = False
    ) -> OpResult:
        """Acknowledge one alarm id, a list of ids, or ``"all"`` visible unacknowledged alarms."""
        if not user:
            return OpResult(False, message="user required")
        now = self._clock()
        done: list[str] = []
        refused: dict[str, str] = {}
        with self._lock:
            ids = self._targets(alarm_ids)
            for alarm_id in ids:
                rec = self._records.get(alarm_id)
                if rec is None:
                    refused[alarm_id] = "unknown alarm"
                    continue
                prev = rec.state
                why = rec.acknowledge(now, user, comment)
                if why:
                    refused[alarm_id] = why
                    continue
                rec.last_change = now
                self._ann.forget(alarm_id)
                self._emit(rec, "ack", prev, now, user, comment, remote)
                done.append(alarm_id)
            events = self._take_events()
        self._dispatch(events)
        if done or refused:
            log.info(
                "%s acknowledged %d alarm(s)%s, %d refused",
                user,
                len(done),
                " (remote)" if remote else "",
                len(refused),
            )
        if refused:
            msg = "; ".join(f"{a}: {r}" for a, r in refused.items())
        else:
            msg = f"{len(done)} alarm(s) acknowledged" if ids else "nothing to acknowledge"
        return OpResult(not refused, tuple(done), refused, msg)

    def reset(self, alarm_id: str, user: str, comment: str = "") -> OpResult:
        """Reset a latched alarm whose condition has returned to normal."""
        return self._single(
            "reset", alarm_id, user, lambda rec, now: self._do_reset(rec, now, user, comment)
        )

    def _do_reset(self, rec: AlarmRecord, now: float, user: str, comment: str) -> str | None:
        prev = rec.state
        why = rec.reset(now, user, comment)
        if why is None:
            rec.last_change = now
            self._ann.forget(rec.d.alarm_id)
            self._emit(rec, "reset", prev, now, user, comment)
        return why

    def shelve(
        self, alarm_id: str, user: str, reason: str, duration: float | None = None
    ) -> OpResult:
        """Shelve for ``duration`` seconds, or one-shot (None: until it next returns to normal)."""
        return self._single(
            "shelve",
            alarm_id,
            user,
            lambda rec, now: self._do_shelve(rec, now, user, reason, duration),
        )

    def _do_shelve(
        self, rec: AlarmRecord, now: float, user: str, reason: str, duration: float | None
    ) -> str | None:
        why = self._shelf.refusal(rec, reason, duration)
        if why is None:
            self._shelf.shelve(rec, now, user, reason, duration)
            self._ann.forget(rec.d.alarm_id)
            what = "one-shot" if duration is None else f"{duration:g} s"
            self._emit(rec, "shelve", rec.state, now, user, f"{reason.strip()} ({what})")
        return why

    def unshelve(self, alarm_id: str, user: str, comment: str = "") -> OpResult:
        """End a shelve early."""

        def act(rec: AlarmRecord, now: float) -> str | None:
            if not rec.shelved:
                return "not shelved"
            self._unshelve(rec, now, user, comment)
            return None

        return self._single("unshelve", alarm_id, user, act)

    def _unshelve(self, rec: AlarmRecord, now: float, user: str, comment: str) -> None:
        self._shelf.unshelve(rec)
        self._emit(rec, "unshelve", rec.state, now, user, comment)
        self._annunciate_if_due(rec, now)

    def set_out_of_service(
        self, alarm_id: str, user: str, reason: str, out_of_service: bool = True
    ) -> OpResult:
        """Take an alarm out of service (reason required) or return it to service."""

        def act(rec: AlarmRecord, now: float) -> str | None:
            if out_of_service == rec.out_of_service:
                return "already out of service" if out_of_service else "not out of service"
            if out_of_service and not (reason or "").strip():
                return "reason required"
            rec.out_of_service = out_of_service
            rec.oos_user = user if out_of_service else ""
            rec.oos_reason = reason.strip() if out_of_service else ""
            self._emit(
                rec,
                "out_of_service" if out_of_service else "in_service",
                rec.state,
                now,
                user,
                (reason or "").strip(),
            )
            self._annunciate_if_due(rec, now)
            return None

        return self._single(
            "out of service" if out_of_service else "return to service", alarm_id, user, act
        )

    def _single(
        self, action: str, alarm_id: str, user: str, act: Callable[[AlarmRecord, float], str | None]
    ) -> OpResult:
        if not user:
            return OpResult.fail(alarm_id, "user required")
        now = self._clock()
        with self._lock:
            rec = self._records.get(alarm_id)
            why = "unknown alarm" if rec is None else act(rec, now)
            events = self._take_events()
        self._dispatch(events)
        if why:
            return OpResult.fail(alarm_id, why)
        log.info("alarm %s: %s by %s", alarm_id, action, user)
        return OpResult(True, (alarm_id,))

    def silence(self, user: str) -> OpResult:
        """Silence the horn (acknowledges nothing; unacknowledged alarms re-sound after the re-alarm time)."""
        with self._lock:
            n = self._ann.silence(self._clock())
            self._version += 1
        if n:
            log.info("horn silenced by %s (%d alarm(s) sounding)", user, n)
        return OpResult(True, message=f"{n} alarm(s) silenced")
