"""Compile Modbus points into the fewest block reads.

A block is one read request: a table, a start and a count. Constraints per block:

* it never exceeds ``max_registers`` registers (``max_bits`` bits for co/di);
* it never reads across more than ``max_gap_registers`` (``max_gap_bits``) unneeded
  registers in a row between two wanted values;
* a value spanning several registers is read whole by one block.

:func:`plan_blocks` walks each table in address order and makes every block as long
as the constraints allow. :func:`minimum_requests` computes, independently, the
smallest number of blocks any split of the address-ordered points achieves (dynamic
programming), so a benchmark can compare the planner with the optimum.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from drivers.modbus.address import TABLES, ModbusAddress

#: Read function code of each table.
FUNCTION_CODES: dict[str, int] = {"co": 1, "di": 2, "hr": 3, "ir": 4}

#: A point handed to the planner: an address, or a (key, address) pair.
PlanPoint = ModbusAddress | tuple[Hashable, ModbusAddress]


@dataclass(frozen=True, slots=True)
class Block:
    """One read request and the points it serves (as (key, address) pairs, in address order)."""

    table: str
    start: int
    count: int
    points: tuple[tuple[Any, ModbusAddress], ...]

    @property
    def function_code(self) -> int:
        """Modbus read function code (co 1, di 2, hr 3, ir 4)."""
        return FUNCTION_CODES[self.table]

    @property
    def end(self) -> int:
        """One past the last register/bit read."""
        return self.start + self.count

    @property
    def addresses(self) -> list[ModbusAddress]:
        """The points' addresses, in the block's order."""
        return [a for _, a in self.points]


def _normalize(points: Iterable[PlanPoint]) -> dict[str, list[tuple[Any, ModbusAddress]]]:
    by_table: dict[str, list[tuple[Any, ModbusAddress]]] = {t: [] for t in TABLES}
    for p in points:
        key, addr = (p, p) if isinstance(p, ModbusAddress) else p
        by_table[addr.table].append((key, addr))
    for items in by_table.values():
        items.sort(key=lambda ka: (ka[1].offset, ka[1].end))
    return by_table


def _limits(
    table: str, max_registers: int, max_bits: int, max_gap_registers: int, max_gap_bits: int
) -> tuple[int, int]:
    return (max_bits, max_gap_bits) if table in ("co", "di") else (max_registers, max_gap_registers)


def _check_sizes(items: Sequence[tuple[Any, ModbusAddress]], limit: int) -> None:
    for _key, a in items:
        if a.count > limit:
            raise ValueError(
                f"{a} spans {a.count} registers, more than one read request may hold ({limit})"
            )


def _reach(
    items: Sequence[tuple[Any, ModbusAddress]], i: int, limit: int, gap: int
) -> tuple[int, int]:
    """Index one past the last point a block starting at point ``i`` can take, and the block's end."""
    start = items[i][1].offset
    end = items[i][1].end
    j = i + 1
    while j < len(items):
        a = items[j][1]
        if a.offset - end > gap or max(end, a.end) - start > limit:
            break
        end = max(end, a.end)
        j += 1
    return j, end


def plan_blocks(
    points: Iterable[PlanPoint],
    *,
    max_registers: int = 125,
    max_bits: int = 2000,
    max_gap_registers: int = 10,
    max_gap_bits: int = 64,
) -> list[Block]:
    """Group points into read blocks, table by table (co, di, ir, hr), each in address order.

    Raises ValueError when one point alone is larger than a request may be.
    """
    blocks: list[Block] = []
    for table, items in _normalize(points).items():
        limit, gap = _limits(table, max_registers, max_bits, max_gap_registers, max_gap_bits)
        _check_sizes(items, limit)
        i = 0
        while i < len(items):
            j, end = _reach(items, i, limit, gap)
            start = items[i][1].offset
            blocks.append(Block(table, start, end - start, tuple(items[i:j])))
            i = j
    return blocks


def minimum_requests(
    points: Iterable[PlanPoint],
    *,
    max_registers: int = 125,
    max_bits: int = 2000,
    max_gap_registers: int = 10,
    max_gap_bits: int = 64,
) -> int:
    """Fewest read requests that cover ``points`` under the same constraints.

    Exact over every split of each table's address-ordered points into consecutive
    runs (dynamic programming), which is the optimum whenever points do not overlap.
    """
    total = 0
    for table, items in _normalize(points).items():
        if not items:
            continue
        limit, gap = _limits(table, max_registers, max_bits, max_gap_registers, max_gap_bits)
        _check_sizes(items, limit)
        n = len(items)
        best = [0] * (n + 1)  # best[i]: fewest blocks for points i..n-1
        for i in range(n - 1, -1, -1):
            reach, _ = _reach(items, i, limit, gap)
            best[i] = 1 + min(best[k] for k in range(i + 1, reach + 1))
        total += best[0]
    return total
