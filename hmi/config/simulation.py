"""The ``simulation:`` section: the station figures ``gas-hmi simulate`` builds its model from.

A station config describes its own process (a city gate at 3.85 MPa and 22 000 Sm³/h, a
district regulator station at 0.72 MPa and 3 000 Sm³/h); the simulator's model takes these
numbers instead of carrying one station in code. Every field is optional: an absent one keeps
the model's default (the demo city gate's figure). The regulator runs' set points come from
``protection:``, not from here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SimulationConfig(BaseModel):
    """Process figures of the simulated station (used by ``gas-hmi simulate`` only)."""

    model_config = ConfigDict(extra="forbid")

    #: mean pipeline supply pressure at the inlet, MPa (gauge)
    supply_pressure: float | None = Field(default=None, gt=0.0, le=10.0)
    #: mean send-out, Sm³/h (the daily and weekly load shape is applied to it)
    base_flow: float | None = Field(default=None, gt=0.0, le=1_000_000.0)
    #: metering runs sharing the flow (1: one meter carries the whole station flow)
    meter_runs: int | None = Field(default=None, ge=1, le=2)
    #: false for a station without a gas heater: the regulators see the inlet gas temperature
    heater: bool | None = None
    #: mean ambient temperature, °C
    ambient_mean: float | None = Field(default=None, ge=-40.0, le=45.0)

    def model_params(self) -> dict[str, Any]:
        """The set fields as simulator model parameters."""
        return {k: v for k, v in self.model_dump().items() if v is not None}
