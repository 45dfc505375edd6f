"""Byte images of one S7 area (a DB, the markers, inputs or outputs), filled in a few numpy calls.

The simulator serves what :mod:`drivers.s7.codec` decodes: the vectorised encoders here
are checked against :func:`drivers.s7.codec.encode` when an image is built (a mismatch is
a bug and raises); strings go through the codec itself. An image spans byte 0 to the end
of the last configured value, as a DB does, so reads across gaps find (zero) bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drivers.s7 import codec
from drivers.s7.address import S7Address

_F32_MAX = float(np.finfo(np.float32).max)
GAP = -1  # owner of a byte no value uses
SHARED = -2  # owner of a byte holding bool points


class AreaImage:
    """The served bytes of one area; ``data`` is the bytearray the S7 server serves."""

    def __init__(self, area: str, db: int, addresses: Sequence[S7Address]) -> None:
        if not addresses:
            raise ValueError(f"area {area}{db}: no points")
        self.area, self.db = area, db
        self.addresses = list(addresses)
        self.size = max(a.end for a in addresses)
        self.data = bytearray(self.size)
        self.buf = np.frombuffer(self.data, dtype=np.uint8)
        self.owner = np.full(self.size, GAP, dtype=np.int64)
        self.bit_points: dict[int, list[int]] = {}  # byte -> bool points in it
        for k, a in enumerate(addresses):
            if a.type == "bool":
                if self.owner[a.byte] not in (GAP, SHARED):
                    raise ValueError(f"{a} overlaps another point")
                if any(self.addresses[j].bit == a.bit for j in self.bit_points.get(a.byte, [])):
                    raise ValueError(f"{a} is configured twice")
                self.owner[a.byte] = SHARED
                self.bit_points.setdefault(a.byte, []).append(k)
                continue
            span = slice(a.byte, a.end)
            if (self.owner[span] != GAP).any():
                raise ValueError(f"{a} overlaps another point")
            self.owner[span] = k
        self._build_groups()
        self._self_check()

    def _build_groups(self) -> None:
        by_type: dict[str, list[int]] = {}
        for k, a in enumerate(self.addresses):
            by_type.setdefault(a.type, []).append(k)
        self.strings = [k for t in codec.STRING_TYPES for k in by_type.pop(t, [])]
        #: (type, point positions, byte index matrix, bit numbers)
        self.groups: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
        for kind, members in by_type.items():
            idx = np.asarray(members, dtype=np.int64)
            start = np.asarray([self.addresses[k].byte for k in members], dtype=np.int64)
            width = 1 if kind == "bool" else np.dtype(codec.NP_TYPE[kind]).itemsize
            cols = start[:, None] + np.arange(width, dtype=np.int64)[None, :]
            bits = np.asarray([self.addresses[k].bit or 0 for k in members], dtype=np.uint8)
            self.groups.append((kind, idx, cols, bits))
        self._bool_bytes = np.asarray(sorted(self.bit_points), dtype=np.int64)

    @staticmethod
    def _encode(kind: str, raw: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """Raw values -> bytes, shape (n, width); bools -> bit masks, shape (n,)."""
        if kind == "bool":
            return np.where(raw != 0, np.left_shift(1, bits), 0).astype(np.uint8)
        if kind == "real":
            # NaN stays NaN: what a PLC serves for a failed analog signal (loop < 3.6 mA)
            clean = np.nan_to_num(raw, nan=np.nan, posinf=_F32_MAX, neginf=-_F32_MAX)
            clean = np.clip(clean, -_F32_MAX, _F32_MAX)
            values = clean.astype(codec.NP_TYPE[kind])
        else:
            lo, hi = codec.INT_LIMITS[kind]
            ints = np.clip(np.rint(np.nan_to_num(raw, nan=0.0)), lo, hi).astype(np.int64)
            values = ints.astype(codec.NP_TYPE[kind])
        out: np.ndarray = values.view(np.uint8).reshape(len(raw), -1)
        return out

    def _self_check(self) -> None:
        """Encode a probe both ways; the served bytes must be the codec's bytes."""
        for kind, idx, _cols, bits in self.groups:
            a = self.addresses[int(idx[0])]
            probe = {"bool": 1.0, "real": 123.5, "sint": -100.0, "int": -1234.0, "dint": -123456.0}
            value = probe.get(kind, 200.0)
            mine = self._encode(kind, np.array([value]), bits[:1])
            if kind == "bool":
                ok = int(mine[0]) == 1 << (a.bit or 0) and codec.decode(a, bytes(mine[:1])) is True
            else:
                ok = bytes(mine[0]) == codec.encode(a, value if kind == "real" else int(value))
            if not ok:
                raise RuntimeError(f"simulator encoder disagrees with the codec for {a}")

    def fill(self, raw: np.ndarray, texts: Sequence[str] | None = None) -> None:
        """Write every point's raw value (aligned with ``addresses``) into the image."""
        buf = self.buf
        if self._bool_bytes.size:
            buf[self._bool_bytes] = 0
        for kind, idx, cols, bits in self.groups:
            enc = self._encode(kind, raw[idx], bits)
            if kind == "bool":
                np.bitwise_or.at(buf, cols[:, 0], enc)
            else:
                buf[cols] = enc
        for k in self.strings:
            a = self.addresses[k]
            text = texts[k] if texts is not None else ""
            try:
                self.data[a.byte : a.end] = codec.encode(a, text or "")
            except ValueError:  # an unencodable text: serve an empty string
                self.data[a.byte : a.end] = codec.encode(a, "" if a.type == "string" else " ")

    def current(self, k: int) -> float | int | bool | str:
        """Point ``k``'s value as served now."""
        a = self.addresses[k]
        return codec.decode(a, bytes(self.data[a.byte : a.end]))

    def write_plan(
        self, start: int, data: bytes, bit: int | None
    ) -> tuple[list[tuple[int, float | int | bool | str]], str]:
        """Points a client write changes and their new values, or ([], reason) when refused.

        ``bit`` is set for a bit access (``data`` is one byte 0/1).
        """
        if bit is not None:
            bits = [k for k in self.bit_points.get(start, []) if self.addresses[k].bit == bit]
            if not bits:
                return [], f"{self.area}{self.db or ''} {start}.{bit} is not configured"
            return [(bits[0], bool(data[:1] and data[0] & 1))], ""
        end = start + len(data)
        if start < 0 or end > self.size:
            return [], "outside the configured span"
        new = bytearray(self.data)
        new[start:end] = data
        hit: list[int] = []
        for b in range(start, end):
            owner = int(self.owner[b])
            if owner == GAP:
                return [], f"byte {b} is not configured"
            for k in self.bit_points.get(b, [owner] if owner >= 0 else []):
                if k not in hit:
                    hit.append(k)
        for k in hit:
            a = self.addresses[k]
            if a.byte < start or a.end > end:
                return [], f"the write covers only part of {a}"
        out: list[tuple[int, float | int | bool | str]] = []
        for k in hit:
            a = self.addresses[k]
            out.append((k, codec.decode(a, bytes(new[a.byte : a.end]))))
        return out, ""
