"""The ``system`` device: the station's own health and analytics figures as ordinary tags.

:class:`SystemDriver` implements :class:`drivers.base.Driver` but reads the runtime's
published statistics snapshot (:class:`~hmi.core.stats.RuntimeStats`: disk, device
availability, historian and uplink queues, alarm counts — gathered off the acquisition
loop), the host probe, and the analytics results the runtime pushes in
(``warning.<id>``, ``forecast.*``), so it lives here and not under ``drivers/`` (which
never imports ``hmi``). It holds no reference to the runtime: only a
:class:`~hmi.core.ports.StatsSource`. The runtime creates it for ``protocol: system``; it
is not in :data:`drivers.base.DRIVERS`. Addresses are listed in :mod:`hmi.config.system`.

Quality: a figure that cannot be known right now (no NTP answer, a device that has not
answered yet, an analytics result not computed yet or too old) is sent UNCERTAIN or BAD
with the reason, never as a plausible number.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from drivers.base import (
    Batch,
    DeviceState,
    Driver,
    PointSpec,
    Quality,
    StateListener,
    WriteResult,
    WriteStatus,
)
from hmi.config.system import SystemAddress, parse_address
from hmi.core.analytics.health import AvailabilityTracker, HostProbe, sntp_offset
from hmi.core.ports import StatsSource
from hmi.core.stats import Derived, RuntimeStats

log = logging.getLogger(__name__)

GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)
NTP_PERIOD = 64.0  # s between clock checks (the NTP client minimum poll)
SAMPLE_PERIOD = 1.0  # s between device-state samples for availability

__all__ = ["BAD", "GOOD", "UNCERTAIN", "Derived", "SystemDriver"]

Reading = tuple[float, int, str]
_NO_STATS = RuntimeStats()
_HISTORIAN_KEYS = {
    "historian.queue": "queue_depth",
    "historian.size_mb": "db_bytes",
    "historian.dropped": "dropped",
}


class SystemDriver(Driver):
    """Reads the runtime's own figures; one task per poll period."""

    kind = "system"

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Any,
        on_state: StateListener | None = None,
        *,
        stats: StatsSource | None = None,
    ) -> None:
        super().__init__(device_id, params, points, sink, on_state)
        self.stats = stats
        self.ntp_server = str(params.get("ntp_server") or "")
        self.diag.endpoint = "local"
        self._addr: dict[int, SystemAddress] = {
            p.index: parse_address(p.address) for p in self.points
        }
        self._by_address: dict[str, list[int]] = defaultdict(list)
        for p in self.points:
            self._by_address[p.address].append(p.index)
        self._derived: dict[str, Derived] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._host = HostProbe()
        self.availability = AvailabilityTracker()
        self._clock: Reading = (math.nan, UNCERTAIN, "clock not checked yet")

    @classmethod
    def validate_address(cls, address: str) -> str | None:
        """Error message for a bad system address (None when valid)."""
        try:
            parse_address(address)
        except ValueError as exc:
            return str(exc)
        return None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start one poll task per period, the availability sampler and the clock check."""
        loop = asyncio.get_running_loop()
        groups: dict[float, list[int]] = defaultdict(list)
        for p in self.points:
            groups[p.poll_period].append(p.index)
        for period, idx in sorted(groups.items()):
            self._tasks.append(
                loop.create_task(self._poll(period, idx), name=f"system-poll-{period:g}s")
            )
        self._tasks.append(loop.create_task(self._sample_devices(), name="system-availability"))
        if self.ntp_server and any(a.text == "host.clock_offset" for a in self._addr.values()):
            self._tasks.append(loop.create_task(self._check_clock(), name="system-clock"))
        self._set_state(DeviceState.UP)

    async def stop(self) -> None:
        """Cancel the tasks. Idempotent."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._set_state(DeviceState.STOPPED)

    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        """System tags are read-only."""
        return WriteResult(WriteStatus.INVALID, "system tags are read-only")

    async def read(self, indices: Sequence[int]) -> Batch:
        """Current figures of ``indices`` (one batch; the worst quality is the batch's)."""
        now = time.time()
        stats = self._stats()
        vals = [self._value(self._addr[i], stats, now) for i in indices]
        q = np.array([r[1] for r in vals], dtype=np.uint8)
        reason = next((r[2] for r in vals if r[1] != GOOD), "")
        return Batch(
            np.asarray(indices, np.int32), np.array([r[0] for r in vals]), q, reason, now, now
        )

    # ------------------------------------------------------------------ analytics results
    def push_derived(self, values: Mapping[str, Derived]) -> None:
        """New analytics figures (acquisition thread): stored and sent at once."""
        self._derived.update(values)
        idx = [i for a in values for i in self._by_address.get(a, ())]
        if idx:
            self._emit(idx, _NO_STATS, time.time())  # derived figures need no statistics

    # ------------------------------------------------------------------ polling
    async def _poll(self, period: float, indices: list[int]) -> None:
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            t0 = loop.time()
            try:
                self._emit(indices, self._stats(), time.time())
            except Exception:  # a broken figure must not end the polling
                log.exception("system device %s: poll failed", self.device_id)
            self.diag.requests += 1
            self.diag.record_rtt((loop.time() - t0) * 1000.0)
            next_t += period
            if loop.time() > next_t:
                self.diag.scan_overruns += 1
                next_t = loop.time()
            await asyncio.sleep(max(0.0, next_t - loop.time()))

    def _emit(self, indices: list[int], stats: RuntimeStats, now: float) -> None:
        groups: dict[tuple[int, str], tuple[list[int], list[float]]] = {}
        for i in indices:
            value, q, reason = self._value(self._addr[i], stats, now)
            g = groups.setdefault((q, reason if q != GOOD else ""), ([], []))
            g[0].append(i)
            g[1].append(value if q != BAD else math.nan)
        for (q, reason), (idx, vals) in groups.items():
            self.sink(
                Batch(np.asarray(idx, np.int32), np.asarray(vals, np.float64), q, reason, now, now)
            )

    async def _sample_devices(self) -> None:
        while True:
            now = time.time()
            for d in self._stats().devices:
                if d.get("device_id") != self.device_id:
                    self.availability.sample(str(d.get("device_id")), d.get("state") == "up", now)
            await asyncio.sleep(SAMPLE_PERIOD)

    async def _check_clock(self) -> None:
        while True:
            try:
                off = await sntp_offset(self.ntp_server, timeout=2.0)
                self._clock = (off, GOOD, "")
            except (OSError, ValueError, TimeoutError) as exc:
                why = f"no answer from NTP server {self.ntp_server}: {exc or type(exc).__name__}"
                if self._clock[1] == GOOD or math.isnan(self._clock[0]):
                    log.warning("system device %s: %s", self.device_id, why)
                self._clock = (math.nan, BAD, why)
            await asyncio.sleep(NTP_PERIOD)

    # ------------------------------------------------------------------ figures
    def _stats(self) -> RuntimeStats:
        return _NO_STATS if self.stats is None else self.stats.latest_stats()

    def _value(self, a: SystemAddress, stats: RuntimeStats, now: float) -> Reading:
        if a.kind == "device":
            return self._device_value(a, stats, now)
        if a.kind == "warning" or a.text.startswith("forecast."):
            return self._derived_value(a.text, now)
        t = a.text
        if t.startswith("host."):
            return self._host_value(t, stats)
        if not stats.ts:
            return math.nan, BAD, "runtime statistics not gathered yet"
        if t == "runtime.uptime":
            return stats.uptime_s / 3600.0, GOOD, ""
        if t == "runtime.scan_overruns":
            return float(stats.scan_overruns), GOOD, ""
        if t.startswith("historian."):
            return self._historian_value(t, stats)
        if t.startswith("uplink."):
            if "uplink" in stats.errors:
                return math.nan, BAD, stats.errors["uplink"]
            return self._uplink_value(t, stats.uplink)
        if t.startswith("alarms."):
            key = t.split(".", 1)[1]
            if key not in stats.alarms:
                return math.nan, BAD, stats.errors.get("alarms") or "alarm engine not running"
            return float(stats.alarms[key]), GOOD, ""
        return math.nan, BAD, f"unknown system address {t}"  # pragma: no cover - parse_address

    def _derived_value(self, address: str, now: float) -> Reading:
        d = self._derived.get(address)
        if d is None:
            return math.nan, BAD, "analytics not computed yet"
        if d.max_age and now - d.ts > d.max_age:
            return d.value, UNCERTAIN, f"analytics result is {now - d.ts:.0f} s old"
        return d.value, d.quality, d.reason

    def _host_value(self, t: str, stats: RuntimeStats) -> Reading:
        if t == "host.clock_offset":
            return self._clock
        if t == "host.cpu":
            return self._host.cpu(), GOOD, ""
        if t == "host.memory":
            return self._host.memory(), GOOD, ""
        if t == "host.uptime":
            return self._host.uptime_h(), GOOD, ""
        disk = stats.disk  # host.disk_free (%) or host.disk_free_mb
        if disk is None or not disk.total:
            return math.nan, BAD, stats.errors.get("disk") or "disk usage not available yet"
        if t == "host.disk_free":
            return 100.0 * disk.free / disk.total, GOOD, ""
        return disk.free / 1048576.0, GOOD, ""

    @staticmethod
    def _historian_value(t: str, stats: RuntimeStats) -> Reading:
        key = _HISTORIAN_KEYS[t]
        h = stats.historian
        if key not in h:
            why = stats.errors.get("historian") or "historian statistics not available"
            return math.nan, BAD, why
        v = float(h[key] or 0)
        return (v / 1048576.0 if key == "db_bytes" else v), GOOD, ""

    @staticmethod
    def _uplink_value(t: str, up: Mapping[str, Any]) -> Reading:
        # a disabled uplink is a true statement, not an unknown: not connected, nothing queued
        if not up.get("enabled"):
            return 0.0, GOOD, ""
        if t == "uplink.connected":
            return float(bool(up.get("connected"))), GOOD, ""
        if t == "uplink.outbox_depth":
            return float(up.get("outbox_depth") or 0), GOOD, ""
        if t == "uplink.outbox_oldest_age":
            return float(up.get("oldest_age") or 0.0), GOOD, ""
        return float(up.get("dropped") or 0), GOOD, ""

    def _device_value(self, a: SystemAddress, stats: RuntimeStats, now: float) -> Reading:
        if not stats.ts:
            return math.nan, BAD, "runtime statistics not gathered yet"
        d = stats.device(a.ref)
        if d is None:
            return math.nan, BAD, stats.errors.get("devices") or f"device {a.ref} is not running"
        state = str(d.get("state"))
        if a.field == "up":
            return float(state == DeviceState.UP.value), GOOD, ""
        if a.field == "availability":
            av = self.availability.availability(a.ref, now)
            if av is None:
                return math.nan, UNCERTAIN, "availability: not observed long enough yet"
            return av, GOOD, ""
        rtt = float(d.get("rtt_avg_ms") or 0.0)
        if state != DeviceState.UP.value:
            return rtt, UNCERTAIN, f"device {a.ref} is {state}"
        return rtt, GOOD, ""
