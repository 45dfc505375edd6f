"""Encode and decode Modbus point values: scalars for writes, vectorized blocks for scans.

Byte/word orders (GAS_DOMAIN.md) for a value whose big-endian bytes are ``A B C D``
(or ``A B C D E F G H`` for 64 bits):

* ``abcd`` registers hold the big-endian bytes in order (the Modbus default);
  123456.0 as float32 is ``0x47F1 0x2000``;
* ``cdab`` the word order is reversed, bytes inside each word stay big-endian
  (123456.0 is ``0x2000 0x47F1``; for 64 bits all four words are reversed);
* ``badc`` the words stay in order, the two bytes inside each word are swapped;
* ``dcba`` both: the value is fully little-endian.

Strings hold two characters per register, high byte first, padded with NULs;
trailing NULs and spaces are stripped when decoding. Text is UTF-8 (ASCII in
practice). 64-bit integers decoded in blocks become float64 (exact up to 2**53);
the scalar :func:`decode` keeps them exact.

This module needs only numpy: the simulator uses it to fill its register image.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np

from drivers.modbus.address import WIDTH, ModbusAddress

#: struct code of each fixed-width multi-register type (big-endian).
_STRUCT = {"int32": "i", "uint32": "I", "float32": "f", "int64": "q", "uint64": "Q", "float64": "d"}
_INT_RANGE = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_F32_MAX = float(np.finfo(np.float32).max)
#: numpy dtype of each multi-register type, read from a big-endian byte stream.
_NP_TYPE: dict[str, np.dtype] = {
    "int32": np.dtype(">i4"),
    "uint32": np.dtype(">u4"),
    "float32": np.dtype(">f4"),
    "int64": np.dtype(">i8"),
    "uint64": np.dtype(">u8"),
    "float64": np.dtype(">f8"),
}


def _word_swap(order: str) -> bool:
    return order in ("cdab", "dcba")


def _byte_swap(order: str) -> bool:
    return order in ("badc", "dcba")


def _to_words(data: bytes, order: str) -> list[int]:
    """Big-endian value bytes -> register words in ``order``."""
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if _byte_swap(order):
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    if _word_swap(order):
        words.reverse()
    return words


def _from_words(words: Sequence[int], order: str) -> bytes:
    """Register words in ``order`` -> big-endian value bytes (the inverse of :func:`_to_words`)."""
    ws = [int(w) & 0xFFFF for w in words]
    if _word_swap(order):
        ws.reverse()
    if _byte_swap(order):
        ws = [((w & 0xFF) << 8) | (w >> 8) for w in ws]
    return b"".join(w.to_bytes(2, "big") for w in ws)


def _as_bool(addr: ModbusAddress, value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{addr}: {value!r} is not a boolean (use true/false or 0/1)")


def _as_int(addr: ModbusAddress, value: object) -> int:
    if isinstance(value, (bool, np.bool_)):
        number = int(value)
    elif isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{addr}: {value!r} is not a whole number ({addr.type})")
        number = int(value)
    else:
        raise ValueError(f"{addr}: {value!r} is not a number ({addr.type})")
    lo, hi = _INT_RANGE[addr.type]
    if not lo <= number <= hi:
        raise ValueError(f"{addr}: {number} is outside the {addr.type} range {lo}..{hi}")
    return number


def _as_float(addr: ModbusAddress, value: object) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"{addr}: {value!r} is not a number ({addr.type})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{addr}: {number} is not a finite number")
    if addr.type == "float32" and abs(number) > _F32_MAX:
        raise ValueError(f"{addr}: {number} is too large for float32")
    return number


def merge_bit(register: int, bit: int, value: bool) -> int:
    """``register`` with ``bit`` set or cleared (read-modify-write of a bit-in-register point)."""
    mask = 1 << bit
    return (int(register) | mask) & 0xFFFF if value else int(register) & ~mask & 0xFFFF


def encode(addr: ModbusAddress, value: object) -> list[int] | list[bool]:
    """Encode ``value`` for ``addr``: registers (list of int) or bits (list of bool).

    A ``bit`` point encodes to the register with only that bit set (or 0); writing it
    to a device is a read-modify-write, see :func:`merge_bit`. Raises ValueError when
    the value has the wrong type or does not fit.
    """
    kind = addr.type
    if addr.is_bits:
        return [_as_bool(addr, value)]
    if kind == "bool":
        return [int(_as_bool(addr, value))]
    if kind == "bit":
        return [(1 << (addr.bit or 0)) if _as_bool(addr, value) else 0]
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"{addr}: {value!r} is not text")
        data = value.encode("utf-8")
        room = 2 * addr.length
        if len(data) > room:
            raise ValueError(
                f"{addr}: text of {len(data)} bytes does not fit in {addr.length} registers ({room} bytes)"
            )
        data = data.ljust(room, b"\0")
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, room, 2)]
    if kind == "int16":
        return [_as_int(addr, value) & 0xFFFF]
    if kind == "uint16":
        return [_as_int(addr, value)]
    code = _STRUCT[kind]
    number: float | int = _as_float(addr, value) if code in "fd" else _as_int(addr, value)
    return _to_words(struct.pack(">" + code, number), addr.order)


def decode(addr: ModbusAddress, regs: Sequence[int] | Sequence[bool]) -> float | int | bool | str:
    """Decode one value from the registers (or bits) it occupies, first one first."""
    if len(regs) < addr.count:
        raise ValueError(
            f"{addr}: needs {addr.count} {'bits' if addr.is_bits else 'registers'}, got {len(regs)}"
        )
    kind = addr.type
    if addr.is_bits or kind == "bool":
        return bool(regs[0])
    if kind == "bit":
        return bool((int(regs[0]) >> (addr.bit or 0)) & 1)
    if kind == "uint16":
        return int(regs[0]) & 0xFFFF
    if kind == "int16":
        w = int(regs[0]) & 0xFFFF
        return w - 0x10000 if w & 0x8000 else w
    if kind == "string":
        data = b"".join((int(w) & 0xFFFF).to_bytes(2, "big") for w in regs[: addr.length])
        return data.decode("utf-8", errors="replace").rstrip("\0 ")
    (value,) = struct.unpack(">" + _STRUCT[kind], _from_words(regs[: WIDTH[kind]], addr.order))
    return float(value) if kind.startswith("float") else int(value)


def _index(positions: list[int]) -> slice | np.ndarray:
    """A slice when the positions are evenly spaced (no gather copy), else an index array."""
    if len(positions) == 1:
        return slice(positions[0], positions[0] + 1)
    step = positions[1] - positions[0]
    if step and all(b - a == step for a, b in zip(positions, positions[1:], strict=False)):
        stop = positions[-1] + step
        return slice(positions[0], stop if stop >= 0 else None, step)
    return np.asarray(positions, dtype=np.intp)


class BlockDecoder:
    """Decodes every point of one planned block from its raw reply, vectorized.

    Built once per block. The reply is copied into at most four preallocated word
    buffers (big- or little-endian storage, forward or reversed word order: together
    they cover the four byte/word orders), and every 32/64-bit type reads through an
    overlapping window over a buffer (stride of one register), so one group of points
    of the same type and order costs one gather. Per scan :meth:`decode` runs one
    numpy call per buffer and one or two per group, no per-point Python.

    Numeric and boolean points come back as float64 in the order of :attr:`numeric`
    (positions into ``addresses``, grouped by type); strings separately, in the order
    of :attr:`strings`.
    """

    def __init__(self, start: int, addresses: Sequence[ModbusAddress]) -> None:
        self.start = start
        self.bits = bool(addresses) and addresses[0].is_bits
        self.size = n = max((a.end for a in addresses), default=start) - start
        #: positions of the string points :meth:`decode_strings` returns, in order
        self.strings = np.asarray(
            [i for i, a in enumerate(addresses) if a.type == "string"], dtype=np.int64
        )
        self._string_addrs = [addresses[i] for i in self.strings]
        groups: dict[tuple[str, str], list[int]] = {}
        for pos, a in enumerate(addresses):
            if a.type == "string":
                continue
            if self.bits:
                key = ("bits", "")
            else:
                key = (a.type, a.order if WIDTH[a.type] > 1 else "")
            groups.setdefault(key, []).append(pos)
        # buffers the reply is copied into: (array, reversed word order)
        self._buffers: list[tuple[np.ndarray, bool]] = []
        made: dict[tuple[str, bool], np.ndarray] = {}

        def buffer(dtype: str, rev: bool) -> np.ndarray:
            if (dtype, rev) not in made:
                made[dtype, rev] = np.zeros(n, dtype=dtype)
                self._buffers.append((made[dtype, rev], rev))
            return made[dtype, rev]

        # (output slice, source array, index, operation, bit numbers)
        self._ops: list[tuple[slice, np.ndarray, slice | np.ndarray, str, np.ndarray | None]] = []
        numeric: list[int] = []
        for (kind, order), positions in groups.items():
            out = slice(len(numeric), len(numeric) + len(positions))
            numeric.extend(positions)
            rel = [addresses[p].offset - start for p in positions]
            if self.bits:
                self._ops.append((out, buffer("?", False), _index(rel), "take", None))
            elif kind in _NP_TYPE:
                width = WIDTH[kind]
                rev = _word_swap(order)
                # storing words little-endian puts each word's bytes swapped in the byte stream
                buf = buffer("<u2" if _byte_swap(order) else ">u2", rev)
                window = np.ndarray(
                    shape=(n - width + 1,), dtype=_NP_TYPE[kind], buffer=buf, strides=(2,)
                )
                idx = [n - width - r for r in rel] if rev else rel
                self._ops.append((out, window, _index(idx), "take", None))
            elif kind == "int16":
                self._ops.append((out, buffer(">u2", False).view(">i2"), _index(rel), "take", None))
            else:  # uint16, bit, bool-in-register
                op = {"uint16": "take", "bit": "bit", "bool": "nonzero"}[kind]
                shifts = (
                    np.asarray([addresses[p].bit or 0 for p in positions], dtype=np.uint16)
                    if op == "bit"
                    else None
                )
                self._ops.append((out, buffer(">u2", False), _index(rel), op, shifts))
        #: positions (into ``addresses``) of the values :meth:`decode` returns, in order
        self.numeric = np.asarray(numeric, dtype=np.int64)

    def decode(
        self, words: Sequence[int] | Sequence[bool] | np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Float64 values of the numeric/boolean points (order of :attr:`numeric`), into ``out`` if given."""
        n = self.size
        if len(words) < n:
            raise ValueError(
                f"short reply: {len(words)} of {n} {'bits' if self.bits else 'registers'}"
            )
        if len(words) > n:
            words = words[:n]
        for buf, rev in self._buffers:
            buf[:] = words[::-1] if rev else words
        if out is None:
            out = np.empty(len(self.numeric), dtype=np.float64)
        for sl, src, idx, op, shift in self._ops:
            if op == "take":
                out[sl] = src[idx]
            elif op == "bit":
                out[sl] = (src[idx] >> shift) & 1
            else:
                out[sl] = src[idx] != 0
        return out

    def decode_strings(self, words: Sequence[int] | np.ndarray) -> np.ndarray:
        """Object array of the string points' text."""
        out = np.empty(len(self._string_addrs), dtype=object)
        for k, a in enumerate(self._string_addrs):
            rel = a.offset - self.start
            out[k] = decode(a, [int(x) for x in words[rel : rel + a.length]])
        return out
