"""Test helper: a real IEC 104 controlled station (c104's server) on a loopback port.

Points are added by address text; :meth:`Iec104TestServer.set` changes a value (with
quality bits and a CP56Time2a time tag) and transmits it spontaneously. Command points
answer as told (``answer``: SUCCESS, FAILURE or NONE to stay silent) and, on a positive
execute, copy the commanded value into their monitored point, which c104 then reports
with cause "return information remote".

c104 checks a callback's parameter names and annotations against the real classes, so
this module does not use postponed annotations.
"""

import time
from typing import Any

import c104

from drivers.iec104.address import parse_address
from drivers.iec104.codec import command_value, monitor_info


class Iec104TestServer:
    """c104.Server with one station; start/stop like a device going on/off the network."""

    def __init__(self, port: int, common_address: int = 47) -> None:
        self.port = port
        self.server = c104.Server(ip="127.0.0.1", port=port, tick_rate_ms=50)
        station = self.server.add_station(common_address=common_address)
        assert station is not None
        self.station = station
        self.points: dict[int, Any] = {}
        self.answer: dict[int, c104.ResponseState] = {}
        self.received: list[tuple[int, float, bool]] = []  # (ioa, value, select)

    def add(self, text: str, value: float = 0.0, bits: int = 0, ts: float | None = None) -> None:
        """A monitored point with its initial value."""
        a = parse_address(text)
        point = self.station.add_point(io_address=a.ioa, type=getattr(c104.Type, a.type))
        assert point is not None, text
        point.info = monitor_info(a, value, bits, ts)
        self.points[a.ioa] = point

    def add_command(self, text: str, related: str | None = None, select: bool = False) -> None:
        """A command point; ``related`` is the monitored point it sets and reports back."""
        a = parse_address(text)
        mode = c104.CommandMode.SELECT_AND_EXECUTE if select else c104.CommandMode.DIRECT
        cp = self.station.add_point(
            io_address=a.ioa, type=getattr(c104.Type, a.type), command_mode=mode
        )
        assert cp is not None, text
        if related is not None:
            cp.related_io_address = parse_address(related).ioa
            cp.related_io_autoreturn = True
        cp.on_receive(callable=self._on_command)
        self.points[a.ioa] = cp

    def set(self, text: str, value: float, bits: int = 0, ts: float | None = None) -> None:
        """Change a monitored value and report it spontaneously."""
        a = parse_address(text)
        point = self.points[a.ioa]
        point.info = monitor_info(a, value, bits, ts)
        point.transmit(cause=c104.Cot.SPONTANEOUS)

    def _on_command(
        self, point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
    ) -> c104.ResponseState:
        cmd = parse_address(f"{point.type.name}:{point.io_address}")
        value = command_value(cmd, point.info)
        self.received.append((point.io_address, value, bool(message.is_select_command)))
        answer = self.answer.get(point.io_address, c104.ResponseState.SUCCESS)
        related = point.related_io_address
        if answer == c104.ResponseState.SUCCESS and not message.is_select_command and related:
            target = self.points[related]
            rel = parse_address(f"{target.type.name}:{related}")
            target.info = monitor_info(rel, value)
        return answer

    def start(self) -> "Iec104TestServer":
        """Listen (and let the server settle: c104's server may leave a connection that
        arrives in its first moments without an answer to STARTDT; the driver copes by
        reconnecting after t1, the tests should not have to wait that long)."""
        self.server.start()
        time.sleep(0.3)
        return self

    def stop(self) -> None:
        """Stop listening and drop the connections."""
        self.server.stop()
