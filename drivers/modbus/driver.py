"""Modbus TCP driver: planned block reads on a monotonic schedule, one connection per device.

Each point's address is parsed once; points are grouped by poll period and each
group is compiled into the fewest block reads (:mod:`drivers.modbus.planner`) with a
vectorized decoder per block (:mod:`drivers.modbus.codec`). One asyncio task runs the
device: CONNECTING -> UP -> (DEGRADED) -> BACKOFF -> CONNECTING ... Retries are done
here (pymodbus runs with ``retries=0``, see :mod:`drivers.modbus.client`) so that the
request/timeout counters are honest.

A scan of a poll group delivers the GOOD values of all its blocks as one batch, and
one BAD batch per failed block whose reason names the failure ("timeout after 1.0 s",
"Modbus exception 2 (illegal data address) on hr 100-109", ...). An exception reply
proves the device talks, except a gateway's 10/11 (path unavailable, target failed to
respond): then the unit behind it is not talking, a communication failure (DEGRADED, without
dropping the connection to the gateway, which answers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from drivers.base import (
    Backoff,
    Batch,
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
from drivers.modbus.address import ModbusAddress, parse_address
from drivers.modbus.client import EXCEPTION, GATEWAY, LOST, MALFORMED, TIMEOUT, ModbusClient
from drivers.modbus.codec import BlockDecoder, decode, encode, merge_bit
from drivers.modbus.link import ModbusLink
from drivers.modbus.params import ModbusTcpParams
from drivers.modbus.planner import Block, plan_blocks
from drivers.params import params_problems, settings

log = logging.getLogger(__name__)

_TABLE_WORDS = {
    "co": "coils",
    "di": "discrete inputs",
    "ir": "input registers",
    "hr": "holding registers",
}


@dataclass(slots=True)
class _CompiledBlock:
    """A planned block with what a scan needs precomputed."""

    block: Block
    decoder: BlockDecoder
    numeric: np.ndarray  # tag indices of the decoder's numeric outputs (int32)
    strings: np.ndarray  # tag indices of its string outputs
    every: np.ndarray  # all tag indices of the block
    where: str  # "hr 100-109", for reasons
    out: slice = field(
        default_factory=lambda: slice(0, 0)
    )  # its values in the group's per-scan array


def _compile(block: Block) -> _CompiledBlock:
    decoder = BlockDecoder(block.start, block.addresses)
    keys = np.asarray([k for k, _ in block.points], dtype=np.int32)
    where = f"{block.table} {block.start}-{block.end - 1}"
    return _CompiledBlock(block, decoder, keys[decoder.numeric], keys[decoder.strings], keys, where)


@dataclass(slots=True)
class _ScanGroup:
    """The blocks of one poll period; a scan delivers their GOOD values as one batch."""

    period: float
    blocks: list[_CompiledBlock]
    numeric: np.ndarray = field(init=False)  # tag indices of the per-scan value array
    next_due: float = 0.0

    def __post_init__(self) -> None:
        start = 0
        for cb in self.blocks:
            cb.out = slice(start, start + len(cb.numeric))
            start = cb.out.stop
        self.numeric = np.concatenate([cb.numeric for cb in self.blocks] or [np.zeros(0, np.int32)])


class ModbusDriver(ReconnectingDriver):
    """Polls one Modbus TCP device (see the module docstring)."""

    kind = "modbus_tcp"
    logger = log

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Sink,
        on_state: StateListener | None = None,
    ) -> None:
        super().__init__(device_id, params, points, sink, on_state)
        #: the checked parameters (ValueError naming the key when a plain dict is wrong)
        self.settings = p = settings(ModbusTcpParams, self.params)
        self.params = {**p.model_dump(), **self.params}  # every default, as the driver saw it
        self._client = self._make_client(self.params)
        self._retries, self._degrade_after = p.retries, p.degrade_after
        self._backoff = Backoff(p.backoff_initial, p.backoff_max)
        self._gateway_fault = False  # the last cycle failed only by gateway exceptions
        self.diag.endpoint = f"{self._client.endpoint}/{p.unit_id}"
        #: tag index -> (spec, address or None, config error)
        self._points: dict[int, tuple[PointSpec, ModbusAddress | None, str]] = {}
        self._config_errors: dict[int, str] = {}
        by_period: dict[float, list[tuple[int, ModbusAddress]]] = {}
        for spec in self.points:
            addr, err = self._address_of(spec)
            limit = p.max_bits if addr is not None and addr.is_bits else p.max_registers
            if addr is not None and addr.count > limit:
                err = (
                    f"config error: {addr} spans {addr.count} registers, over max_registers {limit}"
                )
                addr = None
            self._points[spec.index] = (spec, addr, err)
            if addr is None:
                self._config_errors[spec.index] = err
            else:
                period = max(
                    float(spec.poll_period), 0.001
                )  # a zero period would never advance the clock
                by_period.setdefault(period, []).append((spec.index, addr))
        self._groups = [
            _ScanGroup(period, [_compile(b) for b in self._plan(items)])
            for period, items in sorted(by_period.items())
        ]
        self._all = np.asarray(
            [i for i in self._points if i not in self._config_errors], dtype=np.int32
        )
        self.diag.requests_per_scan = sum(len(g.blocks) for g in self._groups)

    # ------------------------------------------------------------------ config
    def _make_client(self, p: Mapping[str, Any]) -> ModbusLink:
        """The connection this driver polls through (Modbus TCP here; RTU drivers override)."""
        s = self.settings
        return ModbusClient(s.host, s.port, s.unit_id, s.timeout)

    def _address_of(self, spec: PointSpec) -> tuple[ModbusAddress | None, str]:
        try:
            addr = parse_address(spec.address)
        except ValueError as exc:
            return None, f"config error: {exc}"
        if not self.settings.zero_based:  # offsets in the config count from 1
            if addr.offset == 0:
                return (
                    None,
                    f"config error: {spec.address}: offset 0 does not exist with 1-based addresses",
                )
            addr = replace(addr, offset=addr.offset - 1)
        return addr, ""

    def _plan(self, items: Sequence[tuple[int, ModbusAddress]]) -> list[Block]:
        p = self.settings
        return plan_blocks(
            items,
            max_registers=p.max_registers,
            max_bits=p.max_bits,
            max_gap_registers=p.max_gap_registers,
            max_gap_bits=p.max_gap_bits,
        )

    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Problems of the device parameters, each naming its key (:class:`ModbusTcpParams`)."""
        return params_problems(ModbusTcpParams, params)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the device task; returns at once."""
        if self._running:
            return
        for index, reason in self._config_errors.items():
            self._emit(Batch.bad([index], reason))
        self._spawn("modbus")

    async def stop(self) -> None:
        """Cancel the task and close the connection. Idempotent."""
        await self._cancel()
        self._client.close()
        self._set_state(DeviceState.STOPPED, "stopped")

    @property
    def _peer(self) -> str:
        return self._client.endpoint

    async def _connect(self) -> str:
        return await self._client.connect()

    async def _disconnect(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ requests
    async def _request(self, fc: int, start: int, value: Any, where: str) -> tuple[Any, str, str]:
        """One request with the counters kept; (reply, failure kind or '', reason)."""
        d = self.diag
        if self._client.connected:
            d.requests += 1
        resp, kind, reason = await self._client.call(fc, start, value)
        if not kind:
            d.record_rtt(self._client.rtt_ms)
            return resp, kind, reason
        if kind in (EXCEPTION, GATEWAY):
            d.record_rtt(self._client.rtt_ms)
        if kind != LOST and kind != TIMEOUT:
            reason = f"{reason} on {where}"
        d.record_error(reason, timeout=kind == TIMEOUT)
        return None, kind, reason

    async def _read_block(self, cb: _CompiledBlock) -> tuple[Any, str, str]:
        """Read one block with retries; (registers or bits, failure kind, reason)."""
        b = cb.block
        fc = b.function_code
        for _attempt in range(self._retries + 1):
            resp, kind, reason = await self._request(fc, b.start, b.count, cb.where)
            if not kind:
                data = resp.bits if fc <= 2 else resp.registers
                if len(data) >= cb.decoder.size:
                    return data, "", ""
                kind = MALFORMED
                unit = "bits" if fc <= 2 else "registers"
                reason = f"short reply: {len(data)} of {b.count} {unit} on {cb.where}"
                self.diag.record_error(reason)
            if kind in (EXCEPTION, GATEWAY, LOST):  # a gateway has done its own retries
                break
        return None, kind, reason

    # ------------------------------------------------------------------ polling
    async def _serve(self) -> str:
        """Scan the groups on schedule until the connection must be dropped; return why."""
        return await self._poll_groups(
            self._groups, self._scan, lambda: self._client.connected, self._client.endpoint
        )

    async def _scan(self, g: _ScanGroup) -> ScanResult:
        """Read every block of a group; (cycle ok, connection lost, failure reason).

        Each block goes out as its own batch as soon as it is decoded (downstream, the
        uplink publishes it at once: latency is one block, not the scan span); each
        failed block gets its own BAD batch with its reason.
        """
        failed = ""  # a timeout/lost connection fails the rest of this cycle at once
        comm_ok, lost, reason = True, False, ""
        self._gateway_fault = False
        values = np.empty(len(g.numeric), dtype=np.float64)
        for cb in g.blocks:
            if not failed:
                data, kind, reason = await self._read_block(cb)
                if not kind:
                    try:
                        cb.decoder.decode(data, out=values[cb.out])
                        now = time.time()
                        if len(cb.numeric):
                            self._emit(
                                Batch(cb.numeric, values[cb.out], Quality.GOOD, "", now, now)
                            )
                        if len(cb.strings):
                            self._emit(
                                Batch(
                                    cb.strings,
                                    cb.decoder.decode_strings(data),
                                    Quality.GOOD,
                                    "",
                                    now,
                                    now,
                                )
                            )
                        continue
                    except (ValueError, IndexError) as exc:
                        kind, reason = MALFORMED, f"malformed reply ({exc}) on {cb.where}"
                        self.diag.record_error(reason)
                # an exception reply still proves the device talks, but a gateway's 0x0A/0x0B
                # says the unit behind it does not: a communication failure of this device
                if kind != EXCEPTION:
                    self._gateway_fault = kind == GATEWAY and (comm_ok or self._gateway_fault)
                    comm_ok = False
                if kind in (TIMEOUT, LOST):
                    failed, lost = reason, kind == LOST
            self._emit(Batch.bad(cb.every, failed or reason))
        return comm_ok, lost, (failed or reason) if not comm_ok else ""

    def _cycle(self, ok: bool, reason: str) -> str:
        """As for any failed cycle, except that a cycle failed only by gateway exceptions never
        drops the connection: the gateway answers, reconnecting to it cannot help the unit."""
        if not ok and self._gateway_fault:
            self.diag.consecutive_failures += 1
            self._set_state(DeviceState.DEGRADED, reason)
            return ""
        return super()._cycle(ok, reason)

    def _fail_all(self, reason: str) -> None:
        if len(self._all):
            self._emit(Batch.bad(self._all, reason))

    # ------------------------------------------------------------------ one-shot access
    async def read(self, indices: Sequence[int]) -> Batch:
        """Read some points now (read-back after a write); BAD entries carry the reason."""
        idx = [int(i) for i in indices]
        strings = any(
            (e := self._points.get(i)) and e[1] is not None and e[1].type == "string" for i in idx
        )
        values = np.full(len(idx), np.nan, dtype=object if strings else np.float64)
        quality = np.zeros(len(idx), dtype=np.uint8)
        reasons: list[str] = []
        slots: dict[int, list[int]] = {}
        items: list[tuple[int, ModbusAddress]] = []
        for slot, index in enumerate(idx):
            _spec, addr, err = self._points.get(
                index, (None, None, f"no Modbus point with index {index}")
            )
            if addr is None:
                reasons.append(err)
                continue
            if index not in slots:
                items.append((index, addr))
            slots.setdefault(index, []).append(slot)
        for block in self._plan(items) if items else []:
            cb = _compile(block)
            data, kind, reason = await self._read_block(cb)
            if kind:
                reasons.append(reason)
                continue
            decoded = zip(cb.numeric.tolist(), cb.decoder.decode(data).tolist(), strict=True)
            texts = zip(cb.strings.tolist(), cb.decoder.decode_strings(data), strict=True)
            for key, value in [*decoded, *texts]:
                for s in slots[key]:
                    values[s], quality[s] = value, Quality.GOOD
        now = time.time()
        return Batch(
            np.asarray(idx, dtype=np.int32),
            values,
            quality,
            reasons[0] if reasons else "",
            now,
            now,
        )

    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        """Write one point: FC5 coil, FC6 one register, FC16 several, bit = FC3 then FC6."""
        spec, addr, err = self._points.get(
            index, (None, None, f"no Modbus point with index {index}")
        )
        if spec is None or addr is None:
            return WriteResult(
                WriteStatus.INVALID, f"{err} on {self.device_id}" if spec is None else err
            )
        if not spec.writable:
            return WriteResult(WriteStatus.INVALID, f"{spec.name} is read-only (access r)")
        if not addr.writable_table:
            return WriteResult(
                WriteStatus.INVALID, f"{spec.address}: {_TABLE_WORDS[addr.table]} are read-only"
            )
        try:
            words = encode(addr, value)
        except ValueError as exc:
            return WriteResult(WriteStatus.INVALID, str(exc))
        refused = self._not_connected(self._client.connected)
        if refused is not None:
            return refused
        where = str(addr)
        if addr.is_bits:
            _, kind, reason = await self._request(5, addr.offset, bool(words[0]), where)
        elif addr.type == "bit":  # read-modify-write of the whole register
            resp, kind, reason = await self._request(3, addr.offset, 1, where)
            if not kind and not len(resp.registers):
                kind, reason = (
                    MALFORMED,
                    f"short reply reading {where} before setting bit {addr.bit}",
                )
            if not kind:
                merged = merge_bit(int(resp.registers[0]), addr.bit or 0, bool(words[0]))
                _, kind, reason = await self._request(6, addr.offset, merged, where)
        elif len(words) == 1:
            _, kind, reason = await self._request(6, addr.offset, int(words[0]), where)
        else:
            _, kind, reason = await self._request(16, addr.offset, [int(w) for w in words], where)
        if not kind:
            log.info("device %s: wrote %s = %r", self.device_id, spec.name, value)
            return WriteResult(WriteStatus.SUCCESS, f"wrote {decode(addr, words)!r} to {where}")
        status = {
            EXCEPTION: WriteStatus.REJECTED,
            GATEWAY: WriteStatus.NOT_CONNECTED,  # the unit behind the gateway did not get it
            TIMEOUT: WriteStatus.TIMEOUT,
            LOST: WriteStatus.NOT_CONNECTED,
        }
        log.warning("device %s: write of %s failed: %s", self.device_id, spec.name, reason)
        return WriteResult(status.get(kind, WriteStatus.ERROR), reason)
