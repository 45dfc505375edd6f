"""Per-point state of the IEC 104 driver: parsed addresses, command settings, last reading."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.base import PointSpec

from .address import Iec104Address, command_of, command_problem, options_problems, parse_address
from .codec import BAD, READERS, Reading


@dataclass(slots=True)
class Iec104Point:
    """One tag as the IEC 104 driver keeps it across connections."""

    spec: PointSpec
    addr: Iec104Address
    command: Iec104Address | None = None  # where a write goes (None: read-only)
    select: bool = False  # select-before-operate
    pulse: str = "none"  # qualifier of a single/double command
    config_error: str = ""  # BAD on every connection
    reader: Callable[[Any], Reading] | None = None  # None for a command-only tag
    # last reading (the cache that read() and the refresh serve)
    value: float = math.nan
    quality: int = BAD
    reason: str = "not connected yet"
    source_ts: float = 0.0
    received: bool = False  # got a value on this connection
    seen: float = 0.0  # monotonic time of the last reading from the RTU
    timed: bool = False  # the address carries a CP56Time2a time tag (copied for the hot path)

    @property
    def index(self) -> int:
        """Tag index in the runtime's tag table."""
        return self.spec.index

    @property
    def monitored(self) -> bool:
        """True when the RTU reports this point (its address is a monitored type)."""
        return not self.addr.is_command

    @property
    def counter(self) -> bool:
        """True for integrated totals (read by counter interrogation, not by GI)."""
        return self.addr.family == "counter"


def make_point(spec: PointSpec) -> Iec104Point:
    """Build the driver's point from the runtime's spec; problems become a config error."""
    try:
        addr = parse_address(spec.address)
    except ValueError as exc:
        return Iec104Point(spec, Iec104Address("M_SP_NA_1", 0), config_error=f"config error: {exc}")
    opts = dict(spec.options or {})
    problems = options_problems(opts)
    if not problems:
        problem = command_problem(addr, opts)
        if problem:
            problems.append(problem)
    point = Iec104Point(spec, addr, timed=addr.timed)
    if problems:
        point.config_error = "config error: " + "; ".join(problems)
        point.reason = point.config_error
        return point
    point.command = command_of(addr, opts)
    point.select = bool(opts.get("select", False))
    point.pulse = str(opts.get("pulse", "none"))
    if not addr.is_command:
        point.reader = READERS[addr.family]
    return point
