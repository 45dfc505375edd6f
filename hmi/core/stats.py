"""Runtime statistics as one frozen snapshot, gathered off the acquisition loop.

The runtime publishes a :class:`RuntimeStats` every :data:`STATS_PERIOD` seconds: a task on
the acquisition loop hands :meth:`StatsCollector.collect` to a worker thread (disk usage is
a syscall, the historian and uplink figures are copies under their locks) and stores the
result. Readers — the system device, the HMI header and diagnostics page, the CLI — take
:meth:`StatsCollector.latest` from any thread; it never blocks and never touches the disk.

A figure that cannot be gathered is left empty with the cause in :attr:`RuntimeStats.errors`
and logged once (and once more when it recovers), never swallowed.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from drivers.base import DeviceDiagnostics

log = logging.getLogger(__name__)

STATS_PERIOD = 1.0  # s between snapshots

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Derived:
    """A figure computed elsewhere (analytics) for a system address."""

    value: float
    quality: int
    reason: str
    ts: float
    max_age: float = 0.0  # 0: never stale


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """Space of the file system that holds the data directory, in bytes."""

    total: int
    used: int
    free: int


@dataclass(frozen=True, slots=True)
class RuntimeStats:
    """One consistent view of the runtime's figures at :attr:`ts` (immutable, any thread)."""

    ts: float = 0.0
    uptime_s: float = 0.0
    batches: int = 0
    samples: int = 0
    housekeeping_overruns: int = 0
    scan_overruns: int = 0
    #: DeviceDiagnostics.as_dict() of every device, in config order
    devices: tuple[Mapping[str, Any], ...] = ()
    historian: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    disk: DiskUsage | None = None
    uplink: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({"enabled": False}))
    alarms: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    #: figure ("disk", "historian", "uplink", "alarms", "devices") -> why it is missing
    errors: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def device(self, device_id: str) -> Mapping[str, Any] | None:
        """Diagnostics of one device (None when it is not running)."""
        return next((d for d in self.devices if d.get("device_id") == device_id), None)

    def as_dict(self) -> dict[str, Any]:
        """The plain-dict shape (JSON export, ``Runtime.runtime_stats``)."""
        disk = self.disk
        return {
            "batches": self.batches,
            "samples": self.samples,
            "housekeeping_overruns": self.housekeeping_overruns,
            "uptime_s": self.uptime_s,
            "scan_overruns": self.scan_overruns,
            "historian": dict(self.historian),
            "disk": {}
            if disk is None
            else {"total": disk.total, "used": disk.used, "free": disk.free},
            "uplink": dict(self.uplink),
            "alarms": dict(self.alarms),
        }


Source = Callable[[], Mapping[str, Any]]


class StatsCollector:
    """Gathers :class:`RuntimeStats` from the runtime's parts (call :meth:`collect` off-loop)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        counters: Callable[[], Mapping[str, int]],
        devices: Callable[[], list[DeviceDiagnostics]],
        historian: Source,
        uplink: Source | None = None,
        alarms: Source | None = None,
        started_at: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = data_dir
        self._counters = counters
        self._devices = devices
        self._sources: dict[str, Source | None] = {
            "historian": historian,
            "uplink": uplink,
            "alarms": alarms,
        }
        self._started_at = started_at
        self._latest = RuntimeStats()
        self._failing: dict[str, str] = {}

    def latest(self) -> RuntimeStats:
        """The last snapshot (an empty one before the first :meth:`collect`)."""
        return self._latest

    def latest_stats(self) -> RuntimeStats:
        """The same as :meth:`latest` (the :class:`~hmi.core.ports.StatsSource` port)."""
        return self._latest

    def collect(self, now: float | None = None) -> RuntimeStats:
        """Gather every figure now, store the snapshot and return it (worker thread)."""
        now = time.time() if now is None else now
        errors: dict[str, str] = {}
        figures: dict[str, Mapping[str, Any]] = {}
        for name, fn in self._sources.items():
            if fn is None:
                continue
            try:
                figures[name] = MappingProxyType(dict(fn()))
            except Exception as exc:  # recorded with the cause and logged once below
                errors[name] = f"{name} statistics failed: {type(exc).__name__}: {exc}"
        disk: DiskUsage | None = None
        try:
            du = shutil.disk_usage(self.data_dir)
            disk = DiskUsage(du.total, du.used, du.free)
        except OSError as exc:
            errors["disk"] = f"disk usage of {self.data_dir}: {exc.strerror or exc}"
        devices: tuple[Mapping[str, Any], ...] = ()
        overruns = 0
        try:
            diags = self._devices()
            devices = tuple(MappingProxyType(d.as_dict()) for d in diags)
            overruns = sum(d.scan_overruns for d in diags)
        except Exception as exc:
            errors["devices"] = f"device diagnostics failed: {type(exc).__name__}: {exc}"
        self._log_changes(errors)
        counters = self._counters()
        started = self._started_at()
        snap = RuntimeStats(
            ts=now,
            uptime_s=now - started if started else 0.0,
            batches=int(counters.get("batches", 0)),
            samples=int(counters.get("samples", 0)),
            housekeeping_overruns=int(counters.get("housekeeping_overruns", 0)),
            scan_overruns=overruns,
            devices=devices,
            historian=figures.get("historian", _EMPTY),
            disk=disk,
            uplink=figures.get("uplink", MappingProxyType({"enabled": False})),
            alarms=figures.get("alarms", _EMPTY),
            errors=MappingProxyType(errors),
        )
        self._latest = snap  # one reference assignment: readers see the old or the new snapshot
        return snap

    def _log_changes(self, errors: Mapping[str, str]) -> None:
        """Log a failing figure when it starts failing or its cause changes, and its recovery."""
        for name, why in errors.items():
            if self._failing.get(name) != why:
                log.error("runtime statistics: %s", why)
        for name in set(self._failing) - set(errors):
            log.info("runtime statistics: %s available again", name)
        self._failing = dict(errors)
