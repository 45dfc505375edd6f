"""Checks of the Modbus RTU devices that share a bus (one serial port or serial server).

The rules live with the parameters (:func:`drivers.modbus.params.bus_conflicts`); this
module maps them to config paths for the loader's ``file:line: key: message``.
"""

from __future__ import annotations

from typing import Any

from drivers.modbus.params import ModbusRtuOverTcpParams, ModbusRtuParams, RtuParams, bus_conflicts
from hmi.config.schema import StationConfig


def bus_problems(cfg: StationConfig) -> list[tuple[tuple[Any, ...], str]]:
    """(config path, message) for units on one bus with clashing unit ids or line settings."""
    units: list[tuple[str, RtuParams]] = []
    where: list[int] = []
    for i, d in enumerate(cfg.devices):
        if d.enabled and isinstance(d, ModbusRtuParams | ModbusRtuOverTcpParams):
            units.append((d.id, d))
            where.append(i)
    return [(("devices", where[pos], key), msg) for pos, key, msg in bus_conflicts(units)]
