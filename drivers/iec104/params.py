"""Connection parameters of an IEC 60870-5-104 device (the station's telecontrol RTU).

Defined once here; ``hmi.config.schema.Iec104Device`` reuses the model, and the driver
reads the same defaults. Imports only pydantic (never c104), so that a config check
validates a station without the protocol library.

The protocol timers and window sizes keep the names and defaults of IEC 60870-5-104
section 9.6: t0 = 30 s (TCP connect), t1 = 15 s (an I- or U-frame must be acknowledged),
t2 = 10 s (acknowledge received I-frames at the latest; t2 < t1), t3 = 20 s (send a test
frame on an idle link), k = 12 (unacknowledged I-frames we send), w = 8 (acknowledge after
w received I-frames; w <= 2/3 k recommended).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class Iec104Params(BaseModel):
    """What gas-hmi (the controlling station) needs to talk to one IEC 104 controlled station."""

    host: str = Field(default="127.0.0.1", min_length=1, description="RTU address")
    port: int = Field(
        default=2404, ge=1, le=65535, description="RTU TCP port (2404 by the standard)"
    )
    common_address: int = Field(
        default=1, ge=1, le=65534, description="ASDU common address (CA) of the RTU's station"
    )
    originator_address: int = Field(
        default=0,
        ge=0,
        le=255,
        description="our originator address (OA) in the cause of transmission",
    )
    t0: int = Field(default=30, ge=1, le=255, description="s: TCP connection establishment timeout")
    t1: int = Field(
        default=15, ge=1, le=255, description="s: timeout for acknowledgement of a sent APDU"
    )
    t2: int = Field(
        default=10, ge=1, le=255, description="s: acknowledge received APDUs at the latest"
    )
    t3: int = Field(default=20, ge=1, le=172_800, description="s: idle time before a test frame")
    k: int = Field(default=12, ge=1, le=32767, description="unacknowledged sent I-frames at most")
    w: int = Field(
        default=8, ge=1, le=32767, description="acknowledge after this many received I-frames"
    )
    interrogation_at_connect: bool = Field(
        default=True, description="send a general interrogation (C_IC_NA_1) after every connect"
    )
    interrogation_period: float = Field(
        default=0.0,
        ge=0,
        le=86_400,
        description="s between further general interrogations; 0 = none",
    )
    counter_interrogation_period: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="s between counter interrogations (C_CI_NA_1) for integrated totals; "
        "0 = only at connect (sent only when the device has M_IT tags)",
    )
    clock_sync: bool = Field(
        default=False, description="send a clock synchronisation (C_CS_NA_1) after connect"
    )
    time_base: Literal["utc", "local"] = Field(
        default="utc",
        description="what the RTU's CP56Time2a time tags mean: UTC or this PC's local time",
    )

    @model_validator(mode="after")
    def _timers(self) -> Iec104Params:
        if self.t2 >= self.t1:
            raise ValueError(
                f"t2 ({self.t2} s) must be below t1 ({self.t1} s): the receiver must "
                "acknowledge before the sender's timeout"
            )
        if self.w > self.k:
            raise ValueError(
                f"w ({self.w}) must not exceed k ({self.k}): acknowledge before the sender stalls"
            )
        return self


#: parameter defaults, as the driver applies them to a plain dict
DEFAULTS = Iec104Params().model_dump()
