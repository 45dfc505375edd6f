"""One Modbus TCP connection over pymodbus, with every failure as a kind and a plain reason.

Everything pymodbus-specific the driver relies on is wrapped here, once:

* the connect reason (pymodbus only returns a bool and logs the cause);
* an undecodable reply or a dropped connection fails the pending request at once
  (otherwise the protocol object dies, or the request waits for its timeout);
* FC1-4 replies are decoded with numpy instead of one Python call per register/bit;
* pymodbus's per-request complaints are filtered from the log: the driver reports
  problems once, as state changes;
* pymodbus runs with ``retries=0`` and without its own reconnects or no-response
  disconnects, so the driver's counters and state machine are the only ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu.bit_message import ReadCoilsResponse
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

#: Modbus exception codes -> names (Modbus Application Protocol v1.1b3, section 7).
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

# Failure kinds of one request ("" = success).
EXCEPTION, TIMEOUT, MALFORMED, LOST, ERROR = "exception", "timeout", "malformed", "lost", "error"
#: a gateway's exception 10/11: the gateway answers, the unit behind it does not (not talking)
GATEWAY = "gateway"
GATEWAY_CODES = (10, 11)


def exception_kind(code: int) -> str:
    """The failure kind of an exception reply: GATEWAY for 0x0A/0x0B, else EXCEPTION."""
    return GATEWAY if code in GATEWAY_CODES else EXCEPTION


class _MalformedReply(Exception):
    """A reply pymodbus could not decode (raised into the pending request)."""


class _QuietPymodbus(logging.Filter):
    """Drop pymodbus's per-request complaints (the driver reports each problem once)."""

    NOISE = (
        "No response received",
        "Failed to connect",
        "Not connected",
        "without a corresponding request",
        "request ask for",
        "Invalid Modbus protocol id",
        "Unable to decode",
        "CLOSING CONNECTION",
        "Repeating....",
        "Cancel send, because not connected",  # a read in flight when the device or we stop
    )

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the known per-request messages."""
        msg = record.getMessage()
        return not any(n in msg for n in self.NOISE)


_pymodbus_log = logging.getLogger("pymodbus.logging")
if not any(isinstance(f, _QuietPymodbus) for f in _pymodbus_log.filters):
    _pymodbus_log.addFilter(_QuietPymodbus())


class _FastHoldingRegisters(ReadHoldingRegistersResponse):
    """FC3 reply decoded with one numpy call (pymodbus unpacks one register per Python call)."""

    def decode(self, data: bytes) -> None:
        """Registers as a big-endian uint16 array over the reply bytes."""
        if (size := int(data[0])) >= len(data):
            raise ModbusIOException(f"byte count {size} > length of reply {len(data)}")
        self.registers = np.frombuffer(data, dtype=">u2", count=size // 2, offset=1)  # type: ignore[assignment]

    def __str__(self) -> str:
        """Short form: pymodbus formats every reply for a debug message, even when not logging."""
        return f"{type(self).__name__}(registers={len(self.registers)})"


class _FastInputRegisters(_FastHoldingRegisters):
    function_code = 4


class _FastCoils(ReadCoilsResponse):
    """FC1 reply unpacked with numpy (the LSB of the first byte is the first bit)."""

    def decode(self, data: bytes) -> None:
        """Bits as a bool array."""
        raw = np.frombuffer(data, dtype=np.uint8, count=min(int(data[0]), len(data) - 1), offset=1)
        self.bits = np.unpackbits(raw, bitorder="little").view(bool)  # type: ignore[assignment]

    def __str__(self) -> str:
        """Short form (see _FastHoldingRegisters)."""
        return f"{type(self).__name__}(bits={len(self.bits)})"


class _FastDiscreteInputs(_FastCoils):
    function_code = 2


def seconds(t: float) -> str:
    """A duration for messages: "1.0", "0.3", "0.25"."""
    return f"{t:.1f}" if round(t, 1) == t else f"{t:g}"


def _detail(exc: BaseException) -> str:
    """Short text of a pymodbus exception (without its "Modbus Error: [Input/Output]" prefix)."""
    text = str(getattr(exc, "string", "") or exc or type(exc).__name__)
    if text.startswith("[") and "] " in text:  # "[Input/Output] ...", "[Connection] ..."
        text = text.split("] ", 1)[1]
    return "undecodable frame" if text.startswith("Unable to decode") else text


class ModbusClient:
    """One TCP connection to one unit. Create, :meth:`connect`, :meth:`call`, :meth:`close`."""

    def __init__(self, host: str, port: int, unit: int, timeout: float) -> None:
        self.host, self.port, self.unit, self.timeout = host, port, unit, timeout
        self.endpoint = f"{host}:{port}"
        self.rtt_ms = 0.0  # round trip of the last answered request
        self._client: AsyncModbusTcpClient | None = None

    @property
    def connected(self) -> bool:
        """True while the TCP connection is open."""
        return self._client is not None and self._client.connected

    async def connect(self) -> str:
        """Open the connection; '' when connected, else the reason (refused, timeout, DNS...)."""
        self.close()
        client = AsyncModbusTcpClient(
            self.host, port=self.port, timeout=self.timeout, retries=0, reconnect_delay=0
        )
        client.set_max_no_responses(1_000_000)  # the driver decides when to drop the connection
        for reply in (_FastHoldingRegisters, _FastInputRegisters, _FastCoils, _FastDiscreteInputs):
            client.register(reply)
        ctx = client.ctx
        self._client = client
        try:
            create = getattr(ctx, "call_create", None)
            if create is None:  # another pymodbus layout: no reason beyond the bool
                if not await client.connect():
                    raise OSError(f"cannot connect to {self.endpoint}")
            else:  # what client.connect() does, keeping the OSError that says why
                ctx.is_closing = False
                ctx.transport, _ = await asyncio.wait_for(create(), timeout=self.timeout)
        except ConnectionRefusedError:
            reason = f"connection refused {self.endpoint}"
        except TimeoutError:
            reason = f"connect timeout after {seconds(self.timeout)} s to {self.endpoint}"
        except OSError as exc:
            reason = f"cannot connect to {self.endpoint}: {exc.strerror or exc}"
        else:
            self._guard(client)
            return ""
        self.close()
        return reason

    def _guard(self, client: AsyncModbusTcpClient) -> None:
        """Fail the pending request on an undecodable reply or a lost connection, at once."""
        ctx = client.ctx
        on_data, on_lost = ctx.callback_data, ctx.callback_disconnected

        def guarded(data: bytes, addr: tuple[Any, ...] | None = None) -> int:
            try:
                return int(on_data(data, addr=addr))
            except Exception as exc:  # noqa: BLE001 - any decode failure is the device's fault
                if not ctx.response_future.done():
                    ctx.response_future.set_exception(_MalformedReply(_detail(exc)))
                return len(data)

        def disconnected(exc: Exception | None) -> None:
            if not ctx.response_future.done():
                ctx.response_future.set_exception(
                    ConnectionException("connection closed by the device")
                )
            on_lost(exc)

        ctx.callback_data = guarded  # type: ignore[method-assign]
        ctx.callback_disconnected = disconnected  # type: ignore[method-assign]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def call(self, fc: int, start: int, value: Any) -> tuple[Any, str, str]:
        """Send one request; (reply, failure kind or '', reason). Reads pass the count as ``value``.

        Reasons: "timeout after 1.0 s", "connection lost to host:port (...)",
        "Modbus exception 2 (illegal data address)", "malformed reply (...)".
        """
        client = self._client
        if client is None or not client.connected:
            return None, LOST, f"connection lost to {self.endpoint}"
        unit = self.unit
        t0 = time.perf_counter()
        try:
            if fc == 3:
                resp = await client.read_holding_registers(start, count=value, device_id=unit)
            elif fc == 4:
                resp = await client.read_input_registers(start, count=value, device_id=unit)
            elif fc == 1:
                resp = await client.read_coils(start, count=value, device_id=unit)
            elif fc == 2:
                resp = await client.read_discrete_inputs(start, count=value, device_id=unit)
            elif fc == 5:
                resp = await client.write_coil(start, value, device_id=unit)
            elif fc == 6:
                resp = await client.write_register(start, value, device_id=unit)
            else:
                resp = await client.write_registers(start, value, device_id=unit)
        except _MalformedReply as exc:
            return None, MALFORMED, f"malformed reply ({exc})"
        except ModbusIOException as exc:
            if "No response" not in str(exc):
                return None, MALFORMED, f"malformed reply ({_detail(exc)})"
            if client.connected:
                return None, TIMEOUT, f"timeout after {seconds(self.timeout)} s"
            return None, LOST, f"connection lost to {self.endpoint}"
        except (ConnectionException, ConnectionError) as exc:
            return None, LOST, f"connection lost to {self.endpoint} ({_detail(exc)})"
        except Exception as exc:  # noqa: BLE001 - never let one reply kill the device task
            return None, ERROR, f"request failed: {type(exc).__name__}: {exc}"
        self.rtt_ms = (time.perf_counter() - t0) * 1000.0
        fcode = getattr(resp, "function_code", 0)
        if fcode == fc:
            return resp, "", ""
        if fcode == fc | 0x80 or resp.isError():
            code = int(getattr(resp, "exception_code", 0))
            return (
                None,
                exception_kind(code),
                f"Modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})",
            )
        return None, MALFORMED, f"malformed reply (function code {fcode}, expected {fc})"
