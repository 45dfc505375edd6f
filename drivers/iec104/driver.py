"""IEC 60870-5-104 client driver: gas-hmi as the controlling station of one RTU.

One c104 client per connection attempt (:mod:`drivers.iec104.link`); the driver runs the
state machine as for every driver::

    CONNECTING --open (+ GI terminated)--> UP <--> DEGRADED (interrogations unconfirmed)
        |                                   |
        +--refused / t0 / GI timeout--> BACKOFF <-- link lost (t1 expiry, RTU gone)
                                          |  exponential backoff, then a fresh client

Values arrive by general interrogation at connect, spontaneously and by counter
interrogation (integrated totals); nothing is polled. While the link is up the last
reading of every point is delivered again once per poll period (IEC 104 reports changes
only; an open link with test frames answered means the value still holds), so the tag
table does not mark quiet points stale. While the link is down every point is BAD.
Commands (single, double, set-points; select-before-operate where the tag says so) go
through :meth:`write`; the RTU's activation confirmation is the result, the runtime then
reads the monitored point back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from drivers.base import (
    Backoff,
    Batch,
    DeviceState,
    PointSpec,
    ReconnectingDriver,
    Sink,
    StateListener,
    WriteResult,
    WriteStatus,
)

from .address import Iec104Address
from .cache import Item, PointCache
from .codec import GOOD, command_info, command_value
from .link import Iec104Link
from .params import DEFAULTS, Iec104Params
from .points import make_point

log = logging.getLogger(__name__)
T = TypeVar("T")

#: s after the link opens before points the RTU did not report are marked BAD
GI_GRACE = 1.0
#: s between reads of the link state while it opens (besides every state callback)
STATE_POLL = 0.5
_MISSING = (
    "no value since connect: the RTU did not report {addr} in its general interrogation "
    "(check the IOA and type against the RTU's point list and the common address)"
)


class Iec104Driver(ReconnectingDriver):
    """A connection to one IEC 104 controlled station (see the module docstring)."""

    kind = "iec104"
    logger = log

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Sink,
        on_state: StateListener | None = None,
    ) -> None:
        super().__init__(device_id, {**DEFAULTS, **dict(params)}, points, sink, on_state)
        p = self.params
        self.timeout = float(p.get("timeout", 1.0))
        self._backoff = Backoff(
            float(p.get("backoff_initial", 1.0)), float(p.get("backoff_max", 30.0))
        )
        self._degrade_after = int(p.get("degrade_after", 3))
        self.endpoint = f"{p['host']}:{p['port']}"
        self.diag.endpoint = f"iec104://{self.endpoint} CA {p['common_address']}"
        self._points = [make_point(s) for s in points]
        self._by_index = {pt.index: pt for pt in self._points}
        self._live = [pt for pt in self._points if not pt.config_error]
        self._cache = PointCache(self._live, self._by_index, self._emit)
        self._has_counters = any(pt.counter for pt in self._live)
        periods = [float(pt.spec.poll_period) for pt in self._live if pt.monitored]
        self._refresh_every = max(min(periods), 0.05) if periods else 0.0
        self._link: Iec104Link | None = None
        self._link_state = ""
        self._changed: asyncio.Event | None = None
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._logged: set[str] = set()
        self._unused: set[int] = set()  # IOAs the RTU reports that no tag uses

    # ------------------------------------------------------------------ config-time checks
    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Problems of the connection parameters (messages name the key)."""
        known = {k: v for k, v in params.items() if k in Iec104Params.model_fields}
        try:
            Iec104Params(**known)
        except ValidationError as exc:
            return [
                f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            ]
        return []

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the connection task; returns at once."""
        if self._running:
            return
        for pt in self._points:
            if pt.config_error:
                self._emit(Batch.bad([pt.index], pt.config_error))
        self._stopping = False
        self._changed = asyncio.Event()
        self._worker = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix=f"ThreadPoolExecutor-iec104-{self.device_id}"
        )
        self._spawn("iec104")

    async def stop(self) -> None:
        """Cancel the task, stop the c104 client and the worker thread. Idempotent."""
        await self._cancel()
        await self._close_link()
        worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.get_running_loop().run_in_executor(None, worker.shutdown)
        self._set_state(DeviceState.STOPPED, "stopped")

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking c104 call in the driver's worker thread."""
        assert self._worker is not None, "driver not started"
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def _close_link(self) -> None:
        link, self._link = self._link, None
        self._link_state = ""
        if link is not None and self._worker is not None:
            await self._call(link.stop)

    @property
    def _peer(self) -> str:
        return self.endpoint

    async def _connect(self) -> str:
        reason = await self._open()
        if reason:
            await self._close_link()
        return reason

    async def _disconnect(self) -> None:
        await self._close_link()

    async def _open(self) -> str:
        """Open a fresh link and wait until it is open (and the GI terminated); '' or why not."""
        host = str(self.params["host"])
        try:
            ipaddress.ip_address(host)
            ip = host
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, None)
                ip = str(infos[0][4][0])
            except OSError as exc:
                return f"cannot resolve {host}: {exc}"
        for pt in self._live:
            pt.received = False
        try:
            link = self._new_link(ip)
        except ValueError as exc:
            return str(exc)
        self._link, self._link_state = link, ""
        await self._call(link.start)
        t0, t1 = float(self.params["t0"]), float(self.params["t1"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + t0  # until TCP is open; then t1 for the start-up exchange
        opened = False
        while True:
            state = link.state  # read, not only told: a state callback can come late
            if state == "OPEN":
                return ""
            if state.startswith("OPEN") and not opened:
                opened, deadline = True, loop.time() + t1
            elif state == "CLOSED_AWAIT_RECONNECT":
                if opened:
                    return f"{self.endpoint} closed the connection during start-up"
                return f"cannot connect to {self.endpoint} (refused or unreachable)"
            left = deadline - loop.time()
            if left <= 0:
                if opened:
                    what = (
                        "general interrogation"
                        if self.params["interrogation_at_connect"]
                        else "STARTDT"
                    )
                    return f"no end of the start-up ({what}) within t1 = {t1:g} s"
                return f"connect timeout after t0 = {t0:g} s to {self.endpoint}"
            await self._wait_change(min(left, STATE_POLL))

    def _new_link(self, ip: str) -> Iec104Link:
        holder: list[Iec104Link] = []

        def mine(fn: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                if holder and self._link is holder[0]:  # ignore a previous link's stragglers
                    fn(*args)

            return call

        link = Iec104Link(
            ip, self.params, self._live, asyncio.get_running_loop(),
            mine(self._on_items), mine(self._on_link_state), mine(self._on_unexpected),
            self.timeout,
        )  # fmt: skip
        holder.append(link)
        return link

    async def _wait_change(self, timeout: float) -> None:
        assert self._changed is not None
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), max(timeout, 0.0))

    # ------------------------------------------------------------------ connected
    async def _serve(self) -> str:
        """Run interrogations and refreshes until the link drops; return why it did."""
        link = self._link
        assert link is not None
        loop = asyncio.get_running_loop()
        if self.params["clock_sync"]:
            await self._job("clock synchronisation", link.clock_sync)
        jobs = self._schedule(loop.time())
        while not self._stopping:
            if self._link_state != "OPEN":
                return f"connection lost to {self.endpoint}"
            now = loop.time()
            ok = True
            for name, (due, every) in list(jobs.items()):
                if now >= due:
                    ok &= await self._run_job(name, link)
                    if every > 0:
                        jobs[name] = (now + every, every)
                    else:
                        del jobs[name]
            drop = self._cycle(ok, self.diag.last_error)
            if drop:
                return drop
            nxt = min((due for due, _ in jobs.values()), default=now + 1.0)
            await self._wait_change(nxt - loop.time())
        return "stopped"

    def _schedule(self, now: float) -> dict[str, tuple[float, float]]:
        """The jobs of a connection: name -> (due, period; 0 = once)."""
        jobs: dict[str, tuple[float, float]] = {}
        if self.params["interrogation_at_connect"]:
            jobs["missing"] = (now + GI_GRACE, 0.0)
        if self._has_counters:
            jobs["ci"] = (now, float(self.params["counter_interrogation_period"]))
        gi_every = float(self.params["interrogation_period"])
        if gi_every > 0:
            jobs["gi"] = (now + gi_every, gi_every)
        if self._refresh_every:
            jobs["refresh"] = (now + self._refresh_every, self._refresh_every)
        return jobs

    async def _run_job(self, name: str, link: Iec104Link) -> bool:
        if name == "missing":
            self._mark_missing()
        elif name == "refresh":
            self._refresh()
        elif name == "ci":
            return await self._job("counter interrogation", link.counter_interrogation)
        else:
            return await self._job("general interrogation", link.interrogation)
        return True

    async def _job(self, what: str, fn: Callable[[], bool]) -> bool:
        """One confirmed service (interrogation, clock sync) with the counters kept."""
        self.diag.requests += 1
        t = time.perf_counter()
        ok = await self._call(fn)
        if ok:
            self.diag.record_rtt((time.perf_counter() - t) * 1000.0)
            return True
        reason = f"{what} not confirmed by the RTU within {self.timeout:g} s"
        self.diag.record_error(reason, timeout=True)
        return False

    def _mark_missing(self) -> None:
        missing = self._cache.mark_missing(_MISSING)
        if missing:
            self._log_once(
                "missing", "device %s: %d point(s) not in the general interrogation, e.g. %s",
                self.device_id, len(missing), missing[0].addr,
            )  # fmt: skip

    def _refresh(self) -> None:
        self._cache.refresh(self._refresh_every)

    def _on_items(self, items: list[Item]) -> None:
        self.diag.notifications += len(items)
        self._cache.apply(items)

    def _fail_all(self, reason: str) -> None:
        self._cache.fail_all(reason)

    # ------------------------------------------------------------------ link callbacks (loop)
    def _on_link_state(self, name: str) -> None:
        self._link_state = name
        if self._changed is not None:
            self._changed.set()

    def _on_unexpected(self, ioa: int, type_name: str, cause: str) -> None:
        if cause in ("UNKNOWN", "UNKNOWN_IOA"):  # points the RTU has and no tag uses
            if not self._unused:
                log.info("device %s: the RTU reports IOA %d (%s) that no tag uses (more: debug)",
                         self.device_id, ioa, type_name)  # fmt: skip
            elif ioa not in self._unused:
                log.debug("device %s: unused IOA %d (%s)", self.device_id, ioa, type_name)
            self._unused.add(ioa)
            return
        self.diag.record_error(f"unexpected message {type_name} IOA {ioa}: {cause}")
        if cause == "MISMATCHED_TYPE_ID":
            self._cache.mismatch(ioa, type_name)
        self._log_once(f"{cause}:{ioa}:{type_name}", "device %s: %s from the RTU for IOA %d (%s)",
                       self.device_id, cause, ioa, type_name)  # fmt: skip

    # ------------------------------------------------------------------ helpers
    def _log_once(self, key: str, msg: str, *args: Any) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning(msg, *args)

    # ------------------------------------------------------------------ one-shot access
    async def read(self, indices: Sequence[int]) -> Batch:
        """The last reading of some points (IEC 104 reports changes; read-back waits for the
        RTU's return information). Unknown indices are BAD."""
        return self._cache.read(indices)

    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        """Send the tag's command; the RTU's activation confirmation is the result."""
        pt = self._by_index.get(index)
        if pt is None:
            return WriteResult(WriteStatus.INVALID, f"no IEC 104 point with index {index}")
        if pt.config_error:
            return WriteResult(WriteStatus.INVALID, pt.config_error)
        if not pt.spec.writable:
            return WriteResult(WriteStatus.INVALID, f"{pt.spec.name} is read-only (access r)")
        cmd = pt.command
        if cmd is None:
            return WriteResult(WriteStatus.INVALID,
                               f"{pt.spec.name}: {pt.addr} names no command point (options.command)")  # fmt: skip
        try:
            info = command_info(cmd, value, pt.pulse)
        except ValueError as exc:
            return WriteResult(WriteStatus.INVALID, str(exc))
        link = self._link
        refused = self._not_connected(link is not None)
        if refused is not None:
            return refused
        assert link is not None
        how = "select-before-operate" if pt.select else "direct execute"
        ok, elapsed = await self._send(link, pt.pulse, cmd, info)
        if ok:
            self.diag.record_rtt(elapsed * 1000.0)
            log.info("device %s: %s = %r confirmed (%s, %s)", self.device_id, pt.spec.name,
                     value, cmd, how)  # fmt: skip
            if not pt.monitored:  # a command-only tag shows what was confirmed
                item = (pt, command_value(cmd, info), GOOD, "", time.time())
                self._on_items([item])
            return WriteResult(WriteStatus.SUCCESS, f"{cmd} confirmed by the RTU ({how})")
        if self._link is not link or self._link_state != "OPEN":
            status, reason = WriteStatus.NOT_CONNECTED, f"connection lost to {self.endpoint}"
        elif elapsed >= 0.9 * self.timeout:
            status = WriteStatus.TIMEOUT
            reason = f"no confirmation of {cmd} within {self.timeout:g} s"
        else:
            status = WriteStatus.REJECTED
            reason = f"the RTU refused {cmd} (negative confirmation, {how})"
            self.diag.record_error(reason)
        log.warning("device %s: write of %s failed: %s", self.device_id, pt.spec.name, reason)
        return WriteResult(status, reason)

    async def _send(
        self, link: Iec104Link, pulse: str, cmd: Iec104Address, info: Any
    ) -> tuple[bool, float]:
        """Send a command; (confirmed, seconds of the last attempt). An unconfirmed or
        refused one is sent again (``retries``) unless it is a pulse, which the RTU may have
        executed already: a persistent command or set-point is idempotent, and c104's client
        sometimes reports the first select-before-operate of a new connection as refused
        under load; a refusal that repeats is final."""
        tries = 1 + (int(self.params.get("retries", 1)) if pulse in ("none", "persistent") else 0)
        ok, elapsed = False, 0.0
        for attempt in range(tries):
            self.diag.requests += 1
            t = time.perf_counter()
            ok = await self._call(link.command, cmd.ioa, info)
            elapsed = time.perf_counter() - t
            if ok or self._link is not link:
                break
            if elapsed >= 0.9 * self.timeout:
                reason = f"no confirmation of {cmd} within {self.timeout:g} s"
                self.diag.record_error(reason, timeout=True)
            if attempt + 1 < tries:
                log.info("device %s: %s not confirmed, sending it again", self.device_id, cmd)
        return ok, elapsed
