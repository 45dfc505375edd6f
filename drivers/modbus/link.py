"""What the Modbus driver's state machine needs of a connection, whatever carries the frames.

:class:`drivers.modbus.client.ModbusClient` (Modbus TCP) and
:class:`drivers.modbus.rtu_client.RtuUnitClient` (RTU on a serial bus or over TCP) both
provide it.
"""

from __future__ import annotations

from typing import Any, Protocol


class ModbusLink(Protocol):
    """One unit's connection: connect, one request at a time, close."""

    endpoint: str
    rtt_ms: float

    @property
    def connected(self) -> bool:
        """True while requests can be sent."""
        ...

    async def connect(self) -> str:
        """Open; '' on success, else the reason."""
        ...

    def close(self) -> None:
        """Close (idempotent)."""
        ...

    async def call(self, fc: int, start: int, value: Any) -> tuple[Any, str, str]:
        """One request: (reply, failure kind or '', reason)."""
        ...
