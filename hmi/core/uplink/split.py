"""Bounded messages: value entries split into chunks whose encoded message stays under a cap.

The estimate is an upper bound of what either payload mode makes of one entry
``[name, value, quality, ts_ms, reason]``: the JSON mode spells it as
``{"tag":..,"value":..,"quality":..,"ts":..,"reason":..}`` (name + value + 90 bytes at
most, a float's ``repr`` being 24 characters at most), a Sparkplug metric with alias,
timestamp, value and quality property needs about 45. :data:`ENVELOPE` is kept free for
the message's own fields (station, device, route, ids, timestamps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ENTRY_OVERHEAD = 90  # bytes around the name in the largest (JSON) spelling of one entry
ENVELOPE = 1024  # bytes kept for the message envelope
AGG_OVERHEAD = 200  # an aggregate entry: min, max, avg, last, count, quality, ts


def entry_size(entry: Sequence[Any], overhead: int = ENTRY_OVERHEAD) -> int:
    """Upper bound of the encoded size of one value entry in bytes."""
    name = entry[0]
    size = len(name.encode("utf-8")) + overhead
    value = entry[1]
    if isinstance(value, str):
        size += 2 * len(value.encode("utf-8"))  # escapes
    reason = entry[4] if len(entry) > 4 else ""
    if isinstance(reason, str) and reason:
        size += 2 * len(reason.encode("utf-8"))
    return size


def split_entries(
    entries: list[list[Any]], cap_bytes: int, overhead: int = ENTRY_OVERHEAD
) -> list[list[list[Any]]]:
    """``entries`` in order, cut into chunks that each encode to at most ``cap_bytes``.

    Never drops an entry: a single entry larger than the cap still gets a chunk of
    its own (it could only be a huge string value; the caller logs it).
    """
    budget = max(1, cap_bytes - ENVELOPE)
    chunks: list[list[list[Any]]] = []
    cur: list[list[Any]] = []
    size = 0
    for e in entries:
        n = entry_size(e, overhead)
        if cur and size + n > budget:
            chunks.append(cur)
            cur, size = [], 0
        cur.append(e)
        size += n
    if cur:
        chunks.append(cur)
    return chunks
