"""A device's compiled read plan: per poll period, the ranges, the requests and the decoders.

:func:`compile_groups` turns the driver's points into :class:`ScanGroup` objects for the
PDU size granted at connect (the plan is rebuilt only when that size changes).
:func:`assemble` maps one scan's per-request results back onto the ranges, so that a
failed request or a failed variable marks BAD exactly the tags it carried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from drivers.s7.address import S7Address
from drivers.s7.codec import RangeDecoder
from drivers.s7.planner import Range, Request, plan


@dataclass(slots=True)
class CompiledRange:
    """A planned range with what a scan needs precomputed."""

    range: Range
    decoder: RangeDecoder
    numeric: np.ndarray  # tag indices of the decoder's numeric outputs (int32)
    strings: np.ndarray  # tag indices of its string outputs
    every: np.ndarray  # all tag indices of the range
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (request, item) in byte order
    out: slice = field(default_factory=lambda: slice(0, 0))  # its values in the scan array


@dataclass(slots=True)
class ScanGroup:
    """The ranges and requests of one poll period."""

    period: float
    ranges: list[CompiledRange]
    requests: list[Request]
    numeric: np.ndarray = field(init=False)  # tag indices of the per-scan value array
    next_due: float = 0.0

    def __post_init__(self) -> None:
        start = 0
        for cr in self.ranges:
            cr.out = slice(start, start + len(cr.numeric))
            start = cr.out.stop
        self.numeric = np.concatenate([cr.numeric for cr in self.ranges] or [np.zeros(0, np.int32)])


def compile_plan(
    items: Sequence[tuple[int, S7Address]],
    period: float,
    pdu_size: int,
    max_items: int,
    max_gap: int,
) -> ScanGroup:
    """One group's plan (``items`` are (tag index, address) pairs)."""
    ranges, requests = plan(items, pdu_size=pdu_size, max_items=max_items, max_gap_bytes=max_gap)
    compiled: list[CompiledRange] = []
    for r in ranges:
        decoder = RangeDecoder(r.start, r.addresses)
        keys = np.asarray([k for k, _ in r.points], dtype=np.int32)
        compiled.append(
            CompiledRange(r, decoder, keys[decoder.numeric], keys[decoder.strings], keys)
        )
    located: list[list[tuple[int, int, int]]] = [[] for _ in ranges]
    for ri, req in enumerate(requests):
        for pos, item in enumerate(req.items):
            located[item.range_index].append((item.start, ri, pos))
    for cr, places in zip(compiled, located, strict=True):
        cr.chunks = [(ri, pos) for _start, ri, pos in sorted(places)]
    return ScanGroup(period, compiled, requests)


def compile_groups(
    by_period: dict[float, list[tuple[int, S7Address]]], pdu_size: int, max_items: int, max_gap: int
) -> list[ScanGroup]:
    """One :class:`ScanGroup` per poll period, shortest first."""
    return [
        compile_plan(items, period, pdu_size, max_items, max_gap)
        for period, items in sorted(by_period.items())
    ]


def assemble(
    cr: CompiledRange,
    results: dict[tuple[int, int], bytes | str],
    failed: dict[int, str],
) -> tuple[bytes, str]:
    """(the range's bytes, '') or (b'', reason) from one scan's results.

    ``results`` maps (request, item) to the item's bytes or its S7 error text; ``failed``
    maps a request that failed as a whole to its reason.
    """
    parts: list[bytes] = []
    for ri, pos in cr.chunks:
        if ri in failed:
            return b"", failed[ri]
        value = results.get((ri, pos), "not read")
        if isinstance(value, str):
            return b"", f"{value} on {cr.range.where}"
        parts.append(value)
    return b"".join(parts), ""
