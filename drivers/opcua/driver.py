"""OPC UA driver: one asyncua session per device, poll groups as subscriptions.

Lifecycle (states as for every driver)::

    CONNECTING --ok--> UP <--> DEGRADED (keep-alive or reads failing)
        |               |
        +--fail--> BACKOFF <-- lost (server restart, network loss, session gone)
                      |  retries with exponential backoff, re-creates the subscriptions

While the device is not connected every point is BAD with the reason. Points that
cannot be used on a connection (namespace URI unknown, node missing, monitored item
refused) are BAD with the server's status name while the rest work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from asyncua import Client, ua
from asyncua.ua import uaerrors

from drivers.base import (
    Batch,
    DeviceState,
    Driver,
    PointSpec,
    Sink,
    StateListener,
    WriteResult,
    WriteStatus,
)
from drivers.params import params_problems, settings

from .address import options_problems, parse_address
from .certs import CertStore
from .codec import BAD, encode_write, status_name
from .collector import BatchCollector
from .connection import ConnectError, ConnectOptions, close_client, open_client
from .params import OpcUaParams
from .points import OpcPoint, make_point, resolve
from .reader import read_points, read_types
from .subscription import SubscriptionGroup

log = logging.getLogger(__name__)


class OpcUaDriver(Driver):
    """A connection to one OPC UA server."""

    kind = "opcua"

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Sink,
        on_state: StateListener | None = None,
    ) -> None:
        super().__init__(device_id, params, points, sink, on_state)
        #: the checked parameters (ValueError naming the key when a plain dict is wrong);
        #: the resolved secrets and the PKI folder come from the runtime in ``params``
        self.settings = s = settings(OpcUaParams, self.params)
        p = self.params
        self.endpoint = s.endpoint
        self.diag.endpoint = self.endpoint
        self.timeout = s.timeout
        self.retries = s.retries
        self.backoff_initial = s.backoff_initial
        self.backoff_max = s.backoff_max
        self.degrade_after = s.degrade_after
        self.keepalive = s.keepalive
        self._points = [make_point(s) for s in points]
        self._by_index = {pt.spec.index: pt for pt in self._points}
        self._all = np.array([pt.spec.index for pt in self._points], dtype=np.int32)
        subscribed: dict[float, list[OpcPoint]] = defaultdict(list)
        polled: dict[float, list[OpcPoint]] = defaultdict(list)
        for pt in self._points:
            (subscribed if pt.subscribe else polled)[float(pt.spec.poll_period)].append(pt)
        self._groups = [
            SubscriptionGroup(
                period, pts, self._sink_safe, self.diag, self._lose,
                sampling_interval_ms=s.sampling_interval,
                queue_size=s.queue_size,
                timeout=self.timeout,
            )
            for period, pts in sorted(subscribed.items())
        ]  # fmt: skip
        self._polled = sorted(polled.items())
        self.diag.requests_per_scan = len(self._polled)
        self._certs: CertStore | None = None
        if p.get("pki_dir"):
            self._certs = CertStore(
                p["pki_dir"],
                certificate=s.certificate,
                private_key=s.private_key,
                key_passphrase=str(p.get("key_passphrase", "") or ""),
                server_certificate=s.server_certificate,
                trust_on_first_use=s.trust_on_first_use,
            )
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._conn_tasks: list[asyncio.Task[None]] = []
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._down_reason = "not connected yet"
        self._read_failing: set[float] = set()
        self._stopping = False

    # ------------------------------------------------------------------ config-time checks
    @classmethod
    def validate_address(cls, address: str) -> str | None:
        """Error message for a bad node id, None when valid."""
        try:
            parse_address(address)
        except ValueError as exc:
            return str(exc)
        return None

    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Problems of the device parameters (endpoint form, security, poll groups)."""
        out = params_problems(OpcUaParams, params)
        if params.get("security_policy", "None") != "None" and not params.get("pki_dir"):
            out.append("a secure endpoint needs a PKI folder (pki_dir)")
        return out

    @staticmethod
    def validate_options(options: Mapping[str, Any]) -> list[str]:
        """Problems of a tag's OPC UA options (``subscribe``, ``deadband``)."""
        return options_problems(options)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Begin connecting in a background task."""
        if self._task is not None:
            return
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"opcua:{self.device_id}"
        )

    async def stop(self) -> None:
        """Cancel everything and close the session. Idempotent."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._teardown()
        self._set_state(DeviceState.STOPPED, "stopped")

    async def _run(self) -> None:
        delay = self.backoff_initial
        was_up = False
        self._set_state(DeviceState.CONNECTING, self.endpoint)
        while not self._stopping:
            try:
                await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = (
                    str(exc) if isinstance(exc, ConnectError) else f"{type(exc).__name__}: {exc}"
                )
                await self._teardown()
                self._down(reason)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_initial
            if was_up:
                self.diag.reconnects += 1
            was_up = True
            self.diag.consecutive_failures = 0
            self._set_state(DeviceState.UP, self.endpoint)
            reason = await self._supervise()
            await self._teardown()
            self._down(reason)
            await asyncio.sleep(min(delay, 1.0))

    def _down(self, reason: str) -> None:
        """Mark every point BAD and go to BACKOFF; log a new reason once."""
        if reason != self._down_reason or self.state is not DeviceState.BACKOFF:
            log.info("%s: %s", self.device_id, reason)
        self._down_reason = reason
        self.diag.errors += 1
        self.diag.last_error, self.diag.last_error_ts = reason, time.time()
        if len(self._all):
            self._sink_safe(Batch.bad(self._all, f"not connected: {reason}"))
        self._set_state(DeviceState.BACKOFF, reason)

    async def _connect(self) -> None:
        opts = ConnectOptions(
            endpoint=self.endpoint,
            security_policy=self.settings.security_policy,
            security_mode=self.settings.security_mode,
            username=self.settings.username,
            password=str(self.params.get("password", "") or ""),
            timeout=max(self.timeout, 2.0),  # secure handshakes are slow on a busy 2-core PC
            session_timeout=self.settings.session_timeout,
            certs=self._certs,
            watchdog_interval=max(10.0, self.keepalive * 5),
        )
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._client = client = await open_client(opts, self._on_client_lost)
        t = opts.timeout * 2
        namespaces = await asyncio.wait_for(client.get_namespace_array(), t)
        resolve(self._points, namespaces)
        await asyncio.wait_for(
            read_types(client, [p for p in self._points if p.nodeid is not None]), t * 2
        )
        for g in self._groups:
            for pt, why in await asyncio.wait_for(g.create(client), t * 4):
                pt.error = why
        col = BatchCollector()
        now = time.time()
        for pt in self._points:
            if pt.error:
                col.add(pt.spec.index, None, BAD, pt.error, now, pt.text)
        col.flush(self._sink_safe, now)
        self._read_failing.clear()
        loop = asyncio.get_running_loop()
        for g in self._groups:
            self._conn_tasks.append(
                loop.create_task(self._refresh_loop(g), name=f"opcua:{self.device_id}:refresh")
            )
        for period, pts in self._polled:
            self._conn_tasks.append(
                loop.create_task(self._read_loop(period, pts), name=f"opcua:{self.device_id}:read")
            )

    async def _teardown(self) -> None:
        tasks, self._conn_tasks = self._conn_tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for g in self._groups:
            g.detach()
        client, self._client = self._client, None
        if client is not None:
            await close_client(client, self.timeout)

    # ------------------------------------------------------------------ supervision
    async def _on_client_lost(self, exc: Exception) -> None:
        self._lose(f"connection lost ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})")

    def _lose(self, reason: str) -> None:
        if not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    async def _supervise(self) -> str:
        """Watch the session until it is lost; return why."""
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), self.keepalive)
                return self._lost_reason
            except TimeoutError:
                pass
            reason = await self._probe()
            if reason:
                return reason
            mono = time.monotonic()
            for g in self._groups:
                if g.silent_for(mono) > 2 * g.alive_window:
                    return f"subscription of the {g.period:g} s group stopped publishing"

    async def _probe(self) -> str:
        """One keep-alive read of the server state; a reason when the session counts as lost."""
        client = self._client
        if client is None:
            return "not connected"
        params = ua.ReadParameters(
            NodesToRead=[
                ua.ReadValueId(
                    NodeId=ua.NodeId(ua.ObjectIds.Server_ServerStatus_State),
                    AttributeId=ua.AttributeIds.Value,
                )
            ]
        )
        t0 = time.perf_counter()
        self.diag.requests += 1
        try:
            await asyncio.wait_for(client.uaclient.read(params), self.timeout)
        except Exception as exc:
            self.diag.errors += 1
            self.diag.consecutive_failures += 1
            if isinstance(exc, asyncio.TimeoutError | TimeoutError):
                self.diag.timeouts += 1
                why = f"no keep-alive answer within {self.timeout:g} s"
            else:
                why = f"keep-alive read failed: {type(exc).__name__}"
            self.diag.last_error, self.diag.last_error_ts = why, time.time()
            if isinstance(
                exc, ConnectionError | uaerrors.BadSessionIdInvalid | uaerrors.BadSessionClosed
            ):
                return f"session lost ({why})"
            if self.diag.consecutive_failures >= self.degrade_after:
                return f"{why} ({self.diag.consecutive_failures} times)"
            self._set_state(DeviceState.DEGRADED, why)
            return ""
        self.diag.record_rtt((time.perf_counter() - t0) * 1000.0)
        self.diag.consecutive_failures = 0
        if self.state is DeviceState.DEGRADED and not self._read_failing:
            self._set_state(DeviceState.UP, "recovered")
        return ""

    async def _refresh_loop(self, g: SubscriptionGroup) -> None:
        while True:
            await asyncio.sleep(g.period)
            try:
                g.refresh(time.monotonic(), time.time())
            except Exception:
                log.exception("%s: refresh of the %g s group failed", self.device_id, g.period)

    async def _read_loop(self, period: float, pts: list[OpcPoint]) -> None:
        """One-shot reads, once per poll period, of the points that are not subscribed."""
        loop = asyncio.get_running_loop()
        usable = [p for p in pts if not p.error and p.nodeid is not None]
        fails = 0
        next_t = loop.time()
        while usable:
            client = self._client
            if client is None:
                return
            col = BatchCollector()
            t0 = time.perf_counter()
            err = ""
            for _attempt in range(self.retries + 1):
                self.diag.requests += 1
                try:
                    await asyncio.wait_for(read_points(client, usable, col), self.timeout)
                    err = ""
                    break
                except Exception as exc:
                    self.diag.errors += 1
                    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
                        self.diag.timeouts += 1
                        err = f"read timed out after {self.timeout:g} s"
                    else:
                        err = f"read failed: {type(exc).__name__}"
                    col = BatchCollector()
            now = time.time()
            if not err:
                self.diag.record_rtt((time.perf_counter() - t0) * 1000.0)
                fails = 0
                col.flush(self._sink_safe, now)
                if period in self._read_failing:
                    self._read_failing.discard(period)
                    if not self._read_failing and self.state is DeviceState.DEGRADED:
                        self._set_state(DeviceState.UP, "reads recovered")
            else:
                fails += 1
                self.diag.last_error, self.diag.last_error_ts = err, now
                self._read_failing.add(period)
                self._set_state(DeviceState.DEGRADED, err)
                if fails >= self.degrade_after:
                    self._sink_safe(Batch.bad([p.spec.index for p in usable], err, now))
            next_t += period
            delay = next_t - loop.time()
            if delay < 0:
                self.diag.scan_overruns += 1
                next_t = loop.time()
                delay = 0.0
            await asyncio.sleep(delay)

    def _sink_safe(self, batch: Batch) -> None:
        try:
            self.sink(batch)
        except Exception:
            log.exception(
                "%s: the sink failed on a batch of %d values", self.device_id, len(batch.indices)
            )

    # ------------------------------------------------------------------ commands
    async def read(self, indices: Sequence[int]) -> Batch:
        """One-shot read of some points now (one Batch, quality per point)."""
        now = time.time()
        pts = [self._by_index[i] for i in indices if i in self._by_index]
        client = self._client
        if client is None or self.state not in (DeviceState.UP, DeviceState.DEGRADED):
            return Batch.bad(
                [p.spec.index for p in pts], f"not connected: {self._down_reason}", now
            )
        col = BatchCollector()
        usable = [p for p in pts if not p.error and p.nodeid is not None]
        for p in pts:
            if p not in usable:
                col.add(p.spec.index, None, BAD, p.error or "not resolved", now, p.text)
        t0 = time.perf_counter()
        self.diag.requests += 1
        try:
            if usable:
                await asyncio.wait_for(read_points(client, usable, col), self.timeout)
            self.diag.record_rtt((time.perf_counter() - t0) * 1000.0)
        except Exception as exc:
            self.diag.errors += 1
            why = (
                "read timed out"
                if isinstance(exc, asyncio.TimeoutError | TimeoutError)
                else f"read failed: {type(exc).__name__}"
            )
            return Batch.bad([p.spec.index for p in pts], why, now)
        return col.merged(now)

    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        """Write one point with the variant type of its DataType; map the status to a result."""
        pt = self._by_index.get(index)
        if pt is None:
            return WriteResult(
                WriteStatus.INVALID, f"tag {index} is not a point of device {self.device_id}"
            )
        if not pt.spec.writable:
            return WriteResult(WriteStatus.INVALID, f"{pt.spec.name} is read-only")
        client = self._client
        if client is None or self.state not in (DeviceState.UP, DeviceState.DEGRADED):
            return WriteResult(
                WriteStatus.NOT_CONNECTED, f"{self.device_id} is not connected: {self._down_reason}"
            )
        if pt.error or pt.nodeid is None:
            return WriteResult(
                WriteStatus.REJECTED, f"{pt.spec.name}: {pt.error or 'node not resolved'}"
            )
        if pt.vt is None:
            return WriteResult(
                WriteStatus.INVALID,
                f"{pt.spec.name}: the server's data type of {pt.spec.address} is not writable",
            )
        try:
            variant = encode_write(value, pt.vt)
        except ValueError as exc:
            return WriteResult(WriteStatus.INVALID, f"{pt.spec.name}: {exc}")
        params = ua.WriteParameters(
            NodesToWrite=[
                ua.WriteValue(
                    NodeId=pt.nodeid, AttributeId=ua.AttributeIds.Value, Value=ua.DataValue(variant)
                )
            ]
        )
        t0 = time.perf_counter()
        self.diag.requests += 1
        try:
            results = await asyncio.wait_for(client.uaclient.write(params), self.timeout)
        except TimeoutError:
            self.diag.timeouts += 1
            return WriteResult(
                WriteStatus.TIMEOUT, f"no answer to the write within {self.timeout:g} s"
            )
        except uaerrors.UaStatusCodeError as exc:
            return WriteResult(WriteStatus.REJECTED, type(exc).__name__)
        except (ConnectionError, OSError) as exc:
            return WriteResult(
                WriteStatus.NOT_CONNECTED, f"connection lost during the write: {exc}"
            )
        except Exception as exc:
            return WriteResult(WriteStatus.ERROR, f"{type(exc).__name__}: {exc}")
        self.diag.record_rtt((time.perf_counter() - t0) * 1000.0)
        status = results[0]
        if status.is_good():
            return WriteResult(WriteStatus.SUCCESS, f"written as {pt.vt.name}")
        return WriteResult(WriteStatus.REJECTED, status_name(status))
