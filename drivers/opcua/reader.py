"""Read service helpers: point values (one-shot reads) and data types (once per connect)."""

from __future__ import annotations

import time

from asyncua import Client, ua

from .codec import (
    BAD,
    GOOD,
    status_name,
    status_quality,
    to_number,
    to_text,
    to_unix,
    variant_type_of,
)
from .collector import BatchCollector
from .points import OpcPoint

NODES_PER_READ = 1000  # common servers limit MaxNodesPerRead


async def _read(
    client: Client, points: list[OpcPoint], attr: ua.AttributeIds
) -> list[ua.DataValue]:
    out: list[ua.DataValue] = []
    for start in range(0, len(points), NODES_PER_READ):
        chunk = points[start : start + NODES_PER_READ]
        params = ua.ReadParameters(
            TimestampsToReturn=ua.TimestampsToReturn.Both,
            NodesToRead=[ua.ReadValueId(NodeId=p.nodeid, AttributeId=attr) for p in chunk],
        )
        out += await client.uaclient.read(params)
    return out


async def read_types(client: Client, points: list[OpcPoint]) -> None:
    """Set each point's variant type from its DataType attribute; set ``error`` for missing nodes."""
    if not points:
        return
    results = await _read(client, points, ua.AttributeIds.DataType)
    unknown: list[OpcPoint] = []
    for p, dv in zip(points, results, strict=True):
        if dv.StatusCode is not None and not dv.StatusCode.is_good():
            p.error = status_name(dv.StatusCode)
            continue
        p.vt = variant_type_of(dv.Value.Value if dv.Value is not None else None)
        if p.vt is None:
            unknown.append(p)
    if unknown:
        # abstract or vendor data types: the variant the server holds now tells the encoding
        for p, dv in zip(unknown, await _read(client, unknown, ua.AttributeIds.Value), strict=True):
            if dv.Value is not None and dv.Value.VariantType is not ua.VariantType.Null:
                p.vt = dv.Value.VariantType


async def read_points(client: Client, points: list[OpcPoint], col: BatchCollector) -> None:
    """Read the values of ``points`` into ``col`` (server source timestamps, status -> quality)."""
    results = await _read(client, points, ua.AttributeIds.Value)
    now = time.time()
    for p, dv in zip(points, results, strict=True):
        quality, reason = status_quality(dv.StatusCode)
        value = dv.Value.Value if dv.Value is not None else None
        src = dv.SourceTimestamp or dv.ServerTimestamp
        ts = (to_unix(src) if src is not None else 0.0) or now
        if quality != BAD and value is None:
            quality, reason = BAD, "no value (null)"
        if p.text:
            col.add(p.spec.index, to_text(value), quality, reason, ts, True)
            continue
        number = to_number(value)
        if quality != BAD and number != number:
            quality, reason = BAD, f"not a number: {type(value).__name__}"
        if quality == GOOD:
            col.add_good(p.spec.index, number, ts)
        else:
            col.add(p.spec.index, number, quality, reason, ts)
