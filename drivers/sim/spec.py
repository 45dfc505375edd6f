"""Plain specs the simulator runs from (no dependency on the station-config schema).

``hmi/cli/simulate.py`` turns a loaded station config into these objects; tests and
benchmarks may build them by hand. Engineering values relate to raw device values
as ``eng = raw * gain + offset`` (the tag table's convention), so the simulator
serves ``raw = (eng - offset) / gain``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: kinds of generic signal a point may use instead of a model variable
SIGNAL_KINDS = ("sine", "noise", "ramp", "step", "const")


@dataclass(frozen=True, slots=True)
class SimDeviceSpec:
    """One simulated device: where it listens and its protocol parameters."""

    id: str
    protocol: str
    host: str = "127.0.0.1"
    port: int = 502
    unit_id: int = 1
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        """Human-readable endpoint, e.g. ``modbus_tcp://127.0.0.1:15020 unit 1``."""
        if self.protocol == "modbus_tcp":
            return f"modbus_tcp://{self.host}:{self.port} unit {self.unit_id}"
        if self.protocol == "modbus_rtu":
            return f"modbus_rtu://{self.params.get('serial_port')} unit {self.unit_id}"
        if self.protocol == "modbus_rtu_over_tcp":
            return f"rtu_over_tcp://{self.host}:{self.port} unit {self.unit_id}"
        return str(self.params.get("endpoint") or f"{self.protocol}://{self.host}:{self.port}")


@dataclass(frozen=True, slots=True)
class SimPointSpec:
    """One served value.

    ``source`` is a model variable name (``"reg1.outlet.pressure"``), a generic
    signal (``{"signal": "sine", "base": 50, "amp": 10, "period": 60, "seed": 3, "noise": 0.5}``)
    or None (a plain memory cell: zero until written).
    """

    name: str
    device: str
    address: str
    source: str | Mapping[str, Any] | None = None
    gain: float = 1.0
    offset: float = 0.0
    type: str | None = None
    writable: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)  # the tag's protocol options

    def to_raw(self, eng: float) -> float:
        """Engineering value -> raw device value."""
        return (eng - self.offset) / self.gain if self.gain else eng - self.offset

    def to_eng(self, raw: float) -> float:
        """Raw device value -> engineering value."""
        return raw * self.gain + self.offset


def check_signal(source: Mapping[str, Any]) -> str | None:
    """Return an error message for a malformed generic-signal source, None when valid."""
    kind = source.get("signal")
    if kind not in SIGNAL_KINDS:
        return f"sim.signal must be one of {', '.join(SIGNAL_KINDS)} (got {kind!r})"
    unknown = set(source) - {"signal", "base", "amp", "period", "seed", "phase", "noise"}
    if unknown:
        return f"sim: unknown key(s) {', '.join(sorted(map(str, unknown)))}"
    for key in ("base", "amp", "period", "seed", "phase", "noise"):
        if key in source and not isinstance(source[key], int | float):
            return f"sim.{key} must be a number"
    if kind in ("sine", "ramp", "step") and float(source.get("period", 60.0)) <= 0:
        return "sim.period must be > 0"
    return None
