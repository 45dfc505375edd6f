"""S7 values <-> bytes (big-endian, as the CPU stores them), one-off and vectorised.

:class:`RangeDecoder` decodes every numeric point of one read range in a few numpy calls
(one fancy-index and one view per type); strings (S7 STRING, CHAR) are decoded one by
one. :func:`encode` gives the bytes a write sends; :func:`decode` is its inverse, used
for read-back and by the simulator's self-check.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from drivers.s7.address import S7Address

#: numpy big-endian dtype of each numeric type (bool and strings are special)
NP_TYPE: dict[str, str] = {
    "byte": ">u1",
    "sint": ">i1",
    "word": ">u2",
    "int": ">i2",
    "uint": ">u2",
    "dword": ">u4",
    "dint": ">i4",
    "udint": ">u4",
    "real": ">f4",
}
#: struct format character of each numeric type
_STRUCT: dict[str, str] = {
    "byte": "B", "sint": "b", "word": "H", "int": "h", "uint": "H",
    "dword": "I", "dint": "i", "udint": "I", "real": "f",
}  # fmt: skip
#: value range of each integer type
INT_LIMITS: dict[str, tuple[int, int]] = {
    "byte": (0, 255),
    "sint": (-128, 127),
    "word": (0, 65535),
    "int": (-32768, 32767),
    "uint": (0, 65535),
    "dword": (0, 2**32 - 1),
    "dint": (-(2**31), 2**31 - 1),
    "udint": (0, 2**32 - 1),
}
STRING_TYPES = ("string", "char")


def decode_string(addr: S7Address, data: bytes | bytearray | memoryview) -> str:
    """An S7 STRING (max length, actual length, characters) or CHAR from its bytes."""
    raw = bytes(data)
    if addr.type == "char":
        return raw[:1].decode("latin-1")
    if len(raw) < 2:
        raise ValueError(f"{addr}: {len(raw)} bytes is too short for an S7 STRING header")
    actual = min(raw[1], addr.length, len(raw) - 2)
    return raw[2 : 2 + actual].decode("latin-1")


def decode(addr: S7Address, data: bytes | bytearray | memoryview) -> float | int | bool | str:
    """One value from the bytes at its address (``data`` starts at ``addr.byte``)."""
    if len(data) < addr.size and addr.type != "string":
        raise ValueError(f"{addr}: {len(data)} bytes, needs {addr.size}")
    if addr.type == "bool":
        return bool((data[0] >> (addr.bit or 0)) & 1)
    if addr.type in STRING_TYPES:
        return decode_string(addr, data)
    value = struct.unpack(">" + _STRUCT[addr.type], bytes(data[: addr.size]))[0]
    return float(value) if addr.type == "real" else int(value)


def encode(addr: S7Address, value: float | bool | str) -> bytes:
    """The bytes a write of ``value`` sends (a bool: one byte 0/1 for a bit write).

    Raises ValueError naming the problem for a value that does not fit the type.
    """
    kind = addr.type
    if kind == "bool":
        if isinstance(value, str):
            raise ValueError(f"{addr} is a bool: write true/false or 1/0, not {value!r}")
        return b"\x01" if value else b"\x00"
    if kind in STRING_TYPES:
        text = str(value)
        try:
            raw = text.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"{addr}: S7 STRING/CHAR hold single-byte (Latin-1) characters; {text!r} has others"
            ) from None
        if kind == "char":
            if len(raw) != 1:
                raise ValueError(f"{addr} is a CHAR: write exactly one character")
            return raw
        if len(raw) > addr.length:
            raise ValueError(f"{addr}: {len(raw)} characters exceed the string's {addr.length}")
        return bytes([addr.length, len(raw)]) + raw.ljust(addr.length, b"\x00")
    if isinstance(value, str):
        raise ValueError(f"{addr} is numeric ({kind}): {value!r} is text")
    number = float(value)
    if kind == "real":
        if not np.isfinite(number) or abs(number) > float(np.finfo(np.float32).max):
            raise ValueError(f"{addr}: {value!r} does not fit a REAL (32-bit float)")
        return struct.pack(">f", number)
    if not number.is_integer():
        raise ValueError(f"{addr} is an integer type ({kind}): {value!r} has a fraction")
    lo, hi = INT_LIMITS[kind]
    if not lo <= number <= hi:
        raise ValueError(f"{addr}: {value!r} is outside {kind}'s {lo}..{hi}")
    return struct.pack(">" + _STRUCT[kind], int(number))


class RangeDecoder:
    """Decodes the points of one contiguous byte range starting at ``start``.

    ``numeric`` / ``strings`` are the positions (into ``addresses``) of the numeric and
    string points; :meth:`decode` returns the numeric values in ``numeric`` order as
    float64 (bools as 0.0/1.0), :meth:`decode_strings` the texts in ``strings`` order.
    """

    def __init__(self, start: int, addresses: Sequence[S7Address]) -> None:
        self.start = start
        self.addresses = list(addresses)
        self.size = max((a.end for a in addresses), default=start) - start
        numeric = [k for k, a in enumerate(addresses) if a.type not in STRING_TYPES]
        self.numeric = np.asarray(numeric, dtype=np.int64)
        self.strings = np.asarray(
            [k for k, a in enumerate(addresses) if a.type in STRING_TYPES], dtype=np.int64
        )
        by_type: dict[str, list[int]] = {}
        for slot, k in enumerate(numeric):
            by_type.setdefault(addresses[k].type, []).append(slot)
        #: (type, output slots, byte index matrix (n, width), bit numbers or None)
        self._groups: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]] = []
        for kind, members in by_type.items():
            rel = np.asarray([addresses[numeric[s]].byte - start for s in members], dtype=np.int64)
            width = 1 if kind == "bool" else np.dtype(NP_TYPE[kind]).itemsize
            cols = rel[:, None] + np.arange(width, dtype=np.int64)[None, :]
            bits = (
                np.asarray([addresses[numeric[s]].bit or 0 for s in members], dtype=np.uint8)
                if kind == "bool"
                else None
            )
            self._groups.append((kind, np.asarray(members, dtype=np.int64), cols, bits))
        #: groups that are one packed array (e.g. 100 REALs back to back filling slots k..k+99):
        #: (dtype, byte offset, count, output slice), decoded by a view instead of a gather
        self._packed: list[tuple[str, int, int, slice]] = []
        rest: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]] = []
        for kind, slots, cols, bits in self._groups:
            width = cols.shape[1]
            first = int(cols[0, 0])
            packed = (
                bits is None
                and bool((np.diff(cols[:, 0]) == width).all())
                and bool((np.diff(slots) == 1).all())
            )
            if packed:
                n = len(slots)
                self._packed.append(
                    (NP_TYPE[kind], first, n, slice(int(slots[0]), int(slots[0]) + n))
                )
            else:
                rest.append((kind, slots, cols, bits))
        self._groups = rest

    def decode(self, data: bytes | bytearray, out: np.ndarray | None = None) -> np.ndarray:
        """Numeric values (float64) of the range's bytes; ValueError when ``data`` is short."""
        if len(data) < self.size:
            raise ValueError(f"{len(data)} bytes, the range needs {self.size}")
        buf = np.frombuffer(data, dtype=np.uint8)
        result = np.empty(len(self.numeric), dtype=np.float64) if out is None else out
        for dtype, offset, count, where in self._packed:
            result[where] = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        for kind, slots, cols, bits in self._groups:
            if bits is not None:
                result[slots] = (buf[cols[:, 0]] >> bits) & 1
            else:
                result[slots] = buf[cols].copy().view(NP_TYPE[kind]).ravel()
        return result

    def decode_strings(self, data: bytes | bytearray) -> np.ndarray:
        """The string points' texts (object array)."""
        out = np.empty(len(self.strings), dtype=object)
        for i, k in enumerate(self.strings.tolist()):
            a = self.addresses[k]
            rel = a.byte - self.start
            out[i] = decode_string(a, data[rel : rel + a.size])
        return out
