"""Compile S7 points into the fewest read requests that fit the negotiated PDU.

Two steps:

1. **Ranges.** Per area (and DB number), points in byte order are merged into contiguous
   byte ranges while the unused bytes between two values stay within ``max_gap_bytes``
   and the range fits one request item (``pdu_size - 18`` bytes of data). A range is
   decoded as a unit. Only a single value larger than an item (a long STRING with a
   small PDU) makes a range that is split into several items.
2. **Requests.** Items are packed first-fit into read requests (one S7 "read var" job
   with up to ``max_items`` variables, 20 on every S7 CPU) under both budgets of the PDU:
   the request (10-byte header, 2 bytes, 12 bytes per item) and the reply (12-byte
   header, 2 bytes, per item 4 bytes + data + a fill byte after odd lengths).

:func:`lower_bound` gives the fewest requests any packing can achieve (item count and
reply bytes), so tests and benchmarks can compare the plan with it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from drivers.s7.address import AREA_CODES, S7Address

#: bytes around the data in a reply with one item: 12 header + 2 parameter + 4 item header
ITEM_OVERHEAD = 18
_REQ_FIXED, _REQ_PER_ITEM = 12, 12
_REPLY_FIXED, _REPLY_PER_ITEM = 14, 4

#: A point handed to the planner: an address, or a (key, address) pair.
PlanPoint = S7Address | tuple[Hashable, S7Address]


@dataclass(frozen=True, slots=True)
class Range:
    """Contiguous bytes of one area/DB read for the points they hold (in byte order)."""

    area: str
    db: int
    start: int
    size: int
    points: tuple[tuple[Any, S7Address], ...]

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.start + self.size

    @property
    def where(self) -> str:
        """Human-readable span for reasons, e.g. ``DB10 bytes 0-31``."""
        area = f"DB{self.db}" if self.area == "DB" else self.area
        return f"{area} bytes {self.start}-{self.end - 1}"

    @property
    def addresses(self) -> list[S7Address]:
        """The points' addresses, in the range's order."""
        return [a for _, a in self.points]


@dataclass(frozen=True, slots=True)
class Item:
    """One variable of a read request: ``size`` bytes of range ``range_index`` from ``start``."""

    range_index: int
    area_code: int
    db: int
    start: int
    size: int


@dataclass(frozen=True, slots=True)
class Request:
    """One read job (a single PDU exchange)."""

    items: tuple[Item, ...]

    @property
    def request_bytes(self) -> int:
        """Size of the request PDU."""
        return _REQ_FIXED + _REQ_PER_ITEM * len(self.items)

    @property
    def reply_bytes(self) -> int:
        """Size of the reply PDU when every item succeeds."""
        return _REPLY_FIXED + sum(_item_reply(it.size) for it in self.items)


def _item_reply(size: int) -> int:
    return _REPLY_PER_ITEM + size + (size & 1)


def max_item_bytes(pdu_size: int) -> int:
    """Largest data one request item may carry with this PDU size (even)."""
    return (pdu_size - ITEM_OVERHEAD) & ~1


def _by_area(points: Iterable[PlanPoint]) -> dict[tuple[str, int], list[tuple[Any, S7Address]]]:
    groups: dict[tuple[str, int], list[tuple[Any, S7Address]]] = {}
    for p in points:
        key, addr = (p, p) if isinstance(p, S7Address) else p
        groups.setdefault((addr.area, addr.db), []).append((key, addr))
    for items in groups.values():
        items.sort(key=lambda ka: (ka[1].byte, ka[1].end))
    order = list(AREA_CODES)
    return dict(sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])))


def plan_ranges(points: Iterable[PlanPoint], *, max_gap_bytes: int, max_range: int) -> list[Range]:
    """Merge points into byte ranges (see the module docstring)."""
    ranges: list[Range] = []
    for (area, db), items in _by_area(points).items():
        i = 0
        while i < len(items):
            start, end = items[i][1].byte, items[i][1].end
            j = i + 1
            while j < len(items):
                a = items[j][1]
                if a.byte - end > max_gap_bytes or max(end, a.end) - start > max_range:
                    break
                end = max(end, a.end)
                j += 1
            ranges.append(Range(area, db, start, end - start, tuple(items[i:j])))
            i = j
    return ranges


def _items(ranges: list[Range], chunk: int) -> list[Item]:
    out: list[Item] = []
    for k, r in enumerate(ranges):
        code = AREA_CODES[r.area]
        for off in range(0, r.size, chunk):
            out.append(Item(k, code, r.db, r.start + off, min(chunk, r.size - off)))
    return out


def plan_requests(ranges: list[Range], *, pdu_size: int, max_items: int = 20) -> list[Request]:
    """Pack the ranges' items first-fit into requests within the PDU's budgets."""
    open_: list[list[Item]] = []
    used: list[tuple[int, int]] = []  # (request bytes, reply bytes) of each open request
    for item in _items(ranges, max_item_bytes(pdu_size)):
        cost = _item_reply(item.size)
        for n, (req, rep) in enumerate(used):
            if (
                len(open_[n]) < max_items
                and req + _REQ_PER_ITEM <= pdu_size
                and rep + cost <= pdu_size
            ):
                open_[n].append(item)
                used[n] = (req + _REQ_PER_ITEM, rep + cost)
                break
        else:
            open_.append([item])
            used.append((_REQ_FIXED + _REQ_PER_ITEM, _REPLY_FIXED + cost))
    return [Request(tuple(items)) for items in open_]


def plan(
    points: Iterable[PlanPoint], *, pdu_size: int, max_items: int = 20, max_gap_bytes: int = 16
) -> tuple[list[Range], list[Request]]:
    """(ranges, requests) for ``points`` under the PDU size negotiated with the CPU."""
    if pdu_size <= ITEM_OVERHEAD + 1:
        raise ValueError(f"PDU size {pdu_size} cannot carry a read request")
    ranges = plan_ranges(points, max_gap_bytes=max_gap_bytes, max_range=max_item_bytes(pdu_size))
    return ranges, plan_requests(ranges, pdu_size=pdu_size, max_items=max_items)


def lower_bound(ranges: list[Range], *, pdu_size: int, max_items: int = 20) -> int:
    """Fewest requests any packing of these ranges' items could use."""
    items = _items(ranges, max_item_bytes(pdu_size))
    if not items:
        return 0
    reply = sum(_item_reply(it.size) for it in items)
    return max(
        math.ceil(len(items) / max_items),
        math.ceil(reply / (pdu_size - _REPLY_FIXED)),
        math.ceil(len(items) * _REQ_PER_ITEM / (pdu_size - _REQ_FIXED)),
    )
