"""c104 information objects <-> gas-hmi raw values, qualities and reasons.

Monitored values become floats (single points 0/1, double points their DPI 0..3,
scaled/step/counter values whole numbers). The quality descriptor's bits map to gas-hmi
quality with a reason naming each bit: IV (invalid) makes a value BAD; NT (not topical),
SB (substituted), BL (blocked), OV (overflow) and EI make it UNCERTAIN. A double point
in its intermediate state (0, the device is between positions) is UNCERTAIN, an
indeterminate one (3, position contacts disagree) BAD. Integrated totals carry their own
quality: IV is BAD, CA (adjusted) and CY (carry) UNCERTAIN.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import c104

from drivers.base import Quality

from .address import Iec104Address

GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)

#: quality-descriptor bits (c104's enum values) -> (abbreviation, meaning)
_QDS = (
    (int(c104.Quality.Invalid.value), "IV", "invalid"),
    (int(c104.Quality.NonTopical.value), "NT", "not topical"),
    (int(c104.Quality.Substituted.value), "SB", "substituted"),
    (int(c104.Quality.Blocked.value), "BL", "blocked"),
    (int(c104.Quality.Overflow.value), "OV", "overflow"),
    (int(c104.Quality.ElapsedTimeInvalid.value), "EI", "elapsed time invalid"),
)
#: binary counter reading bits as received (IEC 60870-5-101 7.2.6.9: IV 0x80, CA 0x40, CY 0x20).
#: c104's client hands the received bits over unchanged, but its enum names 0x40 "Carry"
#: and 0x20 "Adjusted"; the standard's meaning is used here.
_BCR = (
    (0x80, "IV", "invalid"),
    (0x40, "CA", "counter adjusted"),
    (0x20, "CY", "carry: the counter overflowed"),
)
IV = _QDS[0][0]
_DOUBLE_STATE = {
    0: (UNCERTAIN, "double point intermediate (0): the device is between positions"),
    3: (BAD, "double point indeterminate (3): the position contacts disagree"),
}
_QOC = {
    "none": c104.Qoc.NONE,
    "short": c104.Qoc.SHORT_PULSE,
    "long": c104.Qoc.LONG_PULSE,
    "persistent": c104.Qoc.PERSISTENT,
}
_DOUBLE = {1: c104.Double.OFF, 2: c104.Double.ON}
_FLOAT32_MAX = 3.4028234663852886e38
_NORMALIZED_MAX = 1.0 - 2.0**-15

#: (raw value, quality, reason) of one reading
Reading = tuple[float, int, str]


def c104_type(addr: Iec104Address) -> c104.Type:
    """The c104 type object of an address."""
    kind: c104.Type = getattr(c104.Type, addr.type)
    return kind


@lru_cache(maxsize=256)
def quality_of(bits: int, counter: bool = False) -> tuple[int, str]:
    """gas-hmi (quality, reason) of a quality descriptor (or binary counter quality)."""
    if not bits:
        return GOOD, ""
    names = [(abbr, meaning) for bit, abbr, meaning in (_BCR if counter else _QDS) if bits & bit]
    if not names:
        return GOOD, ""
    quality = BAD if any(abbr == "IV" for abbr, _ in names) else UNCERTAIN
    abbrs = "+".join(a for a, _ in names)
    return quality, f"IEC 104 quality {abbrs} ({', '.join(m for _, m in names)})"


def _merge(quality: int, reason: str, state: tuple[int, str] | None) -> tuple[int, str]:
    if state is None:
        return quality, reason
    q = min(quality, state[0])
    return q, f"{state[1]}; {reason}" if reason else state[1]


def _read_double(info: Any) -> Reading:
    dpi = int(info.value.value)
    q, why = quality_of(int(info.quality.value))
    q, why = _merge(q, why, _DOUBLE_STATE.get(dpi))
    return float(dpi), q, why


def _read_counter(info: Any) -> Reading:
    q, why = quality_of(int(info.quality.value), True)
    return float(info.value), q, why


def _read_single(info: Any) -> Reading:
    q, why = quality_of(int(info.quality.value))
    return (1.0 if info.value else 0.0), q, why


def _read_number(info: Any) -> Reading:
    quality = info.quality
    if quality is None or not (bits := quality.value):  # the hot path: a good value
        return float(info.value), GOOD, ""
    q, why = quality_of(int(bits))
    return float(info.value), q, why


def _read_whole(info: Any) -> Reading:
    q, why = quality_of(int(info.quality.value))
    return float(int(info.value)), q, why


#: value family -> reader of a c104 Information object
READERS: dict[str, Callable[[Any], Reading]] = {
    "single": _read_single,
    "double": _read_double,
    "step": _read_whole,
    "normalized": _read_number,
    "scaled": _read_whole,
    "float": _read_number,
    "counter": _read_counter,
}


def source_time(info: Any, local_base: bool) -> float | None:
    """Unix seconds of the CP56Time2a time tag, None when the type carries none.

    c104 reads the wire time as UTC and hands it over as a naive local datetime; an RTU
    whose clock runs on local time (``time_base: local``) is corrected here.
    """
    ts: datetime.datetime | None = info.recorded_at
    if ts is None:
        return None
    epoch = ts.timestamp()
    if local_base:  # the wire fields were local wall time: read them again as such
        wall = datetime.datetime.fromtimestamp(epoch, datetime.UTC).replace(tzinfo=None)
        return wall.timestamp()
    return epoch


def command_info(cmd: Iec104Address, value: float | bool | str, pulse: str) -> Any:
    """The c104 command information for writing ``value``; ValueError when it does not fit."""
    if isinstance(value, str):
        raise ValueError(f"{cmd} takes a number, not text {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{cmd}: {v} is not a finite number")
    now = datetime.datetime.now() if cmd.timed else None
    qoc = _QOC.get(pulse, c104.Qoc.NONE)
    fam = cmd.family
    if fam == "single":
        if v not in (0.0, 1.0):
            raise ValueError(f"{cmd}: a single command is 0 (off) or 1 (on), not {v:g}")
        return c104.SingleCmd(on=bool(v), qualifier=qoc, recorded_at=now)
    if fam == "double":
        state = _DOUBLE.get(int(v)) if v.is_integer() else None
        if isinstance(value, bool):
            state = _DOUBLE[2 if value else 1]
        if state is None:
            raise ValueError(f"{cmd}: a double command is 1 (off) or 2 (on), not {v:g}")
        return c104.DoubleCmd(state=state, qualifier=qoc, recorded_at=now)
    if fam == "normalized":
        if not -1.0 <= v <= _NORMALIZED_MAX:
            raise ValueError(
                f"{cmd}: a normalized set-point is -1 .. +{_NORMALIZED_MAX}, not {v:g}"
            )
        return c104.NormalizedCmd(target=c104.NormalizedFloat(v), recorded_at=now)
    if fam == "scaled":
        n = round(v)
        if not -32768 <= n <= 32767:
            raise ValueError(f"{cmd}: a scaled set-point is -32768..32767, not {v:g}")
        return c104.ScaledCmd(target=c104.Int16(n), recorded_at=now)
    if abs(v) > _FLOAT32_MAX:
        raise ValueError(f"{cmd}: {v:g} does not fit a short float")
    return c104.ShortCmd(target=v, recorded_at=now)


def command_value(cmd: Iec104Address, info: Any) -> float:
    """The value a command carries, as the tag sees it (1/2 for a double command)."""
    value = info.value
    if cmd.family == "single":
        return 1.0 if value else 0.0
    if cmd.family == "double":
        return float(int(value.value))
    if cmd.family == "scaled":
        return float(int(value))
    return float(value)


def monitor_info(addr: Iec104Address, raw: float, bits: int = 0, ts: float | None = None) -> Any:
    """A c104 monitoring information object for ``raw`` (the serving side: simulator, tests).

    Single points are on for raw >= 0.5; double points take their DPI (0..3); numbers are
    clamped to the type's range. ``bits`` is the quality descriptor, ``ts`` the time tag
    (Unix seconds; now when None) of a time-tagged type.
    """
    when = None
    if addr.timed:
        when = datetime.datetime.fromtimestamp(time_now() if ts is None else ts)
    fam = addr.family
    if fam == "counter":
        q = c104.BinaryCounterQuality(bits)  # type: ignore[call-arg]  # stub lags binding
        return c104.BinaryCounterInfo(
            counter=int(raw), sequence=c104.UInt5(0), quality=q, recorded_at=when
        )
    qd = c104.Quality(bits)  # type: ignore[call-arg]  # c104's stub lags its binding
    if fam == "single":
        return c104.SingleInfo(on=bool(raw >= 0.5), quality=qd, recorded_at=when)
    if fam == "double":
        state = (
            c104.Double.INTERMEDIATE,
            c104.Double.OFF,
            c104.Double.ON,
            c104.Double.INDETERMINATE,
        )
        return c104.DoubleInfo(state=state[int(raw) & 3], quality=qd, recorded_at=when)
    if fam == "step":
        pos = c104.Int7(int(min(max(round(raw), -64), 63)))
        return c104.StepInfo(state=pos, transient=False, quality=qd, recorded_at=when)  # type: ignore[call-arg]
    if fam == "normalized":
        norm = c104.NormalizedFloat(min(max(raw, -1.0), _NORMALIZED_MAX))
        return c104.NormalizedInfo(actual=norm, quality=qd, recorded_at=when)
    if fam == "scaled":
        scaled = c104.Int16(int(min(max(round(raw), -32768), 32767)))
        return c104.ScaledInfo(actual=scaled, quality=qd, recorded_at=when)
    return c104.ShortInfo(actual=float(raw), quality=qd, recorded_at=when)


def time_now() -> float:
    """Unix seconds now (one place, so the serving side and tests agree)."""
    return time.time()
