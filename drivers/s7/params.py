"""Device parameters of a Siemens S7 PLC (defaults, ranges, checks), defined once.

The station-config schema's ``S7Device`` reuses this model; the driver reads the same
keys. Imports only pydantic, never python-snap7.

A connection is addressed either by rack and slot (the usual case: the driver derives
the remote TSAP as ``connection_type << 8 | rack << 5 | slot``) or by explicit TSAPs
(``local_tsap`` and ``remote_tsap`` as 4-digit hex such as ``"0100"`` / ``"0301"``, for
LOGO!, CPs and S7-200 Smart, which want fixed TSAPs).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_TSAP_RE = re.compile(r"^[0-9A-Fa-f]{4}$")
#: connection type -> first TSAP byte (PG, OP, S7 basic)
CONNECTION_TYPES: dict[str, int] = {"pg": 1, "op": 2, "basic": 3}


class S7Params(BaseModel):
    """How to reach one S7 CPU and how to plan its reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="IP address or host name of the CPU (or its CP)")
    port: int = Field(102, ge=1, le=65535, description="ISO-on-TCP port; 102 on every PLC")
    rack: int = Field(0, ge=0, le=7, description="rack of the CPU (0 on S7-1200/1500)")
    slot: int = Field(
        1, ge=0, le=31, description="slot of the CPU: S7-300 2, S7-400 as configured, 1200/1500 1"
    )
    connection_type: Literal["pg", "op", "basic"] = Field(
        "pg", description="connection resource: pg (programming device), op (HMI), basic"
    )
    local_tsap: str = Field("", description="explicit local TSAP, 4 hex digits (e.g. 0100)")
    remote_tsap: str = Field("", description="explicit remote TSAP, 4 hex digits (e.g. 0301)")
    pdu_size: int = Field(
        480, ge=240, le=960, description="PDU size requested at connect; the CPU may grant less"
    )
    max_items: int = Field(20, ge=1, le=20, description="variables per read request (S7: 20)")
    max_gap_bytes: int = Field(
        16, ge=0, le=200, description="unused bytes read across to merge two values into one item"
    )

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("host is empty: give the CPU's IP address")
        return v.strip()

    @field_validator("local_tsap", "remote_tsap")
    @classmethod
    def _tsap(cls, v: str) -> str:
        if v and not _TSAP_RE.match(v):
            raise ValueError(f"TSAP {v!r} must be 4 hex digits, e.g. 0100 or 0301")
        return v.upper()

    @model_validator(mode="after")
    def _tsaps_together(self) -> S7Params:
        if bool(self.local_tsap) != bool(self.remote_tsap):
            raise ValueError(
                "local_tsap and remote_tsap go together: set both (or neither and use rack/slot)"
            )
        return self

    def tsaps(self) -> tuple[int, int]:
        """(local, remote) TSAP: the explicit ones, else derived from rack, slot and type."""
        if self.remote_tsap:
            return int(self.local_tsap, 16), int(self.remote_tsap, 16)
        kind = CONNECTION_TYPES[self.connection_type]
        return 0x0100, (kind << 8) | (self.rack << 5) | self.slot
