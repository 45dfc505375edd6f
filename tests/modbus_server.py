"""A real pymodbus TCP server on a free loopback port, serving a register image tests can change.

Usage (inside a running event loop)::

    server = ModbusTestServer()
    await server.start()
    server.image.hr[100:102] = encode(parse_address("hr:100:f32"), 12.5)
    ...                                   # a client talks to 127.0.0.1:server.port
    await server.stop()                   # closes the listener and every connection
    await server.start()                  # same port again

The image is plain Python lists (65536 entries per table). ``image.illegal`` holds
(table, offset) pairs answered with exception 2 (illegal data address), ``image.busy``
makes every request answer exception 6, ``image.answer`` any given exception (a gateway's
0x0B). ``image.writes`` records (function code, offset, values) of every write. Only the
datastore is ours: framing, decoding and replies are pymodbus's own server.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.helpers import free_port

_FC_TABLE = {
    1: "co",
    5: "co",
    15: "co",
    2: "di",
    3: "hr",
    6: "hr",
    16: "hr",
    22: "hr",
    23: "hr",
    4: "ir",
}


@dataclass
class RegisterImage:
    """The four Modbus tables of the test device (0-based offsets)."""

    co: list[bool] = field(default_factory=lambda: [False] * 65536)
    di: list[bool] = field(default_factory=lambda: [False] * 65536)
    hr: list[int] = field(default_factory=lambda: [0] * 65536)
    ir: list[int] = field(default_factory=lambda: [0] * 65536)
    illegal: set[tuple[str, int]] = field(default_factory=set)
    busy: bool = False
    answer: ExcCodes | None = None  # every request answers this (e.g. a gateway's 0x0B)
    writes: list[tuple[int, int, list]] = field(default_factory=list)
    reads: int = 0

    def table(self, name: str) -> list:
        """One table by its short name (co, di, hr, ir)."""
        return getattr(self, name)

    # pymodbus datastore interface (what its request handler calls)
    def device_ids(self) -> list[int]:
        """Every unit id is served."""
        return [0]

    def _check(self, fc: int, address: int, count: int) -> ExcCodes | None:
        if self.answer is not None:
            return self.answer
        if self.busy:
            return ExcCodes.DEVICE_BUSY
        name = _FC_TABLE.get(fc)
        if name is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if address + count > 65536 or any(
            (name, a) in self.illegal for a in range(address, address + count)
        ):
            return ExcCodes.ILLEGAL_ADDRESS
        return None

    async def async_getValues(self, device_id: int, func_code: int, address: int, count: int = 1):
        """Values of a read request, or an exception code."""
        if (exc := self._check(func_code, address, count)) is not None:
            return exc
        self.reads += 1
        return list(self.table(_FC_TABLE[func_code])[address : address + count])

    async def async_setValues(self, device_id: int, func_code: int, address: int, values):
        """Apply a write request, or return an exception code."""
        vals = list(values) if isinstance(values, (list, tuple)) else [values]
        if (exc := self._check(func_code, address, len(vals))) is not None:
            return exc
        table = _FC_TABLE[func_code]
        if table not in ("co", "hr"):
            return ExcCodes.ILLEGAL_FUNCTION
        self.table(table)[address : address + len(vals)] = vals
        self.writes.append((func_code, address, vals))
        return None


class ModbusTestServer:
    """Start/stop a pymodbus TCP server on 127.0.0.1 (the same port across restarts)."""

    def __init__(self, port: int | None = None, image: RegisterImage | None = None) -> None:
        self.port = port or free_port()
        self.image = image or RegisterImage()
        self._server: ModbusTcpServer | None = None

    @property
    def running(self) -> bool:
        """True while listening."""
        return self._server is not None

    async def start(self) -> None:
        """Listen on the port (retrying briefly if the previous socket is still closing)."""
        # The SimDevice only satisfies the constructor; the image below serves every request.
        device = SimDevice(id=0, simdata=SimData(0, count=1, datatype=DataType.REGISTERS))
        server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
        server.context = self.image  # type: ignore[assignment]
        for _ in range(50):
            try:
                await server.serve_forever(background=True)
                break
            except RuntimeError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"test Modbus server cannot listen on 127.0.0.1:{self.port}")
        self._server = server

    async def stop(self) -> None:
        """Close the listener and drop every client connection."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(Exception):
                await server.shutdown()
            # let the transports' close callbacks run before the caller goes on
            await asyncio.sleep(0)

    async def __aenter__(self) -> ModbusTestServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
