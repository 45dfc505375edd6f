"""The GUI's only view of the running station: one refresh timer pulls coalesced snapshots.

Every ``period`` ms :class:`LiveData` asks the tag table for the tags changed since the
last pull (latest value per tag wins, so a burst never floods the event loop), the alarm
engine for its snapshot when its version moved, and, less often, the runtime's published
statistics snapshot (:class:`~hmi.core.stats.RuntimeStats`, device diagnostics included).
Views connect to the signals and look only at their own tags. Nothing here does network
I/O, SQLite writes or disk syscalls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from drivers.base import Quality
from hmi.core.ports import AlarmOps, Station
from hmi.core.stats import RuntimeStats
from hmi.core.tagtable import TagUpdate

log = logging.getLogger(__name__)

DEFAULT_PERIOD_MS = 250
DIAG_EVERY = 4  # diagnostics every 4th tick (1 s at 250 ms)


class LiveData(QObject):
    """Pulls tag changes, alarm snapshots and statistics from a station on one timer.

    It reads the station's ``tags``, ``alarms`` (may be None) and ``latest_stats()``;
    ``runtime`` is kept for the pages (historian, analytics, data folder).
    """

    sigTags = Signal(object)  # TagUpdate of the changed tags
    sigAlarms = Signal(object)  # list[AlarmView]
    sigAnnunciation = Signal(object)  # Annunciation | None
    sigDiagnostics = Signal(object, object)  # list[dict] devices, RuntimeStats
    sigTick = Signal(int)  # tick counter (blink phase: even/odd)

    def __init__(
        self, runtime: Station, period_ms: int = DEFAULT_PERIOD_MS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.cfg = runtime.cfg
        self.tags = runtime.tags
        self._alarms = runtime.alarms
        self.period_ms = period_ms
        self.seq = -1
        self.alarm_version: Any = None
        self.alarms: list[Any] = []
        self.annunciation: Any = None
        self.devices: list[dict[str, Any]] = []
        self.stats = RuntimeStats()
        self.ticks = 0
        self.last_pull_ms = 0.0
        #: tag name -> (highest priority, any unacked) of its listed active/unacked alarms
        self.tag_alarm: dict[str, tuple[int, bool]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(period_ms)
        self._timer.timeout.connect(self.refresh)
        self._extra: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start the refresh timer (and pull once now)."""
        self.refresh()
        self._timer.start()

    def stop(self) -> None:
        """Stop the refresh timer."""
        self._timer.stop()

    @property
    def alarm_engine(self) -> AlarmOps | None:
        """The runtime's alarm engine, or None."""
        return self._alarms

    # ------------------------------------------------------------------ the pull
    def refresh(self) -> None:
        """One pull: tags, alarms, (every few ticks) diagnostics."""
        t0 = time.perf_counter()
        self.ticks += 1
        seq, upd = self.tags.changed_since(self.seq)
        self.seq = seq
        if len(upd):
            self.sigTags.emit(upd)
        self._pull_alarms()
        if self.ticks % DIAG_EVERY == 1:
            self._pull_diagnostics()
        self.sigTick.emit(self.ticks)
        self.last_pull_ms = (time.perf_counter() - t0) * 1000.0

    def _pull_alarms(self) -> None:
        engine = self.alarm_engine
        if engine is None:
            return
        try:
            version, views = engine.snapshot()
        except Exception:  # an engine fault must not stop the display
            log.exception("alarm snapshot failed")
            return
        # the horn state changes with the alarm list (and silence bumps its version); a
        # re-alarm after the silence time is caught by the once-a-second poll
        if version != self.alarm_version or self.ticks % DIAG_EVERY == 0:
            try:
                self.annunciation = engine.annunciation()
            except Exception:
                log.exception("annunciation failed")
            self.sigAnnunciation.emit(self.annunciation)
        if version == self.alarm_version:
            return
        self.alarm_version = version
        self.alarms = list(views)
        prio: dict[str, int] = {}
        unacked: set[str] = set()
        for v in self.alarms:  # one pass; a flood has thousands of views
            if v.state == "NORMAL" or v.shelved or v.suppressed or v.out_of_service:
                continue
            p = prio.get(v.tag)
            if p is None or v.priority < p:
                prio[v.tag] = v.priority
            if v.state != "ACTIVE_ACK":
                unacked.add(v.tag)
        self.tag_alarm = {t: (p, t in unacked) for t, p in prio.items()}
        self.sigAlarms.emit(self.alarms)

    def _pull_diagnostics(self) -> None:
        stats = self.runtime.latest_stats()  # a published snapshot: no locks, no syscalls
        self.stats = stats
        self.devices = [dict(d) for d in stats.devices]
        self.sigDiagnostics.emit(self.devices, stats)

    # ------------------------------------------------------------------ helpers for views
    def index_of(self, name: str) -> int:
        """Tag index (KeyError for an unknown tag)."""
        return int(self.tags.index[name])

    def value(self, name: str) -> tuple[float | str, Quality, float, str]:
        """(value, quality, ts, reason) of one tag, read now."""
        return self.tags.get(name)

    def current(self) -> TagUpdate:
        """Every tag's current state (first fill of a new view)."""
        return self.tags.all_current()

    def alarm_of(self, tag: str) -> tuple[int, bool]:
        """(priority 1-4 or 0 for none, unacknowledged) of a tag's most urgent alarm."""
        prio, unack = self.tag_alarm.get(tag, (0, False))
        return (0 if prio == 9 else prio), unack


def mask_for(n: int, indices: list[int] | np.ndarray) -> np.ndarray:
    """Boolean mask of length ``n`` marking ``indices`` (fast intersection with updates)."""
    m = np.zeros(n, dtype=bool)
    if len(indices):
        m[np.asarray(indices, dtype=np.int64)] = True
    return m
