"""One RTU bus: one open serial port (or one TCP socket to a serial server), one request at a time.

Every unit (device) configured on the same serial port, or the same serial server
host:port, shares one :class:`RtuBus` on the acquisition loop (:func:`acquire_bus`,
:func:`release_bus`; the last unit to leave closes the port). :meth:`RtuBus.transact`
holds the bus for one request and its reply, so the units are polled in turn in the
order they asked (``asyncio.Lock`` is first come, first served): a silent unit costs the
others its response timeout per request, never more.

Before each request the bus keeps the line silent for the inter-frame gap (t3.5 on a
serial line) counted from the last byte sent or received, and discards stray bytes (a
late reply to a request that timed out). The reply is complete when its length, known
from its first bytes, has arrived; then CRC, unit id and function code are checked
(:mod:`drivers.modbus.rtu_frame`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass

from drivers.modbus.rtu_frame import FrameError, check_reply, reply_length

log = logging.getLogger(__name__)

# Failure kinds, the same as drivers.modbus.client's ("" = success).
TIMEOUT, MALFORMED, LOST = "timeout", "malformed", "lost"
#: a reply longer than this is noise on the line (the longest RTU frame is 256 bytes)
_MAX_FRAME = 256


@dataclass(frozen=True, slots=True)
class BusLine:
    """How to open a bus: a serial port with its settings, or a serial server's host:port."""

    key: str  # serial port path or "host:port"
    serial_port: str = ""
    baudrate: int = 9600
    parity: str = "E"
    data_bits: int = 8
    stop_bits: int = 1
    host: str = ""
    port: int = 0
    gap: float = 0.0  # seconds of silence before each request
    char_time: float = 0.0  # seconds per character on the wire (0: TCP, not paced)

    @property
    def is_serial(self) -> bool:
        """True for a serial port, False for RTU over TCP."""
        return bool(self.serial_port)


class _BusProtocol(asyncio.Protocol):
    def __init__(self, bus: RtuBus) -> None:
        self.bus = bus

    def data_received(self, data: bytes) -> None:
        self.bus._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.bus._on_lost(exc)


class RtuBus:
    """The shared connection of the units on one bus (see the module docstring)."""

    def __init__(self, line: BusLine) -> None:
        self.line = line
        self.users = 0
        self.lost_reason = ""
        self._transport: asyncio.BaseTransport | None = None
        self._lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        self._rx = bytearray()
        self._data = asyncio.Event()
        self._last = 0.0  # loop time of the last byte on the line (sent or received)

    @property
    def is_open(self) -> bool:
        """True while the port/socket is open."""
        return self._transport is not None

    # ------------------------------------------------------------------ open / close
    async def open(self, timeout: float) -> str:
        """Open the port (once for all units); '' when open, else the reason."""
        async with self._open_lock:
            if self._transport is not None:
                return ""
            line = self.line
            loop = asyncio.get_running_loop()
            try:
                if line.is_serial:
                    transport = await self._open_serial(loop)
                else:
                    transport, _ = await asyncio.wait_for(
                        loop.create_connection(lambda: _BusProtocol(self), line.host, line.port),
                        timeout,
                    )
            except ConnectionRefusedError:
                return f"connection refused {line.key}"
            except TimeoutError:
                return f"connect timeout after {timeout:g} s to {line.key}"
            except OSError as exc:
                return f"cannot open {line.key}: {exc.strerror or exc}"
            except Exception as exc:  # noqa: BLE001 - pyserial's SerialException and kin
                return f"cannot open {line.key}: {exc}"
            self._transport = transport
            self._rx.clear()
            self._last = loop.time()
            self.lost_reason = ""
            log.info("bus %s open (%s)", line.key, self.settings())
            return ""

    async def _open_serial(self, loop: asyncio.AbstractEventLoop) -> asyncio.BaseTransport:
        from pymodbus.transport.serialtransport import create_serial_connection

        line = self.line
        # A pseudo-terminal (the simulator's bus, socat) has no line: Linux refuses parity on
        # it. The configured settings still set the bus timing.
        pty = os.path.realpath(line.serial_port).startswith(("/dev/pts/", "/dev/pty"))
        transport, _ = await create_serial_connection(
            loop,
            lambda: _BusProtocol(self),
            line.serial_port,
            baudrate=line.baudrate,
            bytesize=line.data_bits,
            parity="N" if pty else line.parity,
            stopbits=line.stop_bits,
            timeout=0,
        )
        await asyncio.sleep(0)  # the transport starts reading on the next loop turn
        return transport

    def settings(self) -> str:
        """``9600 8E1`` for a serial line, ``RTU over TCP`` for a serial server."""
        line = self.line
        if not line.is_serial:
            return "RTU over TCP"
        return f"{line.baudrate} {line.data_bits}{line.parity}{line.stop_bits}"

    def close(self) -> None:
        """Close the port/socket (idempotent)."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
            log.info("bus %s closed", self.line.key)

    def _on_data(self, data: bytes) -> None:
        self._rx += data
        self._last = asyncio.get_running_loop().time()
        self._data.set()

    def _on_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return
        self.lost_reason = f"{self.line.key} closed" + (f" ({exc})" if exc else "")
        self._transport = None
        self._data.set()
        log.warning("bus %s lost: %s", self.line.key, self.lost_reason)

    # ------------------------------------------------------------------ one request
    def wire_time(self, nbytes: int) -> float:
        """Seconds ``nbytes`` take on the wire (0 over TCP)."""
        return nbytes * self.line.char_time

    async def transact(
        self, unit: int, frame: bytes, fc: int, timeout: float
    ) -> tuple[bytes | None, str, str]:
        """Send one request frame and wait for its reply: (reply PDU, failure kind, reason).

        The response timeout runs from the end of the request on the wire.
        """
        async with self._lock:
            loop = asyncio.get_running_loop()
            transport = self._transport
            if transport is None:
                return None, LOST, f"bus {self.lost_reason or self.line.key + ' not open'}"
            wait = self._last + self.line.gap - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._rx.clear()
            self._data.clear()
            transport.write(frame)  # type: ignore[attr-defined]
            sent = loop.time() + self.wire_time(len(frame))
            self._last = sent
            deadline = sent + timeout
            buf = self._rx
            while True:
                need = reply_length(buf)
                if need is not None and (len(buf) >= need > 0 or len(buf) > _MAX_FRAME):
                    break
                left = deadline - loop.time()
                if self._transport is None:
                    return None, LOST, f"bus {self.lost_reason}"
                if left <= 0:
                    return None, *self._timed_out(unit, need, timeout)
                self._data.clear()
                try:
                    await asyncio.wait_for(self._data.wait(), left)
                except TimeoutError:
                    pass
            reply = bytes(buf[:need]) if need else bytes(buf)
            try:
                return check_reply(reply, unit, fc), "", ""
            except FrameError as exc:
                return None, MALFORMED, str(exc)

    def _timed_out(self, unit: int, need: int | None, timeout: float) -> tuple[str, str]:
        got = len(self._rx)
        if not got:
            return TIMEOUT, f"timeout after {timeout:g} s (unit {unit} does not answer)"
        if need == 0:
            fc = self._rx[1]
            return MALFORMED, f"broken frame from unit {unit}: unknown function code {fc}"
        want = f" of {need}" if need else ""
        return MALFORMED, f"truncated frame: {got}{want} bytes from unit {unit}"


#: (event loop, bus key) -> bus; the units of one loop share their buses
_BUSES: dict[tuple[int, str], RtuBus] = {}


def acquire_bus(line: BusLine) -> RtuBus:
    """The bus for ``line`` on the running loop (created on first use); count one more user."""
    key = (id(asyncio.get_running_loop()), line.key)
    bus = _BUSES.get(key)
    if bus is None:
        bus = _BUSES[key] = RtuBus(line)
    elif bus.line != line:
        log.warning(
            "bus %s: a unit asks for other line settings; the bus keeps %s",
            line.key,
            bus.settings(),
        )
    bus.users += 1
    return bus


def release_bus(bus: RtuBus) -> None:
    """One user fewer; the last one closes the bus."""
    bus.users -= 1
    if bus.users > 0:
        return
    bus.close()
    for key, other in list(_BUSES.items()):
        if other is bus:
            del _BUSES[key]
