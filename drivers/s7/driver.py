"""Siemens S7 driver: planned multi-variable reads on a monotonic schedule, one connection a CPU.

Each point's address is parsed once; points are grouped by poll period and each group is
compiled into the fewest read requests the PDU granted at connect allows
(:mod:`drivers.s7.planner`), with a vectorised decoder per byte range
(:mod:`drivers.s7.codec`). One asyncio task runs the device: CONNECTING -> UP ->
(DEGRADED) -> BACKOFF -> CONNECTING ... The blocking python-snap7 transport runs in the
device's own thread (:mod:`drivers.s7.client`).

A scan of a poll group delivers the GOOD values of all its ranges as one batch and one BAD
batch per failed range, whose reason names the failure ("S7 error 0x0a (object does not
exist ...) on DB10 bytes 0-31", "timeout after 1 s", "malformed reply (...)"). A timeout
or a lost connection ends the connection (the stream cannot be trusted after a missing
reply) and the device backs off; a malformed reply is retried ``retries`` times and counts
as a failed cycle (``degrade_after`` of those in a row end the connection); an S7 error on
a variable only marks its tags BAD: the CPU talks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from drivers.base import (
    Backoff,
    Batch,
    DeviceDiagnostics,
    DeviceState,
    PointSpec,
    Quality,
    ReconnectingDriver,
    ScanResult,
    Sink,
    StateListener,
    WriteResult,
    WriteStatus,
)
from drivers.s7.address import S7Address, parse_address
from drivers.s7.client import LOST, REFUSED, TIMEOUT, S7Client
from drivers.s7.codec import decode, encode
from drivers.s7.params import S7Params
from drivers.s7.planner import Request
from drivers.s7.scanplan import ScanGroup, assemble, compile_groups, compile_plan

log = logging.getLogger(__name__)

#: Parameters every device has (the same defaults as hmi.config.schema.DeviceBase).
COMMON: dict[str, Any] = dict(
    timeout=1.0, retries=1, backoff_initial=1.0, backoff_max=30.0, degrade_after=3,
    poll_groups={"default": 1.0},
)  # fmt: skip
_RANGES = dict(
    timeout=(0.01, 60), retries=(0, 10), backoff_initial=(0.01, 3600), backoff_max=(0.01, 3600),
    degrade_after=(1, 100),
)  # fmt: skip


@dataclass(slots=True)
class S7Diagnostics(DeviceDiagnostics):
    """The common counters plus the PDU size the CPU granted and its state at connect."""

    pdu_size: int = 0
    cpu_state: str = "unknown"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (the common keys plus ``pdu_size`` and ``cpu_state``)."""
        extra = {"pdu_size": self.pdu_size, "cpu_state": self.cpu_state}
        return {**DeviceDiagnostics.as_dict(self), **extra}


def _split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(common parameters with defaults, S7 parameters) of a device."""
    s7_keys = set(S7Params.model_fields)
    common = {**COMMON, **{k: v for k, v in params.items() if k not in s7_keys}}
    return common, {k: v for k, v in params.items() if k in s7_keys}


class S7Driver(ReconnectingDriver):
    """Polls one S7 CPU (see the module docstring)."""

    kind = "s7"
    logger = log

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Sink,
        on_state: StateListener | None = None,
    ) -> None:
        common, s7 = _split_params(params)
        self.s7 = S7Params(**s7)
        super().__init__(device_id, {**common, **self.s7.model_dump()}, points, sink, on_state)
        self._s7diag = S7Diagnostics(device_id=device_id, protocol=self.kind)
        self.diag = self._s7diag
        p = self.params
        self._client = S7Client(
            device_id,
            self.s7.host,
            self.s7.port,
            self.s7.tsaps(),
            float(p["timeout"]),
            self.s7.pdu_size,
        )
        self._retries, self._degrade_after = int(p["retries"]), int(p["degrade_after"])
        self._backoff = Backoff(float(p["backoff_initial"]), float(p["backoff_max"]))
        local, remote = self.s7.tsaps()
        self.diag.endpoint = f"{self._client.endpoint} TSAP {local:04X}/{remote:04X}"
        #: tag index -> (spec, address or None, config error)
        self._points: dict[int, tuple[PointSpec, S7Address | None, str]] = {}
        self._config_errors: dict[int, str] = {}
        self._by_period: dict[float, list[tuple[int, S7Address]]] = {}
        for spec in self.points:
            try:
                addr: S7Address | None = parse_address(spec.address)
                err = ""
            except ValueError as exc:
                addr, err = None, f"config error: {exc}"
                self._config_errors[spec.index] = err
            self._points[spec.index] = (spec, addr, err)
            if addr is not None:
                period = max(float(spec.poll_period), 0.001)
                self._by_period.setdefault(period, []).append((spec.index, addr))
        self._planned_pdu = 0
        self._groups: list[ScanGroup] = []
        self._replan(self.s7.pdu_size)
        self._all = np.asarray([i for i in self._points if i not in self._config_errors], np.int32)

    # ------------------------------------------------------------------ config
    def _replan(self, pdu_size: int) -> None:
        if pdu_size == self._planned_pdu:
            return
        self._planned_pdu = pdu_size
        self._groups = compile_groups(
            self._by_period, pdu_size, self.s7.max_items, self.s7.max_gap_bytes
        )
        self.diag.requests_per_scan = sum(len(g.requests) for g in self._groups)

    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Sanity checks of the device parameters (messages name the key)."""
        common, s7 = _split_params(params)
        problems: list[str] = []
        try:
            S7Params(**s7)
        except ValidationError as exc:
            for e in exc.errors():
                key = ".".join(str(x) for x in e["loc"]) or "params"
                problems.append(f"{key}: {e['msg']}")
        for key, (lo, hi) in _RANGES.items():
            try:
                v = float(common[key])
            except (TypeError, ValueError):
                problems.append(f"{key}: {common[key]!r} is not a number")
                continue
            if not lo <= v <= hi:
                problems.append(f"{key}: {common[key]} is outside {lo:g}..{hi:g}")
        return problems

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the device task; returns at once."""
        if self._running:
            return
        for index, reason in self._config_errors.items():
            self._emit(Batch.bad([index], reason))
        self._spawn("s7")

    async def stop(self) -> None:
        """Cancel the task, close the connection and end its thread. Idempotent."""
        await self._cancel()
        await self._client.aclose()
        self._set_state(DeviceState.STOPPED, "stopped")

    @property
    def _peer(self) -> str:
        return self.diag.endpoint

    async def _connect(self) -> str:
        reason = await self._client.connect()
        if not reason:
            self._s7diag.pdu_size = self._client.pdu_size
            self._s7diag.cpu_state = self._client.cpu_state
            self._replan(self._client.pdu_size)
        return reason

    def _up_reason(self) -> str:
        return (
            f"connected to {self.diag.endpoint}, PDU {self._client.pdu_size}, "
            f"CPU {self._client.cpu_state}"
        )

    async def _disconnect(self) -> None:
        await self._client.aclose_link()

    # ------------------------------------------------------------------ polling
    async def _serve(self) -> str:
        """Scan the groups on schedule until the connection must be dropped; return why."""
        return await self._poll_groups(
            self._groups, self._scan, lambda: self._client.connected, self._client.endpoint
        )

    async def _run_requests(
        self, requests: Sequence[Request]
    ) -> tuple[dict[tuple[int, int], bytes | str], dict[int, str], bool, bool, str]:
        """Every request of a scan; (item results, failed requests, comm ok, lost, reason)."""
        results: dict[tuple[int, int], bytes | str] = {}
        failed: dict[int, str] = {}
        comm_ok, lost, reason = True, False, ""
        d = self.diag
        runs = await self._client.read_all(requests, self._retries)
        for ri in range(len(requests)):
            if ri >= len(runs):  # not sent: the connection went earlier in this scan
                failed[ri] = reason
                continue
            for attempt in runs[ri]:
                d.requests += 1
                if attempt.kind not in (TIMEOUT, LOST):  # the CPU answered
                    d.record_rtt(attempt.rtt_ms)
                if attempt.kind:
                    d.record_error(attempt.reason, timeout=attempt.kind == TIMEOUT)
            last = runs[ri][-1]
            if last.kind:
                failed[ri] = last.reason
                if last.kind != REFUSED:  # a refusal still proves the CPU talks
                    comm_ok, reason = False, last.reason
                lost = lost or last.kind in (TIMEOUT, LOST)
                continue
            results.update(((ri, pos), v) for pos, v in enumerate(last.items))
        return results, failed, comm_ok, lost, reason

    async def _scan(self, g: ScanGroup) -> ScanResult:
        """Read every request of a group; (cycle ok, connection lost, failure reason)."""
        results, failed, comm_ok, lost, reason = await self._run_requests(g.requests)
        values = np.empty(len(g.numeric), dtype=np.float64)
        good: np.ndarray | None = None  # None while every range succeeded
        for cr in g.ranges:
            data, why = assemble(cr, results, failed)
            if not why:
                try:
                    cr.decoder.decode(data, out=values[cr.out])
                    if len(cr.strings):
                        now = time.time()
                        texts = cr.decoder.decode_strings(data)
                        self._emit(Batch(cr.strings, texts, Quality.GOOD, "", now, now))
                    continue
                except ValueError as exc:
                    why = f"malformed reply ({exc}) on {cr.range.where}"
                    comm_ok, reason = False, why
                    self.diag.record_error(why)
            if good is None:
                good = np.ones(len(g.numeric), dtype=bool)
            good[cr.out] = False
            self._emit(Batch.bad(cr.every, why))
        if len(g.numeric):
            now = time.time()
            if good is None:
                self._emit(Batch(g.numeric, values, Quality.GOOD, "", now, now))
            elif good.any():
                self._emit(Batch(g.numeric[good], values[good], Quality.GOOD, "", now, now))
        return comm_ok, lost, reason if not comm_ok else ""

    def _fail_all(self, reason: str) -> None:
        if len(self._all):
            self._emit(Batch.bad(self._all, reason))

    # ------------------------------------------------------------------ one-shot access
    async def read(self, indices: Sequence[int]) -> Batch:
        """Read some points now (read-back after a write); BAD entries carry the reason."""
        idx = [int(i) for i in indices]
        values = np.full(len(idx), np.nan, dtype=object)
        quality = np.zeros(len(idx), dtype=np.uint8)
        reasons: list[str] = []
        wanted: dict[int, S7Address] = {}
        for index in idx:
            _spec, addr, err = self._points.get(
                index, (None, None, f"no S7 point with index {index}")
            )
            if addr is None:
                reasons.append(err)
            else:
                wanted[index] = addr
        found: dict[int, Any] = {}
        if wanted and self._client.connected:
            pdu = self._client.pdu_size or self.s7.pdu_size
            g = compile_plan(
                list(wanted.items()), 1.0, pdu, self.s7.max_items, self.s7.max_gap_bytes
            )
            results, failed, _ok, _lost, _why = await self._run_requests(g.requests)
            for cr in g.ranges:
                data, why = assemble(cr, results, failed)
                if why:
                    reasons.append(why)
                    continue
                for key, a in cr.range.points:
                    rel = a.byte - cr.range.start
                    found[int(key)] = decode(a, data[rel : rel + a.size])
        elif wanted:
            reasons.append(f"device {self.device_id} is not connected ({self.state.value})")
        for slot, index in enumerate(idx):
            if index in found:
                v = found[index]
                values[slot] = v if isinstance(v, str) else float(v)
                quality[slot] = Quality.GOOD
        if not any(isinstance(v, str) for v in values):
            values = values.astype(np.float64)
        now = time.time()
        return Batch(
            np.asarray(idx, np.int32), values, quality, reasons[0] if reasons else "", now, now
        )

    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        """Write one point: a bit by bit access (never read-modify-write), others as bytes."""
        spec, addr, err = self._points.get(index, (None, None, f"no S7 point with index {index}"))
        if spec is None or addr is None:
            return WriteResult(
                WriteStatus.INVALID, f"{err} on {self.device_id}" if spec is None else err
            )
        if not spec.writable:
            return WriteResult(WriteStatus.INVALID, f"{spec.name} is read-only (access r)")
        if not addr.writable_area:
            return WriteResult(
                WriteStatus.INVALID,
                f"{spec.address}: process inputs are read-only (the CPU owns them)",
            )
        try:
            data = encode(addr, value)
        except ValueError as exc:
            return WriteResult(WriteStatus.INVALID, str(exc))
        refused = self._not_connected(self._client.connected)
        if refused is not None:
            return refused
        self.diag.requests += 1
        kind, reason = await self._client.write(addr, data)
        if not kind:
            self.diag.record_rtt(self._client.rtt_ms)
            log.info("device %s: wrote %s = %r", self.device_id, spec.name, value)
            return WriteResult(WriteStatus.SUCCESS, f"wrote {value!r} to {addr}")
        self.diag.record_error(reason, timeout=kind == TIMEOUT)
        status = {
            REFUSED: WriteStatus.REJECTED,
            TIMEOUT: WriteStatus.TIMEOUT,
            LOST: WriteStatus.NOT_CONNECTED,
        }
        log.warning("device %s: write of %s failed: %s", self.device_id, spec.name, reason)
        return WriteResult(status.get(kind, WriteStatus.ERROR), reason)
