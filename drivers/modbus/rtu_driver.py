"""Modbus RTU drivers: ``modbus_rtu`` on a serial port, ``modbus_rtu_over_tcp`` via a serial server.

The same address convention, planner, codec and device state machine as Modbus TCP
(:class:`drivers.modbus.driver.ModbusDriver`); only the connection differs. Each device
is one unit id; the devices on one serial port (or one serial server host:port) share
that bus and are polled in turn, one request at a time (:mod:`drivers.modbus.rtu_bus`).
Each unit keeps its own response timeout, retries, backoff and degradation: a silent
unit costs the bus one response timeout per attempt and then waits out its backoff,
so the other units keep their poll periods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from drivers.base import PointSpec, Sink, StateListener
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.link import ModbusLink
from drivers.modbus.params import ModbusRtuOverTcpParams, ModbusRtuParams, RtuParams
from drivers.modbus.rtu_bus import BusLine
from drivers.modbus.rtu_client import RtuUnitClient


def bus_line(params: RtuParams) -> BusLine:
    """How to open the bus of a unit with ``params``."""
    if isinstance(params, ModbusRtuParams):
        return BusLine(
            key=params.bus,
            serial_port=params.serial_port,
            baudrate=params.baudrate,
            parity=params.parity,
            data_bits=params.data_bits,
            stop_bits=params.stop_bits,
            gap=params.gap_seconds,
            char_time=params.char_bits / params.baudrate,
        )
    return BusLine(key=params.bus, host=params.host, port=params.port, gap=params.gap_seconds)


class ModbusRtuDriver(ModbusDriver):
    """Polls one unit on an RS-485 line (see the module docstring)."""

    kind = "modbus_rtu"
    params_model: ClassVar[type[RtuParams]] = ModbusRtuParams

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Sink,
        on_state: StateListener | None = None,
    ) -> None:
        super().__init__(device_id, params, points, sink, on_state)
        client = self._client
        assert isinstance(client, RtuUnitClient)
        first = next((g.blocks[0].block for g in self._groups if g.blocks), None)
        if first is not None:  # a unit proves it answers with its first read
            client.probe = (first.function_code, first.start, first.count)
        client.diag = self.diag
        self.diag.endpoint = f"{client.endpoint} unit {client.unit}"

    def _make_client(self, p: Mapping[str, Any]) -> ModbusLink:
        fields = self.params_model.model_fields
        rtu = self.params_model.model_validate({k: v for k, v in p.items() if k in fields})
        return RtuUnitClient(bus_line(rtu), rtu.unit_id, float(p["timeout"]), None)

    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Problems of the device parameters, each naming its key."""
        fields = cls.params_model.model_fields
        problems = [
            msg
            for msg in super().validate_params({**params, "host": "-", "port": 1})
            if msg.split(":")[0] not in ("unit_id", "host", "port")
        ]
        try:
            cls.params_model.model_validate({k: v for k, v in params.items() if k in fields})
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"])
                msg = str(err["msg"]).removeprefix("Value error, ")
                problems.append(f"{key}: {msg}")
        return problems


class ModbusRtuOverTcpDriver(ModbusRtuDriver):
    """Polls one unit behind a serial server / DTU that carries raw RTU frames over TCP."""

    kind = "modbus_rtu_over_tcp"
    params_model = ModbusRtuOverTcpParams
