"""Register images of one Modbus table, filled from raw values in a few numpy calls.

The simulator serves what :mod:`drivers.modbus.codec` decodes: the vectorized
encoders here are checked against :func:`drivers.modbus.codec.encode` when an image
is built (a mismatch is a bug and raises), strings go through the codec itself.
The image spans every offset from the lowest to the highest configured one, so
that the runtime's block reads across small gaps find valid (zero) registers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drivers.modbus import codec
from drivers.modbus.address import WIDTH, ModbusAddress

_INT_LIMITS = {
    "int16": (-(2.0**15), 2.0**15 - 1),
    "uint16": (0.0, 2.0**16 - 1),
    "int32": (-(2.0**31), 2.0**31 - 1),
    "uint32": (0.0, 2.0**32 - 1),
    "int64": (-(2.0**63), 2.0**63 - 1024),
    "uint64": (0.0, 2.0**64 - 2048),
}
_NP_TYPE = {
    "int32": ">i4",
    "uint32": ">u4",
    "float32": ">f4",
    "int64": ">i8",
    "uint64": ">u8",
    "float64": ">f8",
}
_F32_MAX = float(np.finfo(np.float32).max)
GAP = -1  # owner of a register no point uses
SHARED = -2  # owner of a register holding several bit points


class TableImage:
    """The served contents of one table (co, di, ir or hr) of one device."""

    def __init__(self, table: str, addresses: Sequence[ModbusAddress]) -> None:
        if not addresses:
            raise ValueError(f"table {table}: no points")
        self.table = table
        self.bits = table in ("co", "di")
        self.addresses = list(addresses)
        lo = min(a.offset for a in addresses)
        hi = max(a.end for a in addresses)
        if self.bits:  # the server keeps bits in 16-bit words: align the span to whole words
            lo -= lo % 16
            hi += (-hi) % 16
        self.lo, self.size = lo, hi - lo
        self.words = np.zeros(self.size, dtype=bool if self.bits else np.uint16)
        self.owner = np.full(self.size, GAP, dtype=np.int64)
        self.bit_points: dict[
            int, list[int]
        ] = {}  # relative register -> points holding a bit of it
        for k, a in enumerate(addresses):
            rel = a.offset - lo
            if a.type == "bit" and not self.bits:
                if self.owner[rel] not in (GAP, SHARED):
                    raise ValueError(f"{a} overlaps another point at {table}:{a.offset}")
                self.owner[rel] = SHARED
                self.bit_points.setdefault(rel, []).append(k)
                continue
            span = slice(rel, rel + a.count)
            if (self.owner[span] != GAP).any():
                raise ValueError(f"{a} overlaps another point at {table}:{a.offset}")
            self.owner[span] = k
        self._build_groups()
        self._self_check()

    # ------------------------------------------------------------------ build
    def _build_groups(self) -> None:
        groups: dict[tuple[str, str], list[int]] = {}
        for k, a in enumerate(self.addresses):
            key = (
                ("bool", "") if self.bits else (a.type, a.order if WIDTH.get(a.type, 1) > 1 else "")
            )
            groups.setdefault(key, []).append(k)
        self.groups: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]] = []
        self.strings: list[int] = []
        self._bit_regs = np.asarray(sorted(self.bit_points), dtype=np.int64)
        for (kind, order), members in groups.items():
            if kind == "string":
                self.strings.extend(members)
                continue
            idx = np.asarray(members, dtype=np.int64)
            rel = np.asarray([self.addresses[k].offset - self.lo for k in members], dtype=np.int64)
            extra = np.asarray([self.addresses[k].bit or 0 for k in members], dtype=np.int64)
            if not self.bits and WIDTH[kind] > 1:
                cols = np.arange(WIDTH[kind], dtype=np.int64)
                if order in ("cdab", "dcba"):
                    cols = cols[::-1]
                rel = rel[:, None] + cols[None, :]
            self.groups.append((kind, order, idx, rel, extra))

    def _self_check(self) -> None:
        """Encode a probe value both ways; the served bytes must be the codec's bytes."""
        for kind, _order, idx, rel, _extra in self.groups:
            a = self.addresses[int(idx[0])]
            probe = (
                1.0
                if kind in ("bool", "bit")
                else (123456.0 if kind.startswith("float") else 4660.0)
            )
            if kind == "int16":
                probe = -1234.0
            mine = np.ravel(
                self._encode_group(kind, a.order, np.array([probe]), np.array([a.bit or 0]))
            )
            placed = np.zeros(a.count, dtype=mine.dtype)
            placed[np.ravel(rel[0]) - (a.offset - self.lo)] = mine  # where fill() puts each word
            theirs = codec.encode(
                a,
                bool(probe)
                if kind in ("bool", "bit")
                else (probe if kind.startswith("float") else int(probe)),
            )
            mine_list = [bool(x) for x in placed] if self.bits else [int(x) for x in placed]
            if mine_list != list(theirs):
                raise RuntimeError(
                    f"simulator encoder disagrees with the codec for {a}: {mine_list} != {theirs}"
                )

    # ------------------------------------------------------------------ encode
    @staticmethod
    def _encode_group(kind: str, order: str, raw: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """Raw values -> words (shape (n,) or (n, width)) or bools."""
        if kind == "bool":
            return np.asarray(raw != 0)
        if kind == "bit":
            return np.asarray(np.where(raw != 0, np.left_shift(1, bits), 0), dtype=np.uint16)
        if kind.startswith("float"):
            # NaN stays NaN: what a PLC serves for a failed analog signal (loop < 3.6 mA)
            clean = np.nan_to_num(raw, nan=np.nan, posinf=_F32_MAX, neginf=-_F32_MAX)
            if kind == "float32":
                clean = np.clip(clean, -_F32_MAX, _F32_MAX)
            values = clean.astype(_NP_TYPE[kind])
        else:
            lo, hi = _INT_LIMITS[kind]
            ints = np.clip(np.rint(np.nan_to_num(raw, nan=0.0)), lo, hi)
            if kind == "int16":
                return np.asarray(ints.astype(np.int64).astype(np.int16).view(np.uint16))
            if kind == "uint16":
                return np.asarray(ints, dtype=np.uint16)
            values = ints.astype(np.int64 if kind != "uint64" else np.uint64).astype(_NP_TYPE[kind])
        word_type = "<u2" if order in ("badc", "dcba") else ">u2"
        width = values.dtype.itemsize // 2
        return np.asarray(values.view(word_type).reshape(-1, width), dtype=np.uint16)

    def fill(self, raw: np.ndarray, texts: Sequence[str] | None = None) -> None:
        """Write every point's raw value (aligned with ``addresses``) into the image."""
        w = self.words
        if self._bit_regs.size:
            w[self._bit_regs] = 0
        for kind, order, idx, rel, extra in self.groups:
            enc = self._encode_group(kind, order, raw[idx], extra)
            if kind == "bit":
                np.bitwise_or.at(w, rel, enc)
            else:
                w[rel] = enc  # (n, width) rows land on the (n, width) index matrix
        for k in self.strings:
            a = self.addresses[k]
            text = texts[k] if texts is not None else ""
            w[a.offset - self.lo : a.end - self.lo] = codec.encode(a, text or "")

    # ------------------------------------------------------------------ access
    def read(self, start: int, count: int) -> np.ndarray:
        """Image contents from absolute offset ``start`` (registers or bits)."""
        rel = start - self.lo
        return self.words[rel : rel + count]

    def packed(self, first_word: int, count: int) -> list[int]:
        """Bits packed 16 to a register (bit 0 first), from the bit-word ``first_word``."""
        rel = first_word * 16 - self.lo
        seg = self.words[rel : rel + count * 16].reshape(-1, 16).astype(np.uint32)
        return [int(x) for x in seg @ (np.uint32(1) << np.arange(16, dtype=np.uint32))]

    def covered(self, start: int, count: int) -> tuple[list[int], str]:
        """Points written by a request to ``[start, start+count)``, or ('', reason) if it is not allowed."""
        rel0, rel1 = start - self.lo, start - self.lo + count
        if rel0 < 0 or rel1 > self.size:
            return [], "outside the configured span"
        hit: list[int] = []
        for r in range(rel0, rel1):
            owner = int(self.owner[r])
            if owner == GAP:
                return [], f"{self.table}:{self.lo + r} is not configured"
            for k in self.bit_points.get(r, [owner] if owner >= 0 else []):
                if k not in hit:
                    hit.append(k)
        for k in hit:
            a = self.addresses[k]
            if a.offset < start or a.end > start + count:
                return [], f"the write covers only part of {a}"
        return hit, ""

    def decode_with(
        self, k: int, start: int, values: Sequence[int] | Sequence[bool]
    ) -> float | int | bool | str:
        """Point ``k``'s value once ``values`` are written at ``start`` over the image."""
        a = self.addresses[k]
        seg = [bool(x) if self.bits else int(x) for x in self.read(a.offset, a.count)]
        for i in range(a.count):
            j = a.offset + i - start
            if 0 <= j < len(values):
                seg[i] = values[j]
        return codec.decode(a, seg)

    def current(self, k: int) -> float | int | bool | str:
        """Point ``k``'s value as served now."""
        a = self.addresses[k]
        return codec.decode(
            a, [bool(x) if self.bits else int(x) for x in self.read(a.offset, a.count)]
        )
