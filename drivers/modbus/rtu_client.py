"""One RTU unit on a shared bus, with the interface of :class:`drivers.modbus.client.ModbusClient`.

The Modbus driver's state machine runs unchanged on top: ``connect`` opens the shared
bus (once for all its units) and then *probes* the unit with one read, so a unit that
does not answer goes to backoff without ever holding the bus for a full degraded
cycle; ``close`` only lets go of the bus (it closes when its last unit lets go);
``call`` sends one request through the bus queue and returns (reply, failure kind,
reason) with the same kinds and reasons as Modbus TCP, plus the RTU ones (CRC error,
truncated frame, reply from another unit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.base import DeviceDiagnostics
from drivers.modbus.client import (
    EXCEPTION,
    EXCEPTION_NAMES,
    LOST,
    MALFORMED,
    TIMEOUT,
    exception_kind,
)
from drivers.modbus.rtu_bus import BusLine, RtuBus, acquire_bus, release_bus
from drivers.modbus.rtu_frame import FrameError, decode_bits, decode_registers, request_frame


@dataclass(slots=True)
class RtuReply:
    """A decoded reply: ``registers`` for FC3/4/6 (first register), ``bits`` for FC1/2."""

    function_code: int
    registers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint16))
    bits: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


class RtuUnitClient:
    """Requests to one unit id over a shared :class:`~drivers.modbus.rtu_bus.RtuBus`."""

    def __init__(
        self, line: BusLine, unit: int, timeout: float, probe: tuple[int, int, int] | None
    ) -> None:
        self.line, self.unit, self.timeout = line, unit, timeout
        self.endpoint = line.key
        self.rtt_ms = 0.0
        #: (function code, start, count) read at connect to prove the unit answers, or None
        self.probe = probe
        #: the device's counters: probes count as requests (and timeouts) too
        self.diag: DeviceDiagnostics | None = None
        self._bus: RtuBus | None = None

    @property
    def connected(self) -> bool:
        """True while this unit holds an open bus."""
        return self._bus is not None and self._bus.is_open

    async def connect(self) -> str:
        """Open the shared bus and probe the unit; '' when it answers, else why not."""
        if self._bus is None:
            self._bus = acquire_bus(self.line)
        reason = await self._bus.open(self.timeout)
        if reason or self.probe is None:
            return reason
        fc, start, count = self.probe
        _, kind, reason = await self.call(fc, start, count)
        if self.diag is not None:
            self.diag.requests += 1
            self.diag.timeouts += kind == TIMEOUT
        return "" if kind in ("", EXCEPTION) else reason

    def close(self) -> None:
        """Let go of the bus (the last unit on it closes it). Idempotent."""
        bus, self._bus = self._bus, None
        if bus is not None:
            release_bus(bus)

    async def call(self, fc: int, start: int, value: Any) -> tuple[Any, str, str]:
        """One request; (RtuReply, failure kind or '', reason). Reads pass the count."""
        bus = self._bus
        if bus is None or not bus.is_open:
            return None, LOST, f"bus {self.endpoint} not open"
        try:
            frame = request_frame(self.unit, fc, start, value)
        except (ValueError, TypeError) as exc:
            return None, MALFORMED, f"cannot build the request: {exc}"
        t0 = time.perf_counter()
        pdu, kind, reason = await bus.transact(self.unit, frame, fc, self.timeout)
        if kind or pdu is None:
            return None, kind, reason
        self.rtt_ms = (time.perf_counter() - t0) * 1000.0
        if pdu[0] & 0x80:
            code = pdu[1] if len(pdu) > 1 else 0
            name = EXCEPTION_NAMES.get(code, "unknown")
            reason = f"Modbus exception {code} ({name}) from unit {self.unit}"
            return None, exception_kind(code), reason
        try:
            if fc in (3, 4):
                return RtuReply(fc, registers=decode_registers(pdu)), "", ""
            if fc in (1, 2):
                return RtuReply(fc, bits=decode_bits(pdu)), "", ""
        except FrameError as exc:
            return None, MALFORMED, f"broken frame from unit {self.unit}: {exc}"
        return RtuReply(fc), "", ""
