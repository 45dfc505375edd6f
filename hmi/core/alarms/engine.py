"""The alarm engine: conditions -> ISA-18.2 states -> events, journal, horn and alarm list.

Threading: every mutating method (``process``, ``device_state``, ``tick``, ``ack``,
``reset``, ``shelve``, ``unshelve``, ``set_out_of_service``, ``silence``) runs on the
acquisition thread (the runtime routes GUI and uplink calls there). ``snapshot``,
``annunciation``, ``stats`` and ``metrics`` are safe from any thread. One lock guards the
records; events are handed to listeners after it is released, and to the journal's
writer thread through a queue, so a flood never stalls the acquisition loop on SQLite.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import DeviceState, Quality
from hmi.config.schema import StationConfig
from hmi.core.alarms.annunciation import Annunciator
from hmi.core.alarms.catalog import AlarmCatalog
from hmi.core.alarms.conditions import FrozenCondition, RocCondition
from hmi.core.alarms.journal import AlarmJournal, read_journal, read_states
from hmi.core.alarms.model import (
    SYSTEM_USER,
    AlarmRecord,
    AlarmState,
    AlarmView,
    Annunciation,
    make_view,
)
from hmi.core.alarms.operations import AlarmOperations
from hmi.core.alarms.shelving import Shelf
from hmi.core.alarms.system import KIND as SYSTEM_KIND
from hmi.core.alarms.system import system_alarm_defs
from hmi.core.clock import StepClock
from hmi.core.tagtable import TagUpdate

log = logging.getLogger(__name__)

GOOD = int(Quality.GOOD)
BAD = int(Quality.BAD)
#: how long after start a raise waits for its suppressing condition's first GOOD value (s)
SUPPRESSION_GRACE = 30.0
EventListener = Callable[[dict[str, Any]], None]


class AlarmEngine(AlarmOperations):
    """Evaluates every configured alarm and manages its state, journal and annunciation."""

    def __init__(
        self,
        cfg: StationConfig,
        db_path: Path,
        clock: Callable[[], float] = time.time,
        realarm_after: float = 600.0,
        roc_window: float = 10.0,
        mono: Callable[[], float] | None = None,
    ) -> None:
        self.cfg = cfg
        # with the real wall clock (or a monotonic clock given with a test clock), timers
        # follow clock steps: see hmi.core.clock
        if mono is not None or clock is time.time:
            clock = StepClock(self._clock_stepped, clock, mono or time.monotonic)
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[EventListener] = []
        self._out: list[dict[str, Any]] = []  # events waiting for the listeners
        self.catalog = AlarmCatalog(cfg, roc_window=roc_window)
        self._records = self.catalog.records
        self._n_system = 0
        for d in system_alarm_defs():  # the station's own faults (damaged database, full disk)
            self._records[d.alarm_id] = AlarmRecord(d)
            self.catalog.inputs[d.alarm_id] = ()
            self._n_system += 1
        n = len(cfg.tags)
        self._val = np.full(n, np.nan)  # last GOOD value of every tag
        self._good = np.zeros(n, dtype=bool)  # quality of the last value is GOOD
        self._seen_good = np.zeros(n, dtype=bool)  # the tag has had a GOOD value since start
        self._started = self._clock()
        self._bad = np.zeros(n, dtype=bool)  # quality of the last value is BAD
        self._dev_up: dict[str, bool] = {}  # device id -> last reported state is UP
        self._pending: dict[str, AlarmRecord] = {}  # on/off delay running
        self._listed: dict[str, AlarmRecord] = {}  # what the snapshot shows
        self._views: dict[str, AlarmView] = {}
        self._snap: list[AlarmView] = []
        self._snap_version = -1
        self._version = 0
        self._shelf = Shelf()
        self._ann = Annunciator(realarm_after)
        self._journal = AlarmJournal(Path(db_path))
        states, self._seq = self._journal.load()
        self._restore(states)
        self._journal.start()
        log.info(
            "alarm engine: %d alarms (%d vectorized), %d restored non-normal",
            len(self._records) - self._n_system,
            len(self.catalog.vector),
            len(self._listed),
        )

    # ------------------------------------------------------------------ lifecycle
    def _restore(self, states: dict[str, dict[str, Any]]) -> None:
        for alarm_id, row in states.items():
            rec = self._records.get(alarm_id)
            if rec is None:
                continue  # alarm no longer configured; its history stays in the journal
            rec.load_row(row)
            self.catalog.set_raw(rec, rec.condition)
            self._shelf.restore(rec)
            if rec.state.unacked and not rec.hidden:
                # not acknowledged before the restart: the operator must still hear it
                self._ann.sound(alarm_id, rec.d.priority, self._clock())
            if rec.listed:
                self._listed[alarm_id] = rec
        self._version += 1

    def close(self, timeout: float = 30.0) -> None:
        """Write every queued journal entry and stop the writer thread."""
        self._journal.close(timeout)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the journal holds every event so far (tests, shutdown, CLI)."""
        return self._journal.flush(timeout)

    def add_listener(self, fn: EventListener) -> None:
        """Call ``fn(event)`` for every transition (on the acquisition thread; must not block)."""
        self._listeners.append(fn)

    def remove_listener(self, fn: EventListener) -> None:
        """Stop calling ``fn``."""
        if fn in self._listeners:
            self._listeners.remove(fn)

    # ------------------------------------------------------------------ inputs
    def process(self, update: TagUpdate) -> None:
        """Evaluate the alarms of the tags in ``update`` (a scan update, engineering units)."""
        if not len(update):
            return
        now = self._clock()
        idx = np.asarray(update.indices, dtype=np.int64)
        q = np.asarray(update.quality)
        if update.values.dtype == object:  # string tags carry no numeric alarms
            vals = np.full(len(idx), np.nan)
            good = np.zeros(len(idx), dtype=bool)
        else:
            vals = np.asarray(update.values, dtype=np.float64)
            good = q == GOOD
        cat = self.catalog
        with self._lock:
            self._val[idx[good]] = vals[good]
            self._good[idx] = good
            self._seen_good[idx[good]] = True
            if not cat.any_mask[idx].any():  # e.g. a read block of tags without alarms
                return
            hit = np.nonzero(cat.sup_mask[idx])[0]
            for k in hit.tolist():
                if good[k]:
                    self._suppression(int(idx[k]), bool(vals[k] != 0.0), now)
            rows, new, v = cat.vector.evaluate(idx, vals, good)
            recs = cat.vector_recs
            for row, cond, value in zip(rows.tolist(), new.tolist(), v.tolist(), strict=True):
                self._on_raw(recs[row], cond, value, now)
            hit = np.nonzero(cat.aux_mask[idx])[0]
            for k in hit.tolist():
                self._aux(int(idx[k]), bool(good[k]), float(vals[k]), float(update.ts[k]), now)
            hit = np.nonzero(cat.bad_pv_mask[idx])[0]
            if len(hit):
                self._bad[idx[hit]] = q[hit] == BAD
                for k in hit.tolist():
                    self._bad_pv(int(idx[k]), update.reasons[k] or "bad value", now)
            events = self._take_events()
        self._dispatch(events)

    def _aux(self, ti: int, good: bool, value: float, ts: float, now: float) -> None:
        for cond, rec in self.catalog.aux_by_tag[ti]:
            if isinstance(cond, RocCondition | FrozenCondition):
                if not good:
                    cond.reset_window()
                    continue
                res = cond.add(ts, value)
            else:
                res = cond.evaluate(self._val, self._good)
            if res is not None:
                self._on_raw(rec, res[0], res[1], now)

    def _bad_pv(self, ti: int, reason: str, now: float) -> None:
        """Instrument fault: the tag is BAD while its device is UP (a comm loss has its own
        alarm; the on-delay covers the moment between the BAD values and the device's state)."""
        for dev, rec in self.catalog.bad_pv_by_tag[ti]:
            cond = bool(self._bad[ti]) and self._dev_up.get(dev, False)
            if cond and reason and reason != rec.reason:
                rec.reason = reason
                self._touch(rec, persist=rec.condition)
            if cond != rec.raw:
                self._on_raw(rec, cond, None, now)

    def _suppression(self, ti: int, on: bool, now: float) -> None:
        for rec in self.catalog.sup_by_tag[ti]:
            if rec.suppressed == on:
                continue
            prev = rec.state
            rec.suppressed = on
            self._emit(rec, "suppress" if on else "unsuppress", prev, now)
            self._annunciate_if_due(rec, now)

    def device_state(self, device_id: str, old: DeviceState, new: DeviceState, reason: str) -> None:
        """A device changed state: raise or clear its comm-loss alarm (with the device's reason)."""
        if device_id in self.catalog.bad_pv_by_device:
            # not talking: its instrument faults clear (the comm alarm says it); talking again,
            # a tag still BAD raises one only once a fresh read is BAD (not on the old values)
            up = self._dev_up[device_id] = new is DeviceState.UP
            if not up:
                now = self._clock()
                with self._lock:
                    for ti, _rec in self.catalog.bad_pv_by_device[device_id]:
                        self._bad_pv(ti, "", now)
                    events = self._take_events()
                self._dispatch(events)
        rec = self.catalog.comm.get(device_id)
        if rec is None or new is DeviceState.STOPPED:
            return  # stopping is shutdown or disabling, not a communication failure
        lost = new is not DeviceState.UP
        self._reasoned(rec, lost, reason or f"device {new.value}")

    def system_alarm(self, alarm_id: str, active: bool, reason: str = "") -> None:
        """Raise (with ``reason``) or clear a system alarm (see :mod:`hmi.core.alarms.system`)."""
        self._reasoned(self._records[alarm_id], active, reason)

    def _reasoned(self, rec: AlarmRecord, active: bool, reason: str) -> None:
        """Raise or clear an alarm whose message carries a reason (comm loss, system)."""
        now = self._clock()
        with self._lock:
            if active and reason != rec.reason:
                rec.reason = reason
                self._touch(rec, persist=True)
            if active != rec.raw:
                self._on_raw(rec, active, None, now)
            events = self._take_events()
        self._dispatch(events)

    def _clock_stepped(self, delta: float) -> None:
        """The wall clock jumped by ``delta`` s: running delays, shelves and re-alarm timers keep
        their remaining time (the journal's timestamps follow the new time)."""
        with self._lock:
            for rec in self._pending.values():
                rec.pending_since += delta
            for rec in self._shelf.shift(delta):
                self._touch(rec, persist=True)  # the new expiry time is what the list shows
            self._ann.shift(delta)

    def tick(self, now: float | None = None) -> None:
        """Time-driven work (~every 0.5 s): on/off delays, shelve expiry, re-annunciation."""
        now = self._clock() if now is None else now
        with self._lock:
            for rec in list(self._pending.values()):
                if not self._inputs_good(rec):
                    # a stale input must not complete a delay: start again on fresh values
                    self._cancel_pending(rec)
                    self.catalog.set_raw(rec, rec.condition)
                    continue
                if rec.raw and self._suppression_unknown(rec, now):
                    continue  # hold the raise until its suppressing condition is known
                delay = rec.d.on_delay if rec.raw else rec.d.off_delay
                if now - rec.pending_since >= delay:
                    self._set_condition(rec, rec.raw, now)
            for rec in self._shelf.expired(now):
                self._unshelve(rec, now, SYSTEM_USER, "shelve time expired")
            for alarm_id in self._ann.due(now):
                rec = self._records[alarm_id]
                if rec.state is AlarmState.ACTIVE_UNACK and not rec.hidden:
                    self._ann.sound(alarm_id, rec.d.priority, now)
                    self._emit(
                        rec,
                        "rearm",
                        rec.state,
                        now,
                        SYSTEM_USER,
                        "re-annunciated: still unacknowledged",
                    )
                else:
                    self._ann.forget(alarm_id)
            events = self._take_events()
        self._dispatch(events)

    # ------------------------------------------------------------------ condition -> state
    def _inputs_good(self, rec: AlarmRecord) -> bool:
        return all(self._good[i] for i in self.catalog.inputs[rec.d.alarm_id])

    def _on_raw(self, rec: AlarmRecord, cond: bool, value: float | None, now: float) -> None:
        rec.raw = cond
        if value is not None:
            rec.value = value
        if cond == rec.condition:
            self._cancel_pending(rec)  # a delay was running the other way: it is void
            return
        delay = rec.d.on_delay if cond else rec.d.off_delay
        if delay <= 0 and not (cond and self._suppression_unknown(rec, now)):
            self._set_condition(rec, cond, now)
        elif rec.d.alarm_id not in self._pending:
            rec.pending_since = now
            self._pending[rec.d.alarm_id] = rec

    def _suppression_unknown(self, rec: AlarmRecord, now: float) -> bool:
        """The alarm is suppressed by design on a condition tag that has had no GOOD value yet.

        At start-up the condition (often a calc tag, evaluated after its inputs, or a tag of a
        slower device) may arrive after the alarm's own input: a standby run's take-over alarm
        would annunciate for a moment although the design suppresses it. Its raise is held for
        up to ``SUPPRESSION_GRACE`` s after the engine started; then it goes ahead, so an unknown
        condition never hides an alarm for good.
        """
        s = rec.d.suppressed_by
        return s >= 0 and not self._seen_good[s] and now - self._started < SUPPRESSION_GRACE

    def _cancel_pending(self, rec: AlarmRecord) -> None:
        if self._pending.pop(rec.d.alarm_id, None) is not None:
            rec.pending_since = 0.0

    def _set_condition(self, rec: AlarmRecord, active: bool, now: float) -> None:
        self._cancel_pending(rec)
        prev = rec.state
        transition = rec.activate(now) if active else rec.deactivate()
        if transition is None:
            self._touch(rec, persist=True)
            return
        rec.last_change = now
        if transition == "raise" and not rec.hidden:
            self._ann.sound(rec.d.alarm_id, rec.d.priority, now)
        elif rec.state is AlarmState.NORMAL:
            self._ann.forget(rec.d.alarm_id)
        self._emit(rec, transition, prev, now)
        if not active and rec.shelved and rec.shelve_oneshot:
            self._unshelve(rec, now, SYSTEM_USER, "one-shot shelve ended: returned to normal")

    def _annunciate_if_due(self, rec: AlarmRecord, now: float) -> None:
        """After a flag change: sound an unacknowledged alarm that became visible, else stop it."""
        if rec.hidden or not rec.state.unacked:
            self._ann.forget(rec.d.alarm_id)
        elif not self._ann.is_sounding(rec.d.alarm_id):
            self._ann.sound(rec.d.alarm_id, rec.d.priority, now)

    # ------------------------------------------------------------------ events
    def _messages(self, rec: AlarmRecord) -> tuple[str, str]:
        d = rec.d
        if d.kind in ("comm", "system", "bad_pv") and rec.reason and rec.condition:
            return f"{d.message_en}: {rec.reason}", f"{d.message_zh}：{rec.reason}"
        return d.message_en, d.message_zh

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
        d = rec.d
        self._seq += 1
        en, zh = self._messages(rec)
        ev = {
            "seq": self._seq,
            "alarm_id": d.alarm_id,
            "tag": d.tag,
            "kind": d.kind,
            "priority": d.priority,
            "state": rec.state.value,
            "prev_state": prev.value,
            "transition": transition,
            "shelved": rec.shelved,
            "suppressed": rec.suppressed,
            "out_of_service": rec.out_of_service,
            "latched": rec.held,
            "ts": now,
            "value": rec.value,
            "limit": rec.limit,
            "user": user,
            "comment": comment,
            "remote": remote,
            "message": {"en": en, "zh": zh},
            "area": d.area,
        }
        self._journal.put(ev, rec.state_row(en, zh))
        self._touch(rec, persist=False)
        if self._listeners:
            self._out.append(ev)

    def _touch(self, rec: AlarmRecord, persist: bool) -> None:
        """Record changed: refresh its list membership and view; persist it if no event did."""
        alarm_id = rec.d.alarm_id
        if rec.listed:
            self._listed[alarm_id] = rec
        else:
            self._listed.pop(alarm_id, None)
        self._views.pop(alarm_id, None)
        self._version += 1
        if persist:
            self._journal.put(None, rec.state_row(*self._messages(rec)))

    def _take_events(self) -> list[dict[str, Any]]:
        out, self._out = self._out, []
        return out

    def _dispatch(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            for fn in list(self._listeners):
                try:
                    fn(ev)
                except Exception:  # a listener bug must not stop alarm processing
                    log.exception("alarm listener %r failed", fn)

    # ------------------------------------------------------------------ reads (any thread)
    def snapshot(self) -> tuple[int, list[AlarmView]]:
        """(version, every non-NORMAL or shelved/suppressed/out-of-service alarm), priority then newest first."""
        with self._lock:
            if self._snap_version != self._version:
                views = []
                for alarm_id, rec in self._listed.items():
                    view = self._views.get(alarm_id)
                    if view is None:
                        view = self._views[alarm_id] = make_view(rec, *self._messages(rec))
                    views.append(view)
                views.sort(
                    key=lambda v: (v.priority, -(v.active_since or v.last_change), v.alarm_id)
                )
                self._snap = views
                self._snap_version = self._version
            return self._version, list(self._snap)

    def annunciation(self) -> Annunciation:
        """Horn state: on while new unacknowledged alarms are not silenced; highest priority sounding."""
        with self._lock:
            return self._ann.state()

    def alarm_ids(self) -> list[str]:
        """Every configured alarm id, in config order (comm-loss alarms last; no system alarm)."""
        return [a for a, r in self._records.items() if r.d.kind != SYSTEM_KIND]

    def view(self, alarm_id: str) -> AlarmView | None:
        """The current view of one alarm (also when NORMAL); None when unknown."""
        with self._lock:
            rec = self._records.get(alarm_id)
            return None if rec is None else make_view(rec, *self._messages(rec))

    def stats(self) -> dict[str, Any]:
        """Counts for the runtime statistics and the status bar."""
        with self._lock:
            recs = list(self._listed.values())
            out: dict[str, Any] = {
                "alarms": len(self._records) - self._n_system,
                "active": sum(r.state.active for r in recs),
                "unacked": sum(r.state.unacked for r in recs),
                "shelved": len(self._shelf),
                "suppressed": sum(r.suppressed for r in recs),
                "out_of_service": sum(r.out_of_service for r in recs),
                "pending_delays": len(self._pending),
            }
        out["journal"] = self._journal.stats()
        return out

    def metrics(self, since: float, until: float | None = None) -> dict[str, Any]:
        """ISA-18.2 / EEMUA 191 figures over [since, until] from the journal (any thread)."""
        from hmi.core.alarms.metrics import compute_metrics

        until = self._clock() if until is None else until
        eng = self._journal.engine
        return compute_metrics(read_journal(eng, since, until), read_states(eng), since, until)
