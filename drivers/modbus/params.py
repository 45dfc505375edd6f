"""Device parameters of the Modbus drivers (TCP, RTU, RTU over TCP), defined once (pydantic
only, no pymodbus).

``hmi.config.schema`` builds its device classes from these models, the drivers read
the same defaults and ranges, and :func:`bus_conflicts` checks the devices that share
one bus (one serial port, or one serial server's host:port) against each other.

Timing follows the Modbus over Serial Line specification V1.02, section 2.5.1.1: a
character is 11 bits (start, 8 data, parity or second stop bit, stop), frames are
separated by at least 3.5 character times (t3.5), fixed at 1.75 ms above 19200 baud.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drivers.params import LinkParams

#: Baud rates a Modbus RTU line runs at (the range 1200-115200 the driver supports).
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
#: Bits of one RTU character as the specification counts them for t3.5.
SPEC_CHAR_BITS = 11


class ModbusTcpParams(LinkParams):
    """Where a Modbus TCP device is and how big its block reads may be."""

    host: str = "127.0.0.1"
    port: int = Field(502, ge=1, le=65535)
    unit_id: int = Field(1, ge=0, le=255)
    max_registers: int = Field(125, ge=1, le=125, description="registers per read request")
    max_bits: int = Field(2000, ge=1, le=2000, description="coils/inputs per read request")
    max_gap_registers: int = Field(10, ge=0, le=124)
    max_gap_bits: int = Field(64, ge=0, le=1999)
    zero_based: bool = True  # False: offsets in the config count from 1

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty: give the device's host name or IP address")
        return v


def t35_seconds(baudrate: int) -> float:
    """The spec's inter-frame silence t3.5 at ``baudrate``: 3.5 characters, 1.75 ms above 19200."""
    if baudrate > 19200:
        return 0.00175
    return 3.5 * SPEC_CHAR_BITS / baudrate


class RtuUnitParams(BaseModel):
    """What every RTU unit has, on a serial line or behind a serial server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_id: int = Field(1, ge=1, le=247, description="slave address on the bus (1-247)")
    max_registers: int = Field(125, ge=1, le=125, description="registers per read request")
    max_bits: int = Field(2000, ge=1, le=2000, description="coils/inputs per read request")
    max_gap_registers: int = Field(10, ge=0, le=124)
    max_gap_bits: int = Field(64, ge=0, le=1999)
    zero_based: bool = True
    inter_frame: float | None = Field(
        None,
        ge=0,
        le=1000,
        description="ms of silence before each request; empty = t3.5 of the baud rate",
    )


class ModbusRtuParams(RtuUnitParams):
    """A unit on an RS-485 (or RS-232) line: ``serial_port`` and the line's settings.

    Every unit on one ``serial_port`` must use the same baud rate, parity, data and stop
    bits (one line, one setting); the units are polled in turn over one open port.
    """

    serial_port: str = Field(description="e.g. /dev/ttyUSB0, COM3, /tmp/gas-hmi-rs485-1")
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "E"
    data_bits: int = 8
    stop_bits: Literal[1, 2] = 1

    @field_validator("serial_port")
    @classmethod
    def _port(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("serial_port is empty (give the port, e.g. /dev/ttyUSB0 or COM3)")
        return v

    @field_validator("baudrate")
    @classmethod
    def _baud(cls, v: int) -> int:
        if v not in BAUD_RATES:
            rates = ", ".join(str(b) for b in BAUD_RATES)
            raise ValueError(f"baud rate {v} is not supported (use one of {rates})")
        return v

    @field_validator("data_bits")
    @classmethod
    def _data_bits(cls, v: int) -> int:
        if v != 8:
            raise ValueError(f"data_bits {v}: Modbus RTU frames use 8 data bits (7 is ASCII mode)")
        return v

    @property
    def char_bits(self) -> int:
        """Bits on the wire per character: start + data + parity + stop."""
        return 1 + self.data_bits + (self.parity != "N") + self.stop_bits

    @property
    def bus(self) -> str:
        """The key of the bus this unit is on (its serial port)."""
        return self.serial_port

    @property
    def gap_seconds(self) -> float:
        """Silence before each request: ``inter_frame`` or the baud rate's t3.5."""
        return t35_seconds(self.baudrate) if self.inter_frame is None else self.inter_frame / 1e3

    def line_settings(self) -> str:
        """The line's settings as a field engineer writes them, e.g. ``9600 8E1``."""
        return f"{self.baudrate} {self.data_bits}{self.parity}{self.stop_bits}"


class ModbusRtuOverTcpParams(RtuUnitParams):
    """A unit behind a serial server or 4G DTU in transparent mode: raw RTU frames over TCP."""

    host: str
    port: int = Field(502, ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("host is empty (give the serial server's address)")
        return v

    @property
    def bus(self) -> str:
        """The key of the bus this unit is on (the serial server's host:port)."""
        return f"{self.host}:{self.port}"

    @property
    def gap_seconds(self) -> float:
        """Silence before each request: ``inter_frame`` (none by default: the server paces)."""
        return 0.0 if self.inter_frame is None else self.inter_frame / 1e3


RtuParams = ModbusRtuParams | ModbusRtuOverTcpParams
_LINE_KEYS = ("baudrate", "parity", "data_bits", "stop_bits", "inter_frame")


def bus_conflicts(units: Sequence[tuple[str, RtuParams]]) -> list[tuple[int, str, str]]:
    """Problems of units sharing a bus: (position in ``units``, key, message).

    ``units`` are (device id, params) of every enabled RTU device. Two units on one bus
    with the same unit id, or a serial line configured two ways, are errors.
    """
    out: list[tuple[int, str, str]] = []
    first: dict[str, tuple[str, RtuParams]] = {}
    ids: dict[tuple[str, int], str] = {}
    for pos, (dev_id, p) in enumerate(units):
        bus = p.bus
        kind = "serial port" if isinstance(p, ModbusRtuParams) else "serial server"
        other = ids.get((bus, p.unit_id))
        if other is not None:
            out.append(
                (
                    pos,
                    "unit_id",
                    f"unit id {p.unit_id} is already used by device {other!r} on {kind} {bus}",
                )
            )
        ids.setdefault((bus, p.unit_id), dev_id)
        ref = first.setdefault(bus, (dev_id, p))
        if ref[1] is p or type(ref[1]) is not type(p):
            continue
        for key in _LINE_KEYS if isinstance(p, ModbusRtuParams) else ("inter_frame",):
            mine, theirs = getattr(p, key), getattr(ref[1], key)
            if mine != theirs:
                out.append(
                    (
                        pos,
                        key,
                        f"{key} {mine} differs from {theirs} of device {ref[0]!r} on the same {kind} {bus} (one line, one setting)",
                    )
                )
    return out
