"""IEC 60870-5-104 point addresses: ``TYPE:IOA``, parsed into a checked, typed object.

``TYPE`` is the ASDU type identifier as IEC 60870-5-101/104 names it, ``IOA`` the
information object address (0..16777215, decimal; a field engineer's IOA plan may also
write it as three octets ``a.b.c``, most significant first). Examples::

    M_ME_NC_1:4001     short float measured value          -> float
    M_ME_TF_1:4002     short float with CP56Time2a         -> float
    M_ME_NB_1:4101     scaled value (-32768..32767)        -> int
    M_ME_NA_1:4201     normalized value (-1..+1)           -> float
    M_SP_NA_1:1001     single point (0 off / 1 on)         -> bool
    M_DP_NA_1:1101     double point (1 off / 2 on; 0 intermediate, 3 indeterminate) -> int
    M_IT_NA_1:5001     integrated totals (counter)         -> int
    C_SC_NA_1:2001     single command (write-only tag)     -> bool
    C_DC_NA_1:2101     double command (1 off / 2 on)       -> int
    C_SE_NC_1:6001     set-point, short float              -> float

A tag whose address is a monitored point (``M_...``) may name its command point in its
options: ``command: C_SE_NC_1:6001`` (the write goes there, the read-back comes from the
monitored point), ``select: true`` for select-before-operate and ``pulse`` (``none``,
``short``, ``long``, ``persistent``) for the qualifier of a single/double command.

This module imports nothing but the standard library, so that a config check validates
addresses without importing c104.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_IOA = 16_777_215

#: monitored types -> (tag value type, family, has CP56Time2a)
MONITOR_TYPES: dict[str, tuple[str, str, bool]] = {
    "M_SP_NA_1": ("bool", "single", False),
    "M_SP_TB_1": ("bool", "single", True),
    "M_DP_NA_1": ("int", "double", False),
    "M_DP_TB_1": ("int", "double", True),
    "M_ST_NA_1": ("int", "step", False),
    "M_ST_TB_1": ("int", "step", True),
    "M_BO_NA_1": ("int", "bitstring", False),
    "M_BO_TB_1": ("int", "bitstring", True),
    "M_ME_NA_1": ("float", "normalized", False),
    "M_ME_TD_1": ("float", "normalized", True),
    "M_ME_ND_1": ("float", "normalized", False),
    "M_ME_NB_1": ("int", "scaled", False),
    "M_ME_TE_1": ("int", "scaled", True),
    "M_ME_NC_1": ("float", "float", False),
    "M_ME_TF_1": ("float", "float", True),
    "M_IT_NA_1": ("int", "counter", False),
    "M_IT_TB_1": ("int", "counter", True),
}

#: command types -> (tag value type, family, has CP56Time2a)
COMMAND_TYPES: dict[str, tuple[str, str, bool]] = {
    "C_SC_NA_1": ("bool", "single", False),
    "C_SC_TA_1": ("bool", "single", True),
    "C_DC_NA_1": ("int", "double", False),
    "C_DC_TA_1": ("int", "double", True),
    "C_SE_NA_1": ("float", "normalized", False),
    "C_SE_TA_1": ("float", "normalized", True),
    "C_SE_NB_1": ("int", "scaled", False),
    "C_SE_TB_1": ("int", "scaled", True),
    "C_SE_NC_1": ("float", "float", False),
    "C_SE_TC_1": ("float", "float", True),
}

#: which command families may drive which monitored family (a set-point of any kind may
#: be read back from a measured value of any kind)
_COMPATIBLE = {
    "single": ("single",),
    "double": ("double",),
    "normalized": ("normalized", "scaled", "float"),
    "scaled": ("normalized", "scaled", "float"),
    "float": ("normalized", "scaled", "float"),
}

PULSES = ("none", "short", "long", "persistent")
_OPTION_KEYS = ("command", "select", "pulse")


@dataclass(frozen=True, slots=True)
class Iec104Address:
    """A checked IEC 104 point address: ASDU type name and information object address."""

    type: str
    ioa: int

    def __post_init__(self) -> None:
        if self.type not in MONITOR_TYPES and self.type not in COMMAND_TYPES:
            raise ValueError(f"unknown IEC 104 type {self.type!r}")
        if isinstance(self.ioa, bool) or not isinstance(self.ioa, int):
            raise ValueError(f"IOA {self.ioa!r} is not a whole number")
        if not 0 <= self.ioa <= MAX_IOA:
            raise ValueError(f"IOA {self.ioa} is outside 0..{MAX_IOA}")

    @property
    def is_command(self) -> bool:
        """True for a control-direction type (C_...)."""
        return self.type in COMMAND_TYPES

    @property
    def family(self) -> str:
        """single, double, step, bitstring, normalized, scaled, float or counter."""
        return (COMMAND_TYPES.get(self.type) or MONITOR_TYPES[self.type])[1]

    @property
    def timed(self) -> bool:
        """True when the type carries a CP56Time2a time tag."""
        return (COMMAND_TYPES.get(self.type) or MONITOR_TYPES[self.type])[2]

    def __str__(self) -> str:
        """Canonical text (parses back to an equal object)."""
        return f"{self.type}:{self.ioa}"


def _known_types() -> str:
    return ", ".join([*MONITOR_TYPES, *COMMAND_TYPES])


def _parse_ioa(text: str, whole: str) -> int:
    parts = text.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        octets = [int(p) for p in parts]
        if any(o > 255 for o in octets):
            raise ValueError(
                f"IEC 104 address {whole!r}: each octet of IOA {text!r} must be 0..255"
            )
        return octets[0] << 16 | octets[1] << 8 | octets[2]
    if not text.isdigit():
        raise ValueError(
            f"IEC 104 address {whole!r}: IOA {text!r} is not a whole number "
            "(decimal, or three octets like 0.15.161)"
        )
    ioa = int(text)
    if ioa > MAX_IOA:
        raise ValueError(f"IEC 104 address {whole!r}: IOA {ioa} is outside 0..{MAX_IOA}")
    return ioa


def parse_address(text: str) -> Iec104Address:
    """Parse ``TYPE:IOA``; raise ValueError naming what is wrong."""
    if not isinstance(text, str):
        raise ValueError(
            f"an IEC 104 address must be text like 'M_ME_NC_1:4001', not {type(text).__name__}"
        )
    raw = text.strip()
    type_text, sep, ioa_text = raw.partition(":")
    if not sep or not type_text.strip() or not ioa_text.strip():
        raise ValueError(
            f"IEC 104 address {text!r} must look like TYPE:IOA, e.g. M_ME_NC_1:4001 or M_SP_NA_1:1001"
        )
    kind = type_text.strip().upper()
    if kind not in MONITOR_TYPES and kind not in COMMAND_TYPES:
        hint = ""
        if kind.startswith("M_") and kind.endswith("_TA_1"):
            hint = " (CP24Time2a types are not used on IEC 104: use the _TB_1/_TD_1.._TF_1 type)"
        raise ValueError(
            f"IEC 104 address {text!r}: unknown or unsupported type {type_text.strip()!r}{hint}; "
            f"use one of {_known_types()}"
        )
    return Iec104Address(kind, _parse_ioa(ioa_text.strip(), text))


def value_type(addr: Iec104Address) -> str:
    """The tag data type a point yields: 'float', 'int' or 'bool'."""
    return (COMMAND_TYPES.get(addr.type) or MONITOR_TYPES[addr.type])[0]


def command_of(addr: Iec104Address, options: Mapping[str, Any]) -> Iec104Address | None:
    """The command point a tag writes: its own address when that is a command, else the
    ``command`` option (None for a read-only monitored point). Options must be valid."""
    if addr.is_command:
        return addr
    text = options.get("command")
    return parse_address(str(text)) if text else None


def options_problems(options: Mapping[str, Any]) -> list[str]:
    """Messages for bad per-tag options (``command``, ``select``, ``pulse``)."""
    out: list[str] = []
    for key in options:
        if key not in _OPTION_KEYS:
            out.append(f"unknown IEC 104 option {key!r} (known: {', '.join(_OPTION_KEYS)})")
    cmd = options.get("command")
    if cmd is not None:
        try:
            a = parse_address(str(cmd)) if isinstance(cmd, str) else parse_address(cmd)
        except ValueError as exc:
            out.append(f"command: {exc}")
        else:
            if not a.is_command:
                out.append(
                    f"command: {cmd!r} is a monitored type; a command point is C_SC_NA_1, "
                    "C_DC_NA_1 or C_SE_N?_1"
                )
    if "select" in options and not isinstance(options["select"], bool):
        out.append(f"select: {options['select']!r} must be true or false")
    pulse = options.get("pulse")
    if pulse is not None and pulse not in PULSES:
        out.append(f"pulse: {pulse!r} must be one of {', '.join(PULSES)}")
    return out


def command_problem(addr: Iec104Address, options: Mapping[str, Any]) -> str | None:
    """Why a tag's command option cannot drive its monitored point (None when it can)."""
    cmd = command_of(addr, options) if not options_problems(options) else None
    if cmd is None or addr.is_command:
        if addr.is_command and options.get("command"):
            return f"{addr} is itself a command point: it takes no 'command' option"
        return None
    if addr.family not in _COMPATIBLE.get(cmd.family, ()):
        return (
            f"command {cmd} ({cmd.family}) cannot be read back from {addr} ({addr.family}): "
            "pair C_SC with M_SP, C_DC with M_DP and set-points with measured values"
        )
    return None


def device_problems(points: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[tuple[int, str]]:
    """Problems across one device's tags: (position in ``points``, message).

    ``points`` are (tag name, address, options) in config order. An IOA serves one point
    only: a second tag on the same IOA (as its address or as its command point) is a
    configuration error, since an RTU reports one type per IOA of a common address.
    """
    out: list[tuple[int, str]] = []
    seen: dict[int, tuple[int, str]] = {}
    for pos, (name, text, options) in enumerate(points):
        try:
            addr = parse_address(text)
        except ValueError:
            continue  # reported by the address check
        problem = command_problem(addr, options)
        if problem:
            out.append((pos, problem))
        used = [addr]
        if not addr.is_command and not options_problems(options):
            cmd = command_of(addr, options)
            if cmd is not None:
                used.append(cmd)
        for a in used:
            first = seen.get(a.ioa)
            if first is None:
                seen[a.ioa] = (pos, f"{a} of tag {name}")
            elif first[0] != pos:
                out.append((pos, f"duplicate IOA {a.ioa} ({a}): already used by {first[1]}"))
            else:
                out.append(
                    (pos, f"duplicate IOA {a.ioa}: the command uses the IOA of the tag itself")
                )
    return out
